//! Flags → [`SweepConfig`]: every flag validated, defaults from [`SweepConfig::new`] (or
//! `--simulate`'s demo ones), the engine's own rules ([`SweepConfig::validate`]) checked here
//! too with their errors naming the flag, before any library call.

use std::time::Duration;

use anyhow::{Result, bail};
use loadtest_client::Endpoint as ClientEndpoint;
use loadtest_run::{Arrival, AutoStop, LoadMode, Shard, Slo};
use loadtest_sweep::auto_stop::doubling_steps;
use loadtest_sweep::config::{SweepConfig, TargetConfig};
use loadtest_sweep::validate::{ConfigError, ConfigField};

use super::args::{Endpoint, LoadModeArg, SweepArgs};
use super::{input, values};
use crate::commands::common;

/// Demo defaults used by `--simulate` for flags the user did not give.
mod demo {
    pub const STEPS: &str = "1,4,16,64";
    pub const STEP_DURATION_S: f64 = 10.0;
    pub const WARMUP_S: f64 = 2.0;
    pub const INPUT_SIZE: &str = "normal:256:64:32:1024";
}

impl SweepArgs {
    /// `--quiet`.
    pub(crate) fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Validates the flags into a config. `sim_url` is the simulator's URL with `--simulate`.
    /// Flags not given keep [`SweepConfig::new`]'s defaults (or `--simulate`'s demo ones);
    /// the engine's own rules ([`SweepConfig::validate`]) are checked here too, their errors
    /// naming the flag.
    pub(crate) fn into_config(mut self, sim_url: Option<String>) -> Result<SweepConfig> {
        // A trace's own flags, and the ones it refuses, before the others are read.
        let trace = super::trace::take(&mut self)?;
        self.refuse_unsupported_habits()?;
        let demo = self.simulate;
        let base_url = match (self.base_url.take(), sim_url) {
            (Some(_), Some(_)) => bail!("--base-url and --simulate exclude each other"),
            (Some(url), None) => values::base_url("--base-url", &url)?,
            (None, Some(url)) => url,
            (None, None) => bail!("--base-url is required (or use --simulate)"),
        };
        let headers = self
            .headers
            .iter()
            .map(|h| common::header(h))
            .collect::<Result<Vec<_>>>()?;
        let api_key = common::api_key(self.api_key.as_deref(), &headers, common::process_env)?.key;
        let (steps_arg, rate_mode) = match self.request_rate.take() {
            Some(rate) if rate.trim().eq_ignore_ascii_case("inf") => bail!(
                "--request-rate inf sends every request at once, which is closed loop here: use --steps N (concurrent requests)"
            ),
            Some(rate) => (Some(rate), true),
            None => (self.steps.take(), false),
        };
        let flags = Flags {
            steps: if rate_mode {
                "--request-rate"
            } else {
                "--steps"
            },
            arrival: if self.burstiness.is_some() {
                "--burstiness"
            } else {
                "--arrival"
            },
        };
        let load_mode = match (
            rate_mode,
            self.load_mode.unwrap_or(LoadModeArg::Concurrency),
        ) {
            (true, _) | (false, LoadModeArg::Rate) => LoadMode::Rate,
            (false, LoadModeArg::Concurrency) => LoadMode::Concurrency,
        };
        let arrival_text = match self.burstiness {
            Some(b) => Some(format!("gamma:{b}")),
            None => self.arrival.clone(),
        };
        if arrival_text.is_some() && load_mode == LoadMode::Concurrency {
            bail!(
                "{} applies to --load-mode rate (or --request-rate) only",
                flags.arrival
            );
        }
        if self.slo.is_none() && self.slo_attainment.is_some() {
            bail!("--slo-attainment needs --slo");
        }
        let workload = input::Workload::take(&mut self)?;
        // The demo's synthetic prompts stand in only when no input was chosen.
        let input_chosen = self.input_mode.is_some()
            || self.prompt_text.is_some()
            || self.prompt_file.is_some()
            || workload.has_dataset();
        let other_input = self.input_mode.is_some()
            || self.prompt_text.is_some()
            || self.prompt_file.is_some()
            || self.input_size.is_some();
        let dataset = workload.dataset_source(
            other_input,
            self.seed.unwrap_or(0),
            self.max_output_tokens.as_deref(),
            self.turns == Some(loadtest_sweep::conversation::Turns::Dataset),
        )?;
        let (input, prompt_file) = match dataset {
            Some(input) => (input, None),
            // The trace gives each request's lengths (set below, once it is loaded).
            None if trace.is_some() => (
                loadtest_sweep::inputs::InputSource::Synthetic(loadtest_dist::DistSpec::Fixed(1)),
                None,
            ),
            None => input::source(
                self.input_mode,
                self.prompt_text.take(),
                self.prompt_file.take(),
                self.input_size
                    .take()
                    .or_else(|| (demo && !input_chosen).then(|| demo::INPUT_SIZE.to_owned())),
            )?,
        };

        let mut target = TargetConfig::new(&base_url);
        target.client.api_key = api_key;
        target.client.headers = headers;
        target.model = self.model.take();
        target.endpoint = ClientEndpoint::from(self.endpoint.unwrap_or(Endpoint::Chat));
        if self.metrics_credentials && (self.metrics_url.is_none() || self.no_metrics) {
            bail!("--metrics-credentials applies to --metrics-url");
        }
        if self.no_metrics {
            target.metrics_url = None;
        } else if let Some(url) = &self.metrics_url {
            target.metrics_url = Some(values::url_shape("--metrics-url", url)?);
            target.metrics_credentials = self.metrics_credentials;
        }
        let mut c = SweepConfig::new(target, input);
        c.prompt_file = prompt_file;
        workload.apply(&mut c)?;
        c.load_mode = load_mode;
        if let Some(text) = &arrival_text {
            c.arrival = text
                .parse::<Arrival>()
                .map_err(|e| anyhow::anyhow!("invalid {} {text:?}: {e}", flags.arrival))?;
        }
        if let Some(text) = &self.slo {
            let mut slo = text
                .parse::<Slo>()
                .map_err(|e| anyhow::anyhow!("invalid --slo {text:?}: {e}"))?;
            slo.attainment = self.slo_attainment.unwrap_or(slo.attainment);
            c.slo = Some(slo);
        }
        c.knee.min_throughput_gain = self
            .knee_throughput_gain
            .unwrap_or(c.knee.min_throughput_gain);
        c.knee.max_latency_growth = self
            .knee_latency_growth
            .unwrap_or(c.knee.max_latency_growth);
        c.max_inflight = self.max_inflight.unwrap_or(c.max_inflight);
        c.connect_rate_per_s = self.connect_rate.unwrap_or(c.connect_rate_per_s);
        if let Some(text) = self.start_at.take() {
            c.start_at = Some(
                loadtest_sweep::start_at::parse_start_at(&text)
                    .map_err(|e| anyhow::anyhow!("invalid --start-at: {e}"))?,
            );
        }
        c.shard = match (self.shard.take(), self.shards) {
            (None, None) => c.shard,
            (None, Some(_)) => bail!("--shards applies to --shard auto"),
            (Some(text), shards) if text.trim() == "auto" => {
                Shard::from_env(common::process_env, shards)
                    .map_err(|e| anyhow::anyhow!("invalid --shard auto: {e}"))?
            }
            (Some(_), Some(_)) => {
                bail!("--shards applies to --shard auto (--shard I/N names both)")
            }
            (Some(text), None) => text
                .parse::<Shard>()
                .map_err(|e| anyhow::anyhow!("invalid --shard: {e}"))?,
        };
        // Shard 0 reads the server and the GPUs for the whole run; the others only send load,
        // unless told to (a shard on its own GPU node, or a --metrics-url of its own replica).
        let reads_telemetry = c.shard.index() == 0;
        if !reads_telemetry && !self.scrape_metrics {
            c.target.metrics_url = None;
        }
        let steps_text = steps_arg.or_else(|| demo.then(|| demo::STEPS.to_owned()));
        match steps_text.as_deref().map(str::trim) {
            None => {}
            Some("auto") if load_mode == LoadMode::Rate => bail!(
                "--steps auto applies to --load-mode concurrency only: give rate mode a list of requests/s"
            ),
            Some("auto") => {
                c.steps = doubling_steps(c.max_inflight);
                c.auto_stop = Some(AutoStop::default());
            }
            Some(text) => c.steps = values::steps(flags.steps, text, load_mode)?,
        }
        let seconds = |flag: &str, value: Option<f64>, default: Duration| match value {
            Some(v) => values::seconds(flag, v),
            None => Ok(default),
        };
        c.step_duration = seconds(
            "--step-duration-s",
            self.step_duration_s
                .or(demo.then_some(demo::STEP_DURATION_S)),
            c.step_duration,
        )?;
        c.warmup = seconds(
            "--warmup-s",
            self.warmup_s.or(demo.then_some(demo::WARMUP_S)),
            c.warmup,
        )?;
        c.ramp = seconds("--ramp-s", self.ramp_s, c.ramp)?;
        c.num_prompts = self.num_prompts;
        if let Some(turns) = self.turns {
            let think_time = match self.think_time_s.as_deref() {
                Some(text) => text
                    .parse()
                    .map_err(|e| anyhow::anyhow!("invalid --think-time-s {e}"))?,
                None => loadtest_sweep::conversation::ThinkTime::NONE,
            };
            c.conversations =
                Some(loadtest_sweep::conversation::Conversations { turns, think_time });
        }
        if let Some(n) = self.warmup_requests {
            c.warmup_requests = Some(n);
            c.warmup = Duration::ZERO; // the warmup is those requests
        }
        c.cooldown = seconds("--cooldown-s", self.cooldown_s, c.cooldown)?;
        c.poll_interval = seconds("--poll-interval-s", self.poll_interval_s, c.poll_interval)?;
        c.gpu.interval = seconds(
            "--gpu-poll-interval-s",
            self.gpu_poll_interval_s,
            c.gpu.interval,
        )?;
        let client = &mut c.target.client;
        client.request_timeout = seconds("--timeout-s", self.timeout_s, client.request_timeout)?;
        client.connect_timeout = client.connect_timeout.min(client.request_timeout);
        client.transport = self.http_client.unwrap_or(client.transport);
        if let Some(text) = &self.max_output_tokens {
            c.max_output_tokens = values::dist("--max-output-tokens", text)?;
        }
        c.ignore_eos = self.ignore_eos;
        c.seed = self.seed.unwrap_or(c.seed);
        // The command line polls GPUs unless told not to (a library caller opts in).
        c.gpu.enabled = !self.no_gpu && (reads_telemetry || self.gpu);
        if let Some(path) = self.nvidia_smi.take() {
            c.gpu.nvidia_smi = path;
        }
        if let Some(dir) = &self.output_dir
            && dir.exists()
            && !dir.is_dir()
        {
            bail!(
                "invalid --output-dir {:?}: it is a file, not a folder",
                dir.display().to_string()
            );
        }
        if let Some(dir) = &self.run_dir
            && dir.exists()
        {
            bail!(
                "invalid --run-dir {:?}: it already exists (a run folder is never reused: give a new path)",
                dir.display().to_string()
            );
        }
        c.output_dir = self.output_dir.take().unwrap_or(c.output_dir);
        c.run_name = self.run_name.take().unwrap_or(c.run_name);
        c.run_dir = self.run_dir.take();
        c.max_error_rate = self.max_error_rate;
        if let Some(text) = &self.extra_body {
            c.extra_body = values::extra_body(text)?;
        }
        for (flag, key, value) in [
            ("--temperature", "temperature", self.temperature),
            ("--top-p", "top_p", self.top_p),
        ] {
            let Some(value) = value else { continue };
            if !value.is_finite() || value < 0.0 {
                bail!("invalid {flag} {value}: expected a number >= 0");
            }
            if c.extra_body.contains_key(key) {
                bail!("{flag} and --extra-body's {key:?} both set {key}: give one");
            }
            c.extra_body
                .insert(key.to_owned(), serde_json::json!(value));
        }
        if let Some(trace) = trace {
            trace.apply(&mut c)?;
        }
        super::gating::apply(&self, &mut c)?;
        c.validate().map_err(|e| flags.error(&e))?;
        Ok(c)
    }

    /// `vllm bench serve` flags whose meaning differs here (an error naming ours), and what
    /// `--num-prompts` cannot be combined with.
    fn refuse_unsupported_habits(&self) -> Result<()> {
        // --num-prompts: a step ends when its requests have finished, not after a time.
        let count = self.num_prompts.is_some();
        for (given, flag, why) in [
            (
                self.step_duration_s.is_some(),
                "--step-duration-s",
                "a step ends when its N requests have finished, not after a time (--timeout-s bounds each request)",
            ),
            (
                self.ramp_s.is_some(),
                "--ramp-s",
                "a count step has no ramp: it starts at its level",
            ),
        ] {
            if count && given {
                bail!("--num-prompts and {flag} cannot be combined: {why}; give one");
            }
        }
        if self.warmup_requests.is_some() {
            if !count {
                bail!(
                    "--warmup-requests applies with --num-prompts only: time steps take --warmup-s"
                );
            }
            if self.warmup_s.is_some() {
                bail!(
                    "--warmup-requests and --warmup-s cannot be combined: the warmup is N requests or a time; give one"
                );
            }
        }
        // --dataset-name / --dataset-path map onto --dataset (or are refused, naming it) in
        // `input::Workload::take`.
        Ok(())
    }

    /// True when an `Authorization` header makes the key in `OPENAI_API_KEY` / `VLLM_API_KEY`
    /// unused (worth a note: the user may expect the key to be sent).
    pub(super) fn env_key_ignored(&self) -> bool {
        common::env_key_ignored(self.api_key.as_deref(), &self.headers, common::process_env)
    }
}

/// The flags that set a config field in this run (two fields have two possible flags).
struct Flags {
    steps: &'static str,
    arrival: &'static str,
}

impl Flags {
    /// An engine rule's error in the command line's words.
    fn error(&self, e: &ConfigError) -> anyhow::Error {
        use ConfigField as F;
        let flag = match e.field {
            F::Steps | F::AutoStop => self.steps,
            F::StepDuration => "--step-duration-s",
            F::MaxInflight => "--max-inflight",
            F::ConnectRate => "--connect-rate",
            F::StartAt => "--start-at",
            F::RequestTimeout => "--timeout-s",
            F::PollInterval => "--poll-interval-s",
            F::GpuInterval => "--gpu-poll-interval-s",
            F::Arrival => self.arrival,
            F::SloAttainment => "--slo-attainment",
            F::KneeThroughputGain => "--knee-throughput-gain",
            F::KneeLatencyGrowth => "--knee-latency-growth",
            F::MaxErrorRate => "--max-error-rate",
            F::RunName => "--run-name",
            F::Model => "--model",
            F::Endpoint => "--endpoint",
            F::ExtraBody => "--extra-body",
            F::NumPrompts => "--num-prompts",
            F::WarmupRequests => "--warmup-requests",
            F::Turns => "--turns",
        };
        let expected = e
            .expected
            .replace("max_inflight", "--max-inflight")
            .replace("the prompt file", "--prompt-file")
            .replace("the chat endpoint", "--endpoint chat")
            .replace("num_prompts", "--num-prompts")
            .replace("endpoint completions", "--endpoint completions")
            .replace("with a trace", "with --arrival trace:");
        anyhow::anyhow!("invalid {flag} {}: {expected}", e.value)
    }
}

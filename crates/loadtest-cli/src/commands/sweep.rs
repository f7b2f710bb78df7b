//! The main job: `vllm-loadtest [FLAGS]` runs a step sweep. Flags are parsed by clap into
//! [`SweepArgs`] (raw), then validated into a [`SweepConfig`] before any library call.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use loadtest_client::Endpoint as ClientEndpoint;
use loadtest_dist::DistSpec;
use loadtest_run::{Arrival, AutoStop, LoadMode, Slo};
use loadtest_sweep::auto_stop::doubling_steps;
use loadtest_sweep::config::{SweepConfig, TargetConfig};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::timeline::Timeline;
use loadtest_sweep::validate::{ConfigError, ConfigField};
use loadtest_sweep::{CancelToken, LiveCounters, RunOptions, SweepError, run_sweep};

use crate::commands::signals::{self, EXIT_INTERRUPTED};
use crate::commands::{live, progress};
use crate::output;

pub(crate) use args::{Endpoint, InputMode, LoadModeArg, SweepArgs};

mod args;
mod command_line;
mod input;
mod values;
mod verdict;

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
            .map(|h| super::common::header(h))
            .collect::<Result<Vec<_>>>()?;
        let api_key = super::common::api_key(
            self.api_key.as_deref(),
            &headers,
            super::common::process_env,
        )?
        .key;
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
        // The demo's synthetic prompts stand in only when no input was chosen.
        let input_chosen =
            self.input_mode.is_some() || self.prompt_text.is_some() || self.prompt_file.is_some();
        let (input, prompt_file) = input::source(
            self.input_mode,
            self.prompt_text.take(),
            self.prompt_file.take(),
            self.input_size
                .take()
                .or_else(|| (demo && !input_chosen).then(|| demo::INPUT_SIZE.to_owned())),
        )?;

        let mut target = TargetConfig::new(&base_url);
        target.client.api_key = api_key;
        target.client.headers = headers;
        target.model = self.model.take();
        target.endpoint = ClientEndpoint::from(self.endpoint.unwrap_or(Endpoint::Chat));
        if self.no_metrics {
            target.metrics_url = None;
        } else if let Some(url) = &self.metrics_url {
            target.metrics_url = Some(values::url_shape("--metrics-url", url)?);
        }
        let mut c = SweepConfig::new(target, input);
        c.prompt_file = prompt_file;
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
        if let Some(text) = &self.max_output_tokens {
            c.max_output_tokens = values::dist("--max-output-tokens", text)?;
        }
        c.ignore_eos = self.ignore_eos;
        c.seed = self.seed.unwrap_or(c.seed);
        // The command line polls GPUs unless told not to (a library caller opts in).
        c.gpu.enabled = !self.no_gpu;
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
        c.validate().map_err(|e| flags.error(&e))?;
        Ok(c)
    }

    /// `vllm bench serve` flags whose meaning differs here: an error naming ours.
    fn refuse_unsupported_habits(&self) -> Result<()> {
        if self.num_prompts.is_some() {
            bail!(
                "--num-prompts is not supported: each step here is a time window, so set its length with --step-duration-s S (and the load with --steps or --request-rate)"
            );
        }
        if self.dataset_path.is_some() {
            bail!(
                "--dataset-path is not supported: give prompts with --prompt-file FILE (JSONL rows: text, or {{\"prompt\"}} / {{\"messages\"}} objects)"
            );
        }
        match self.dataset_name.as_deref() {
            None | Some("random") => Ok(()),
            Some(other) => bail!(
                "--dataset-name {:?} is not supported: use --input-size N for random prompts, or --prompt-file FILE for your own",
                loadtest_client::sanitize_error(other)
            ),
        }
    }

    /// True when an `Authorization` header makes the key in `OPENAI_API_KEY` / `VLLM_API_KEY`
    /// unused (worth a note: the user may expect the key to be sent).
    fn env_key_ignored(&self) -> bool {
        super::common::env_key_ignored(
            self.api_key.as_deref(),
            &self.headers,
            super::common::process_env,
        )
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
        };
        let expected = e
            .expected
            .replace("max_inflight", "--max-inflight")
            .replace("the prompt file", "--prompt-file")
            .replace("the chat endpoint", "--endpoint chat");
        anyhow::anyhow!("invalid {flag} {}: {expected}", e.value)
    }
}

/// Runs the sweep: `--simulate` first starts the simulator; Ctrl-C / SIGTERM stop the run
/// cleanly (exit 130), a second one exits at once.
pub(crate) fn run(args: SweepArgs) -> Result<ExitCode> {
    let open_files = crate::commands::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args, open_files))
}

/// File descriptors kept aside for files, scrapes, nvidia-smi and the runtime.
const RESERVED_FDS: u64 = 64;

/// Refuses a load whose sockets cannot fit under the open-file limit (§12).
fn check_open_files(config: &SweepConfig, limit: Option<u64>, simulate: bool) -> Result<()> {
    let Some(limit) = limit else { return Ok(()) };
    let peak = match config.load_mode {
        LoadMode::Concurrency => config.steps.iter().copied().fold(0.0, f64::max).ceil() as u64,
        LoadMode::Rate => config.max_inflight as u64,
    };
    let peak = peak.min(config.max_inflight as u64);
    // With --simulate both ends of every connection live in this process.
    let needed = peak * if simulate { 2 } else { 1 } + RESERVED_FDS;
    if needed > limit {
        bail!(
            "a peak of {peak} concurrent streams needs about {needed} open files, but the limit is {limit} (raise it with `ulimit -n`, or lower --steps / --max-inflight)"
        );
    }
    Ok(())
}

async fn run_async(args: SweepArgs, open_files: Option<u64>) -> Result<ExitCode> {
    let quiet = args.quiet;
    let simulate = args.simulate;
    if args.env_key_ignored() && !quiet {
        output::note(super::common::ENV_KEY_IGNORED_NOTE);
    }
    // Validate every flag before starting anything (the simulator's port is filled in after).
    let mut config = args.into_config(simulate.then(|| SIM_PLACEHOLDER_URL.to_owned()))?;
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    config.command_line =
        command_line::redacted("vllm-loadtest", argv.get(1..).unwrap_or_default());
    check_open_files(&config, open_files, simulate)?;
    if !quiet {
        for advice in clamp_advice(&config) {
            output::note(&format!("warning: {advice}"));
        }
    }
    let sim = if simulate {
        let sim = loadtest_sim::Simulator::start(loadtest_sim::SimConfig::ephemeral())
            .await
            .context("cannot start the simulator")?;
        let url = sim.base_url();
        if config.target.metrics_url.is_some() {
            config.target.metrics_url = Some(format!("{url}/metrics"));
        }
        config.target.client.base_url = url;
        if !quiet {
            output::note(&format!("simulator listening on {}", sim.base_url()));
        }
        Some(sim)
    } else {
        None
    };
    let cancel = CancelToken::new();
    let signals = tokio::spawn(signals::watch(cancel.clone(), quiet));
    let live = Arc::new(LiveCounters::default());
    let progress = (!quiet).then(|| {
        let timeline = Timeline::new(
            &config.steps,
            config.warmup,
            config.ramp,
            config.step_duration,
            config.cooldown,
        );
        tokio::spawn(live::show(timeline, Arc::clone(&live)))
    });
    let options = RunOptions {
        cancel: cancel.clone(),
        live,
        sink: None,
    };
    let result = run_sweep(config.clone(), options).await;
    if let Some(task) = progress {
        // It prints every step's line, then ends (the run is over).
        let _ = task.await;
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(SweepError::Interrupted) => {
            // Ctrl-C / SIGTERM during preflight: no run folder was made.
            signals.abort();
            if !quiet {
                output::note("interrupted before the run began: nothing was written");
            }
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Err(err) => return Err(err.into()),
    };
    if quiet {
        // Scripts read the run folder's path from stdout.
        output::line(&outcome.run_dir.display().to_string());
    } else {
        progress::print_outcome(&outcome);
    }
    // A signal that came after the drain (while outputs were written) still counts; the
    // watcher stays up until here so that a late SIGTERM cannot kill the process mid-write.
    signals.abort();
    if outcome.interrupted || cancel.is_cancelled() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    match verdict::failure(&outcome, config.max_error_rate) {
        Some(why) => {
            output::note(&format!("error: {why}"));
            Ok(ExitCode::from(verdict::EXIT_FAILURES))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

/// Warnings for token-count specs whose draws mostly hit a bound (a misread spec).
fn clamp_advice(config: &SweepConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |flag: &str, spec: &DistSpec| {
        if let Some(advice) = spec.clamp_check().advice() {
            // The advice starts with the spec itself.
            out.push(format!("{flag} {advice}"));
        }
    };
    if let InputSource::Synthetic(spec) = &config.input {
        check("--input-size", spec);
    }
    check("--max-output-tokens", &config.max_output_tokens);
    out
}

/// Stands for the simulator's URL while flags are validated.
const SIM_PLACEHOLDER_URL: &str = "http://127.0.0.1:0";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn args(f: impl FnOnce(&mut SweepArgs)) -> SweepArgs {
        let mut a = SweepArgs {
            base_url: Some("http://127.0.0.1:1".into()),
            prompt_text: Some("hi".into()),
            ..SweepArgs::default()
        };
        f(&mut a);
        a
    }

    fn err(a: SweepArgs) -> String {
        format!("{:#}", a.into_config(None).unwrap_err())
    }

    #[test]
    fn defaults_are_the_seeds() {
        let c = args(|_| {}).into_config(None).unwrap();
        assert_eq!(c.steps, vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!(c.step_duration, Duration::from_secs(60));
        assert_eq!(c.warmup, Duration::from_secs(10));
        assert_eq!(c.max_output_tokens, DistSpec::Fixed(128));
        assert_eq!(c.max_inflight, 4096);
        assert_eq!(c.target.client.request_timeout, Duration::from_secs(600));
        assert_eq!(
            c.target.metrics_url.as_deref(),
            Some("http://127.0.0.1:1/metrics")
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert_eq!(
            err(args(|a| a.input_size = Some("normal:10:x:1:5".into()))),
            "--prompt-text, --prompt-file and --input-size exclude each other: give one (or pick with --input-mode)"
        );
        assert_eq!(
            err(args(|a| {
                a.prompt_text = None;
                a.input_size = Some("normal:10:x:1:5".into());
            })),
            "invalid --input-size \"normal:10:x:1:5\": std \"x\" is not a number (expected normal:<mean>:<std>:<min>:<max>)"
        );
        assert!(err(args(|a| a.steps = Some("1,x".into()))).starts_with("invalid --steps"));
        assert!(
            err(args(|a| a.base_url = Some("localhost:8000".into())))
                .starts_with("invalid --base-url")
        );
        assert!(
            err(args(|a| a.step_duration_s = Some(0.0))).starts_with("invalid --step-duration-s")
        );
        assert!(err(args(|a| a.headers = vec!["nocolon".into()])).starts_with("invalid --header"));
        assert!(err(args(|a| a.base_url = None)).starts_with("--base-url is required"));
        assert!(err(args(|a| a.steps = Some("8000".into()))).contains("--max-inflight"));
        assert!(err(args(|a| a.prompt_text = None)).starts_with("no input given"));
    }

    #[test]
    fn simulate_has_demo_defaults() {
        let a = SweepArgs {
            simulate: true,
            ..SweepArgs::default()
        };
        let c = a.into_config(Some("http://127.0.0.1:9".into())).unwrap();
        assert_eq!(c.steps, vec![1.0, 4.0, 16.0, 64.0]);
        assert_eq!(c.step_duration, Duration::from_secs(10));
        assert!(matches!(c.input, InputSource::Synthetic(_)));
    }
}

//! The main job: `vllm-loadtest [FLAGS]` runs a step sweep. Flags are parsed by clap into
//! [`SweepArgs`] (raw), then validated into a [`SweepConfig`] before any library call.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use loadtest_client::{ClientConfig, Endpoint as ClientEndpoint, Prompt, StreamRequest};
use loadtest_dist::DistSpec;
use loadtest_sweep::arrival::Arrival;
use loadtest_sweep::auto_stop::{AutoStop, doubling_steps};
use loadtest_sweep::config::{GpuSettings, KneeRule, LoadMode, SweepConfig, TargetConfig};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::slo::Slo;
use loadtest_sweep::timeline::Timeline;
use loadtest_sweep::{CancelToken, LiveCounters, run_sweep};

use crate::commands::{live, progress};
use crate::output;

/// Demo defaults used by `--simulate` for flags the user did not give.
mod demo {
    pub const STEPS: &str = "1,4,16,64";
    pub const STEP_DURATION_S: f64 = 10.0;
    pub const WARMUP_S: f64 = 2.0;
    pub const INPUT_SIZE: &str = "normal:256:64:32:1024";
}

/// `--input-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InputMode {
    /// The same prompt every time (`--prompt-text`).
    FixedPrompt,
    /// Prompts from a JSONL file (`--prompt-file`).
    PromptFile,
    /// Generated prompts of `--input-size` tokens.
    Synthetic,
}

/// `--endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Endpoint {
    /// `/v1/chat/completions`.
    Chat,
    /// `/v1/completions`.
    Completions,
}

/// `--load-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LoadModeArg {
    /// Step values are concurrent in-flight requests (closed loop).
    Concurrency,
    /// Step values are arrival rates in requests/s (open loop).
    Rate,
}

/// The sweep's flags, as typed by the user (§4). Options stay `None` when not given, so the
/// validation step can tell a default from a choice (and apply `--simulate`'s demo defaults).
#[derive(Debug, Default, clap::Args)]
pub(crate) struct SweepArgs {
    /// Server root, e.g. http://localhost:8801 (required unless --simulate).
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Bearer token (also read from OPENAI_API_KEY or VLLM_API_KEY); never written anywhere.
    #[arg(long, value_name = "KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Model name [default: the first of GET /v1/models].
    #[arg(long)]
    model: Option<String>,
    /// Comma list of load levels: concurrency, or requests/s with --load-mode rate; `auto`
    /// doubles concurrency from 1 until the knee, the SLO or 5 % errors [default: 1,2,4,8].
    #[arg(long, value_name = "LIST")]
    steps: Option<String>,
    /// Measure window per step, seconds [default: 60].
    #[arg(long, value_name = "S")]
    step_duration_s: Option<f64>,
    /// Warmup at the first step's level, seconds; excluded from statistics [default: 10].
    #[arg(long, value_name = "S")]
    warmup_s: Option<f64>,
    /// Linear ramp from the previous level before each window, seconds [default: 0].
    #[arg(long, value_name = "S")]
    ramp_s: Option<f64>,
    /// Pause with no new requests after each window, seconds [default: 0].
    #[arg(long, value_name = "S")]
    cooldown_s: Option<f64>,
    /// Where prompts come from [default: implied by --prompt-text, --prompt-file or --input-size].
    #[arg(long, value_enum)]
    input_mode: Option<InputMode>,
    /// The prompt for fixed-prompt mode.
    #[arg(long, value_name = "TEXT")]
    prompt_text: Option<String>,
    /// JSONL prompts: plain text, a JSON string, or {"prompt"|"text"|"messages": …} per row.
    #[arg(long, value_name = "FILE")]
    prompt_file: Option<PathBuf>,
    /// Prompt length in tokens for synthetic mode: N or a distribution (normal:…, lognormal:…, uniform:…).
    #[arg(long, value_name = "DIST")]
    input_size: Option<String>,
    /// max_tokens per request: N or a distribution [default: 128].
    #[arg(long, value_name = "DIST")]
    max_output_tokens: Option<String>,
    /// Seed of all randomness [default: 0].
    #[arg(long)]
    seed: Option<u64>,
    /// Per-request deadline, connect to last byte, seconds [default: 600].
    #[arg(long, value_name = "S")]
    timeout_s: Option<f64>,
    /// Hard cap on in-flight requests [default: 4096].
    #[arg(long, value_name = "N")]
    max_inflight: Option<usize>,
    /// /metrics scrape interval, seconds [default: 1].
    #[arg(long, value_name = "S")]
    poll_interval_s: Option<f64>,
    /// nvidia-smi sample interval, seconds [default: 1].
    #[arg(long, value_name = "S")]
    gpu_poll_interval_s: Option<f64>,
    /// Parent folder of run folders [default: results].
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Run folder prefix: the folder is OUTPUT-DIR/RUN-NAME_TIMESTAMP (UTC) [default: run].
    #[arg(long, value_name = "NAME")]
    run_name: Option<String>,
    /// Start the built-in simulator on a loopback port and target it (a ~1 minute demo sweep
    /// when no other flags are given).
    #[arg(long)]
    simulate: bool,
    /// OpenAI endpoint [default: chat].
    #[arg(long, value_enum)]
    endpoint: Option<Endpoint>,
    /// Extra request header 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'K: V'")]
    headers: Vec<String>,
    /// Send ignore_eos (vLLM extension): outputs are exactly max_tokens long.
    #[arg(long)]
    ignore_eos: bool,
    /// How step values are read [default: concurrency].
    #[arg(long, value_enum)]
    load_mode: Option<LoadModeArg>,
    /// Rate mode's arrival process: poisson, constant or gamma:BURSTINESS [default: poisson].
    #[arg(long, value_name = "PROCESS")]
    arrival: Option<String>,
    /// Service-level objectives for goodput, e.g. ttft=500ms,tpot=50ms,e2e=10s,p99:ttft=1s.
    #[arg(long, value_name = "LIST")]
    slo: Option<String>,
    /// Share of a step's requests that must meet the per-request objectives [default: 0.9].
    #[arg(long, value_name = "FRACTION")]
    slo_attainment: Option<f64>,
    /// Knee: throughput gain below which the curve has flattened [default: 0.10].
    #[arg(long, value_name = "FRACTION")]
    knee_throughput_gain: Option<f64>,
    /// Knee: e2e p50 growth above which latency is climbing [default: 0.50].
    #[arg(long, value_name = "FRACTION")]
    knee_latency_growth: Option<f64>,
    /// nvidia-smi binary [default: nvidia-smi on PATH].
    #[arg(long, value_name = "PATH")]
    nvidia_smi: Option<PathBuf>,
    /// Do not poll nvidia-smi.
    #[arg(long)]
    no_gpu: bool,
    /// Scrape this URL instead of BASE-URL/metrics.
    #[arg(long, value_name = "URL")]
    metrics_url: Option<String>,
    /// Do not scrape /metrics.
    #[arg(long)]
    no_metrics: bool,
    /// Exit 1 when more than this share (0–1) of measured requests failed.
    #[arg(long, value_name = "FRACTION")]
    max_error_rate: Option<f64>,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

impl SweepArgs {
    /// Validates the flags into a config. `sim_url` is the simulator's URL with `--simulate`.
    pub(crate) fn into_config(self, sim_url: Option<String>) -> Result<SweepConfig> {
        let demo = self.simulate;
        let base_url = match (self.base_url, sim_url) {
            (Some(_), Some(_)) => bail!("--base-url and --simulate exclude each other"),
            (Some(url), None) => validate_url("--base-url", &url)?,
            (None, Some(url)) => url,
            (None, None) => bail!("--base-url is required (or use --simulate)"),
        };
        let api_key = self
            .api_key
            .or_else(|| std::env::var("OPENAI_API_KEY").ok())
            .or_else(|| std::env::var("VLLM_API_KEY").ok())
            .filter(|k| !k.is_empty());
        let headers = self
            .headers
            .iter()
            .map(|h| parse_header(h))
            .collect::<Result<Vec<_>>>()?;
        let steps_text = self
            .steps
            .unwrap_or_else(|| if demo { demo::STEPS } else { "1,2,4,8" }.to_owned());
        let load_mode = match self.load_mode.unwrap_or(LoadModeArg::Concurrency) {
            LoadModeArg::Concurrency => LoadMode::Concurrency,
            LoadModeArg::Rate => LoadMode::Rate,
        };
        let arrival = match (&self.arrival, load_mode) {
            (None, _) => Arrival::Poisson,
            (Some(text), LoadMode::Rate) => text
                .parse::<Arrival>()
                .map_err(|e| anyhow::anyhow!("invalid --arrival {text:?}: {e}"))?,
            (Some(_), LoadMode::Concurrency) => {
                bail!("--arrival applies to --load-mode rate only")
            }
        };
        let slo = match &self.slo {
            None => None,
            Some(text) => {
                let mut slo = text
                    .parse::<Slo>()
                    .map_err(|e| anyhow::anyhow!("invalid --slo {text:?}: {e}"))?;
                if let Some(attainment) = self.slo_attainment {
                    fraction("--slo-attainment", attainment)?;
                    slo.attainment = attainment;
                }
                Some(slo)
            }
        };
        if self.slo.is_none() && self.slo_attainment.is_some() {
            bail!("--slo-attainment needs --slo");
        }
        let mut knee = KneeRule::default();
        if let Some(gain) = self.knee_throughput_gain {
            knee.min_throughput_gain = fraction("--knee-throughput-gain", gain)?;
        }
        if let Some(growth) = self.knee_latency_growth {
            if !(growth.is_finite() && growth > 0.0) {
                bail!(
                    "invalid --knee-latency-growth {growth}: expected a number > 0 (0.5 = +50 %)"
                );
            }
            knee.max_latency_growth = growth;
        }
        let auto = steps_text.trim() == "auto";
        if auto && load_mode == LoadMode::Rate {
            bail!(
                "--steps auto applies to --load-mode concurrency only: give rate mode a list of requests/s"
            );
        }
        let max_inflight = self.max_inflight.unwrap_or(4096);
        let steps = if auto {
            doubling_steps(max_inflight)
        } else {
            parse_steps(&steps_text, load_mode)?
        };
        let step_duration = seconds(
            "--step-duration-s",
            self.step_duration_s
                .unwrap_or(if demo { demo::STEP_DURATION_S } else { 60.0 }),
            false,
        )?;
        let warmup = seconds(
            "--warmup-s",
            self.warmup_s
                .unwrap_or(if demo { demo::WARMUP_S } else { 10.0 }),
            true,
        )?;
        let ramp = seconds("--ramp-s", self.ramp_s.unwrap_or(0.0), true)?;
        let cooldown = seconds("--cooldown-s", self.cooldown_s.unwrap_or(0.0), true)?;
        // The demo's synthetic prompts stand in only when no input was chosen.
        let input_chosen =
            self.input_mode.is_some() || self.prompt_text.is_some() || self.prompt_file.is_some();
        let input = input_source(
            self.input_mode,
            self.prompt_text,
            self.prompt_file,
            self.input_size
                .or_else(|| (demo && !input_chosen).then(|| demo::INPUT_SIZE.to_owned())),
        )?;
        let max_output_tokens = dist(
            "--max-output-tokens",
            self.max_output_tokens.as_deref().unwrap_or("128"),
        )?;
        let timeout = seconds("--timeout-s", self.timeout_s.unwrap_or(600.0), false)?;
        let endpoint = match self.endpoint.unwrap_or(Endpoint::Chat) {
            Endpoint::Chat => ClientEndpoint::Chat,
            Endpoint::Completions => ClientEndpoint::Completions,
        };
        if endpoint == ClientEndpoint::Completions
            && let InputSource::PromptFile(rows) = &input
            && rows.iter().any(|row| {
                StreamRequest::new(ClientEndpoint::Completions, Arc::from("m"), row.clone())
                    .is_err()
            })
        {
            bail!(
                "--endpoint completions cannot send the chat \"messages\" rows of --prompt-file: use --endpoint chat"
            );
        }
        if max_inflight == 0 {
            bail!("invalid --max-inflight 0: expected a whole number >= 1");
        }
        if let Some(top) = steps.iter().copied().reduce(f64::max)
            && load_mode == LoadMode::Concurrency
            && top > max_inflight as f64
        {
            bail!(
                "--steps asks for {top} concurrent requests but --max-inflight is {max_inflight}: raise --max-inflight or lower the steps"
            );
        }
        let poll_interval = seconds(
            "--poll-interval-s",
            self.poll_interval_s.unwrap_or(1.0),
            false,
        )?;
        let gpu_interval = seconds(
            "--gpu-poll-interval-s",
            self.gpu_poll_interval_s.unwrap_or(1.0),
            false,
        )?;
        if let Some(rate) = self.max_error_rate {
            fraction("--max-error-rate", rate)?;
        }
        let run_name = self.run_name.unwrap_or_else(|| "run".to_owned());
        if run_name.is_empty() || run_name.contains(['/', '\\']) || run_name.starts_with('.') {
            bail!("invalid --run-name {run_name:?}: expected a plain folder name");
        }
        let metrics_url = match (self.no_metrics, self.metrics_url) {
            (true, _) => None,
            (false, Some(url)) => Some(validate_url("--metrics-url", &url)?),
            (false, None) => Some(format!("{}/metrics", base_url.trim_end_matches('/'))),
        };
        let mut client = ClientConfig::new(base_url);
        client.api_key = api_key;
        client.headers = headers;
        client.request_timeout = timeout;
        client.connect_timeout = client.connect_timeout.min(timeout);
        Ok(SweepConfig {
            target: TargetConfig {
                client,
                model: match self.model {
                    Some(m) if m.trim().is_empty() => {
                        bail!(
                            "invalid --model \"\": expected a model name (or leave it out to use the first of /v1/models)"
                        )
                    }
                    other => other,
                },
                endpoint,
                metrics_url,
            },
            load_mode,
            arrival,
            slo,
            knee,
            auto_stop: auto.then(AutoStop::default),
            steps,
            step_duration,
            warmup,
            ramp,
            cooldown,
            input,
            max_output_tokens,
            ignore_eos: self.ignore_eos,
            seed: self.seed.unwrap_or(0),
            max_inflight,
            poll_interval,
            gpu: GpuSettings {
                enabled: !self.no_gpu,
                nvidia_smi: self
                    .nvidia_smi
                    .unwrap_or_else(|| PathBuf::from("nvidia-smi")),
                interval: gpu_interval,
            },
            output_dir: self.output_dir.unwrap_or_else(|| PathBuf::from("results")),
            run_name,
            max_error_rate: self.max_error_rate,
        })
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
    // Validate every flag before starting anything (the simulator's port is filled in after).
    let mut config = args.into_config(simulate.then(|| SIM_PLACEHOLDER_URL.to_owned()))?;
    check_open_files(&config, open_files, simulate)?;
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
    let signals = tokio::spawn(watch_signals(cancel.clone()));
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
    let result = run_sweep(config.clone(), cancel.clone(), live).await;
    if let Some(task) = progress {
        task.abort();
    }
    signals.abort();
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(err) => return Err(err.into()),
    };
    // The engine wrote a plain summary.md; the report adds charts and the full tables.
    if let Err(err) = loadtest_report::render_run(&outcome.run_dir) {
        output::note(&format!(
            "warning: the full report could not be rendered: {err}"
        ));
    }
    if !quiet {
        progress::print_outcome(&outcome);
    }
    // A signal that came after the drain (while outputs were written) still counts.
    if outcome.interrupted || cancel.is_cancelled() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if let Some(max) = config.max_error_rate
        && outcome.error_rate() > max
    {
        output::note(&format!(
            "{:.1} % of measured requests failed, above --max-error-rate {max}",
            outcome.error_rate() * 100.0
        ));
        return Ok(ExitCode::from(EXIT_FAILURES));
    }
    Ok(ExitCode::SUCCESS)
}

/// Stands for the simulator's URL while flags are validated.
const SIM_PLACEHOLDER_URL: &str = "http://127.0.0.1:0";

/// Exit code when the run finished but failures exceeded `--max-error-rate`.
const EXIT_FAILURES: u8 = 1;
/// Exit code after Ctrl-C / SIGTERM.
const EXIT_INTERRUPTED: u8 = 130;

/// First SIGINT/SIGTERM: cancel (outputs are still written). Second: exit at once.
async fn watch_signals(cancel: CancelToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers: Ctrl-C will kill the run without outputs");
        return;
    };
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        seen += 1;
        if seen == 1 {
            output::note("interrupted: stopping, writing outputs (Ctrl-C again to exit at once)");
            cancel.cancel();
        } else {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    }
}

fn validate_url(flag: &str, url: &str) -> Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(trimmed.to_owned()),
        _ => bail!("invalid {flag} {url:?}: expected http://HOST[:PORT] or https://HOST[:PORT]"),
    }
}

fn parse_header(text: &str) -> Result<(String, String)> {
    let Some((name, value)) = text.split_once(':') else {
        bail!("invalid --header {text:?}: expected 'Name: value'");
    };
    let name = name.trim();
    let valid_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid_name {
        bail!("invalid --header {text:?}: {name:?} is not a valid header name");
    }
    let value = value.trim();
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        bail!("invalid --header for {name:?}: the value contains control characters");
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn fraction(flag: &str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        bail!("invalid {flag} {value}: expected a fraction between 0 and 1")
    }
}

fn parse_steps(text: &str, mode: LoadMode) -> Result<Vec<f64>> {
    let mut steps = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let value = match mode {
            LoadMode::Concurrency => match part.parse::<u32>() {
                Ok(n) if n >= 1 => f64::from(n),
                _ => bail!(
                    "invalid --steps {text:?}: {part:?} is not a whole number >= 1 (expected a comma list of concurrency levels, e.g. 1,2,4,8)"
                ),
            },
            LoadMode::Rate => match part.parse::<f64>() {
                Ok(r) if r.is_finite() && r > 0.0 && r <= 1e6 => r,
                _ => bail!(
                    "invalid --steps {text:?}: {part:?} is not a rate > 0 (expected a comma list of requests/s, e.g. 0.5,1,2,4)"
                ),
            },
        };
        steps.push(value);
    }
    Ok(steps)
}

fn seconds(flag: &str, value: f64, zero_ok: bool) -> Result<Duration> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 1e9;
    if !ok {
        let expected = if zero_ok { ">= 0" } else { "> 0" };
        bail!("invalid {flag} {value}: expected a number of seconds {expected}");
    }
    Ok(Duration::from_secs_f64(value))
}

fn dist(flag: &str, text: &str) -> Result<DistSpec> {
    text.parse::<DistSpec>()
        .map_err(|e| anyhow::anyhow!("invalid {flag} {text:?}: {e}"))
}

fn input_source(
    mode: Option<InputMode>,
    prompt_text: Option<String>,
    prompt_file: Option<PathBuf>,
    input_size: Option<String>,
) -> Result<InputSource> {
    let given: Vec<InputMode> = [
        prompt_text.is_some().then_some(InputMode::FixedPrompt),
        prompt_file.is_some().then_some(InputMode::PromptFile),
        input_size.is_some().then_some(InputMode::Synthetic),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mode = match (mode, given.as_slice()) {
        (Some(mode), _) => mode,
        (None, [one]) => *one,
        (None, []) => bail!(
            "no input given: use --prompt-text TEXT, --prompt-file FILE or --input-size N (synthetic prompts)"
        ),
        (None, _) => bail!(
            "--prompt-text, --prompt-file and --input-size exclude each other: give one (or pick with --input-mode)"
        ),
    };
    match mode {
        InputMode::FixedPrompt => {
            let text = prompt_text.context("--input-mode fixed-prompt needs --prompt-text")?;
            if text.trim().is_empty() {
                bail!("invalid --prompt-text: the prompt is empty");
            }
            Ok(InputSource::FixedPrompt(Prompt::text(&text)))
        }
        InputMode::PromptFile => {
            let path = prompt_file.context("--input-mode prompt-file needs --prompt-file")?;
            let prompts = loadtest_sweep::prompt_file::read_prompt_file(&path)?;
            Ok(InputSource::PromptFile(prompts.into()))
        }
        InputMode::Synthetic => {
            let size = input_size.context("--input-mode synthetic needs --input-size")?;
            Ok(InputSource::Synthetic(dist("--input-size", &size)?))
        }
    }
}

#[cfg(test)]
mod tests {
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

//! The validated configuration of a sweep: every default resolved, every value checked.
//! Front ends (the CLI) build it; the engine never sees raw flags.

use std::path::PathBuf;
use std::time::Duration;

use loadtest_dist::DistSpec;

use loadtest_client::{ClientConfig, Endpoint};

use loadtest_run::{Arrival, AutoStop, GpuSettings, KneeRule, LoadMode, PromptFileFacts, Slo};

use crate::inputs::InputSource;

/// The server under test.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// Where and how to connect: base URL, api key, headers, timeouts (its `Debug` redacts
    /// secrets). `pool_size` is raised to the sweep's peak concurrency by the engine.
    pub client: ClientConfig,
    /// Model name; `None` = the first of `GET /v1/models`.
    pub model: Option<String>,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// Where to scrape metrics (`--metrics-url`, default `<base_url>/metrics`); `None` with
    /// `--no-metrics`.
    pub metrics_url: Option<String>,
}

/// Everything a sweep needs. [`SweepConfig::new`] gives the seed tool's defaults.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The server.
    pub target: TargetConfig,
    /// How step values are read.
    pub load_mode: LoadMode,
    /// Arrival process in rate mode.
    pub arrival: Arrival,
    /// Service-level objectives (`--slo`), for goodput.
    pub slo: Option<Slo>,
    /// How the knee is found.
    pub knee: KneeRule,
    /// `--steps auto`: stop after the first step that passes the knee, breaks the SLO or
    /// fails too often (the steps are then `auto_stop::doubling_steps`).
    pub auto_stop: Option<AutoStop>,
    /// The load levels, in order.
    pub steps: Vec<f64>,
    /// Measure window per step.
    pub step_duration: Duration,
    /// Warmup before the first step.
    pub warmup: Duration,
    /// Linear ramp before each step's window.
    pub ramp: Duration,
    /// Pause after each step's window.
    pub cooldown: Duration,
    /// Prompt source.
    pub input: InputSource,
    /// `max_tokens` per request.
    pub max_output_tokens: DistSpec,
    /// Send `ignore_eos: true` (vLLM extension).
    pub ignore_eos: bool,
    /// All randomness derives from it.
    pub seed: u64,
    /// Hard cap on in-flight requests.
    pub max_inflight: usize,
    /// `/metrics` scrape interval.
    pub poll_interval: Duration,
    /// GPU telemetry.
    pub gpu: GpuSettings,
    /// Parent folder of the run folder.
    pub output_dir: PathBuf,
    /// Run folder name prefix.
    pub run_name: String,
    /// Exit 1 when the failed share of measured requests is above this.
    pub max_error_rate: Option<f64>,
    /// Top-level fields merged into every request body (`--extra-body`, `--temperature`,
    /// `--top-p`): sampling parameters, `chat_template_kwargs`, `min_tokens`, … Keys the
    /// client sets itself ([`loadtest_client::RESERVED_KEYS`]) are refused.
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// The exact run folder to create (`--run-dir`); it must not exist. `None`: a new
    /// `<output_dir>/<run_name>_<UTC timestamp>/`.
    pub run_dir: Option<PathBuf>,
    /// Where the prompt-file rows of [`InputSource::PromptFile`] came from (path, SHA-256),
    /// recorded in config.json.
    pub prompt_file: Option<PromptFileFacts>,
    /// The command line that started the run, recorded in config.json so it can be rerun.
    /// The front end redacts secret flag values; the engine also replaces the api key and
    /// every sensitive header value wherever they appear in it.
    pub command_line: Vec<String>,
}

impl SweepConfig {
    /// A config with the defaults of the command line (§4): steps 1,2,4,8 of 60 s after a
    /// 10 s warmup, 128 output tokens, seed 0, closed loop, `/metrics` at `<base>/metrics`
    /// every second, no GPU telemetry, run folders under `results/run_…`.
    pub fn new(target: TargetConfig, input: InputSource) -> Self {
        SweepConfig {
            target,
            load_mode: LoadMode::Concurrency,
            arrival: Arrival::Poisson,
            slo: None,
            knee: KneeRule::default(),
            auto_stop: None,
            steps: vec![1.0, 2.0, 4.0, 8.0],
            step_duration: Duration::from_secs(60),
            warmup: Duration::from_secs(10),
            ramp: Duration::ZERO,
            cooldown: Duration::ZERO,
            input,
            max_output_tokens: DistSpec::Fixed(128),
            ignore_eos: false,
            seed: 0,
            max_inflight: 4096,
            poll_interval: Duration::from_secs(1),
            gpu: GpuSettings {
                enabled: false,
                nvidia_smi: PathBuf::from("nvidia-smi"),
                interval: Duration::from_secs(1),
            },
            output_dir: PathBuf::from("results"),
            run_name: "run".to_owned(),
            max_error_rate: None,
            extra_body: serde_json::Map::new(),
            run_dir: None,
            prompt_file: None,
            command_line: Vec::new(),
        }
    }
}

impl TargetConfig {
    /// A target at `base_url`: chat endpoint, model from `/v1/models`, `/metrics` scraped
    /// at `<base_url>/metrics`.
    ///
    /// The base URL is normalised as the client does (a trailing `/` or `/v1` is dropped, the
    /// OpenAI SDK habit), so `/metrics` is scraped at the server root, not under `/v1`.
    pub fn new(base_url: &str) -> Self {
        let base = loadtest_client::normalize_base_url(base_url)
            .unwrap_or_else(|_| base_url.trim_end_matches('/').to_owned());
        TargetConfig {
            client: ClientConfig::new(&base),
            model: None,
            endpoint: Endpoint::Chat,
            metrics_url: Some(format!("{base}/metrics")),
        }
    }
}

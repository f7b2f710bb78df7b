//! The validated configuration of a sweep: every default resolved, every value checked.
//! Front ends (the CLI) build it; the engine never sees raw flags.

use std::path::PathBuf;
use std::time::Duration;

use loadtest_dist::DistSpec;

use loadtest_client::{ClientConfig, Endpoint};

use loadtest_run::{
    Arrival, AutoStop, GpuSettings, KneeRule, LoadMode, PromptFileFacts, Shard, Slo,
};

use crate::inputs::InputSource;
use crate::timeline::Timeline;

/// [`SweepConfig::connect_rate_per_s`]'s default: 2,000 new connections a second.
pub const DEFAULT_CONNECT_RATE_PER_S: f64 = 2000.0;

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
    /// Send the api key and the secret headers to a `metrics_url` on another host than the
    /// base URL's too. Off by default: a metrics endpoint elsewhere gets only the headers
    /// that are not secrets.
    pub metrics_credentials: bool,
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
    /// Measure window per step (unused when [`SweepConfig::num_prompts`] is set).
    pub step_duration: Duration,
    /// `--num-prompts`: each step sends exactly this many measured requests (this process's
    /// share of them with [`SweepConfig::shard`]) and ends when they have all finished,
    /// instead of after `step_duration`; `None`: time windows. No ramp (`ramp` must be 0).
    pub num_prompts: Option<u64>,
    /// `--warmup-requests`: with `num_prompts`, exactly this many warmup requests, all
    /// finished, before step 0 (once, like `warmup`, which must then be 0); `None` or 0: none.
    pub warmup_requests: Option<u64>,
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
    /// New connections opened per second, at most (`--connect-rate`): a burst of thousands of
    /// connects at once would measure the server's accept queue, not its serving. In the
    /// closed loop a step's ramp lasts until its new connections can have opened
    /// ([`SweepConfig::timeline`]), so its measure window starts at its level.
    pub connect_rate_per_s: f64,
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
    /// `--fail-on` thresholds: checked on every step at the end (their verdicts land in
    /// `step_summary.json` and [`crate::RunOutcome::threshold_failures`]).
    pub thresholds: Vec<loadtest_run::Threshold>,
    /// `--tag k=v` labels, recorded in config.json and every `result.json` row.
    pub tags: std::collections::BTreeMap<String, String>,
    /// `--tokenizer`: counts prompt lengths in tokens (synthetic prompts become exact); `None`
    /// counts words, and config.json says so.
    pub tokenizer: Option<std::sync::Arc<crate::tokenize::TokenCounter>>,
    /// `--shared-prefix-tokens` / `--prefix-groups`: synthetic prompts start with one of the
    /// groups' seeded prefixes (ignored for other sources).
    pub shared_prefix: Option<crate::prefix::SharedPrefix>,
    /// This process's shard of a run driven by several (`--shard i/n`): it runs its share of
    /// every step (see [`Shard`]) and sends the run's requests `k·n + i`.
    /// [`Shard::SINGLE`]: the whole run.
    pub shard: Shard,
    /// `--start-at`: the wall-clock instant the warmup begins (after preflight), so that
    /// every shard starts together; `None` starts at once.
    pub start_at: Option<std::time::SystemTime>,
    /// `--turns` / `--think-time-s`: requests are the turns of multi-turn conversations
    /// (chat endpoint, time steps); `None`: every request stands alone.
    pub conversations: Option<crate::conversation::Conversations>,
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
            num_prompts: None,
            warmup_requests: None,
            warmup: Duration::from_secs(10),
            ramp: Duration::ZERO,
            cooldown: Duration::ZERO,
            input,
            max_output_tokens: DistSpec::Fixed(128),
            ignore_eos: false,
            seed: 0,
            max_inflight: 4096,
            connect_rate_per_s: DEFAULT_CONNECT_RATE_PER_S,
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
            thresholds: Vec::new(),
            tags: std::collections::BTreeMap::new(),
            tokenizer: None,
            shared_prefix: None,
            shard: Shard::SINGLE,
            start_at: None,
            conversations: None,
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
            metrics_credentials: false,
        }
    }
}

impl SweepConfig {
    /// The run's timeline from these settings: what `run_sweep` follows, and what a progress
    /// display shows. In the closed loop each step's ramp lasts at least until its new
    /// connections can have opened at [`SweepConfig::connect_rate_per_s`]
    /// ([`Timeline::with_connect_rate`]); in rate mode connections open as arrivals need them.
    /// A shard ([`SweepConfig::shard`]) runs its share of each step on the schedule of the
    /// largest share (shard 0's), so every shard's windows are the same.
    #[must_use]
    pub fn timeline(&self) -> Timeline {
        // A trace's steps are its slices ([`crate::trace::TraceReplay::timeline`]).
        if let InputSource::Trace(trace) = &self.input {
            return trace.timeline(self.shard);
        }
        let share = |shard: Shard| -> Vec<f64> {
            self.steps
                .iter()
                .map(|&load| match self.load_mode {
                    LoadMode::Concurrency => shard.concurrency_share(load) as f64,
                    LoadMode::Rate => shard.rate_share(load),
                })
                .collect()
        };
        let (largest, own) = if self.shard.count() > 1 {
            (share(self.shard.first()), Some(share(self.shard)))
        } else {
            (self.steps.clone(), None)
        };
        let timeline = match (self.num_prompts, self.load_mode) {
            (Some(n), _) => Timeline::counted(
                &largest,
                n,
                self.warmup_requests.unwrap_or(0),
                self.warmup,
                self.cooldown,
            ),
            (None, LoadMode::Concurrency) => Timeline::with_connect_rate(
                &largest,
                self.warmup,
                self.ramp,
                self.step_duration,
                self.cooldown,
                self.connect_rate_per_s,
            ),
            (None, LoadMode::Rate) => Timeline::new(
                &largest,
                self.warmup,
                self.ramp,
                self.step_duration,
                self.cooldown,
            ),
        };
        match own {
            Some(own) => timeline.with_loads(&own),
            None => timeline,
        }
    }
}

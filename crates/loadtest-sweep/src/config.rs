//! The validated configuration of a sweep: every default resolved, every value checked.
//! Front ends (the CLI) build it; the engine never sees raw flags.

use std::path::PathBuf;
use std::time::Duration;

use loadtest_dist::DistSpec;
use serde::{Deserialize, Serialize};

use loadtest_client::{ClientConfig, Endpoint};

use crate::inputs::InputSource;

/// How step values are read (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Each step value is a number of concurrent in-flight requests (closed loop).
    Concurrency,
}

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

/// GPU telemetry settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuSettings {
    /// Poll nvidia-smi at all (`--no-gpu` turns it off).
    pub enabled: bool,
    /// The nvidia-smi binary (`--nvidia-smi`).
    pub nvidia_smi: PathBuf,
    /// Sample interval (`--gpu-poll-interval-s`).
    #[serde(with = "secs")]
    pub interval: Duration,
}

/// Everything a sweep needs.
#[derive(Debug, Clone)]
pub struct SweepConfig {
    /// The server.
    pub target: TargetConfig,
    /// How step values are read.
    pub load_mode: LoadMode,
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
}

/// Serde for a `Duration` as a number of seconds.
pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let value = f64::deserialize(d)?;
        Duration::try_from_secs_f64(value).map_err(serde::de::Error::custom)
    }
}

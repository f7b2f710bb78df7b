//! `config.json`: the run's facts — tool, times, target, every resolved setting, the command
//! line and what telemetry delivered — and the setting types it holds.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auto_stop::AutoStop;
use crate::knee::KneeRule;
use crate::slo::Slo;
use crate::thresholds::Threshold;

/// The facts of a run, written to `config.json` (§9).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFacts {
    /// This tool's name and version.
    pub tool: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// When the run ended (set at the end).
    pub finished_at: Option<String>,
    /// True when Ctrl-C / SIGTERM stopped the run.
    pub interrupted: bool,
    /// The run folder.
    pub run_dir: PathBuf,
    /// The server: URL, model, version, kind.
    pub target: TargetFacts,
    /// Every setting, defaults resolved.
    pub settings: Settings,
    /// The command line that started the run, secrets redacted (empty when embedded).
    #[serde(default)]
    pub command_line: Vec<String>,
    /// What the run's server and GPU telemetry actually delivered (set at the end; null in
    /// the config.json written at the start).
    #[serde(default)]
    pub telemetry: Option<TelemetryFacts>,
    /// A run merged from shards (`vllm-loadtest merge`): the shard folders, in shard order.
    /// Absent for a run made by one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<crate::MergedShard>,
    /// A merged run: what the merge chose or could not do (whose telemetry it took, shards
    /// missing), one sentence each. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_notes: Vec<String>,
}

/// What the run's `/metrics` scrapes and nvidia-smi polling delivered: the facts a reader
/// needs to tell "off" from "on but failing".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetryFacts {
    /// Scrapes of the metrics URL that succeeded (0 with `--no-metrics`).
    pub metrics_scrapes_ok: u64,
    /// Scrapes that failed.
    pub metrics_scrapes_failed: u64,
    /// Why the first failing scrape failed.
    pub metrics_first_error: Option<String>,
    /// nvidia-smi samples received (0 with `--no-gpu`).
    pub gpu_samples: u64,
    /// Why GPU telemetry was unavailable, when it was enabled but delivered nothing.
    pub gpu_unavailable: Option<String>,
}

/// The server as config.json shows it (credentials redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetFacts {
    /// `--base-url`.
    pub base_url: String,
    /// Model requests named.
    pub model: String,
    /// `GET /version`.
    pub server_version: Option<String>,
    /// Detected from `/metrics`.
    pub server_kind: Option<String>,
    /// `--endpoint`.
    pub endpoint: String,
    /// `--metrics-url` (null with `--no-metrics`).
    pub metrics_url: Option<String>,
    /// `"<redacted>"` when an api key was given (its value is never written), else null.
    pub api_key: Option<String>,
    /// `--header`s, secret values redacted.
    pub headers: Vec<(String, String)>,
}

/// The settings of config.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// `--load-mode`.
    pub load_mode: LoadMode,
    /// `--steps`.
    pub steps: Vec<f64>,
    /// `--step-duration-s`.
    #[serde(with = "secs")]
    pub step_duration_s: Duration,
    /// `--num-prompts`: each step sends exactly this many measured requests and ends when
    /// they have all finished (`step_duration_s` is then unused); absent: time windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_prompts: Option<u64>,
    /// `--warmup-requests`: that many warmup requests, all finished, before step 0; absent:
    /// none (or a `warmup_s` warmup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_requests: Option<u64>,
    /// `--warmup-s`.
    #[serde(with = "secs")]
    pub warmup_s: Duration,
    /// `--ramp-s`.
    #[serde(with = "secs")]
    pub ramp_s: Duration,
    /// `--cooldown-s`.
    #[serde(with = "secs")]
    pub cooldown_s: Duration,
    /// `fixed-prompt`, `prompt-file`, `synthetic`, or `custom` (an embedding program's source).
    pub input_mode: String,
    /// The custom source's own description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_source: Option<String>,
    /// `--input-size` (synthetic).
    pub input_size: Option<String>,
    /// Prompts in the prompt file.
    pub prompt_file_rows: Option<usize>,
    /// `--prompt-text` (fixed-prompt mode).
    #[serde(default)]
    pub prompt_text: Option<String>,
    /// `--prompt-file`: path and SHA-256 of the file read.
    #[serde(default)]
    pub prompt_file: Option<PromptFileFacts>,
    /// `--extra-body` (with `--temperature`, `--top-p`): fields merged into every request.
    #[serde(default)]
    pub extra_body: serde_json::Map<String, serde_json::Value>,
    /// `--max-output-tokens`.
    pub max_output_tokens: String,
    /// `--ignore-eos`.
    pub ignore_eos: bool,
    /// `--seed`.
    pub seed: u64,
    /// `--timeout-s`.
    #[serde(with = "secs")]
    pub timeout_s: Duration,
    /// `--http-client`: the HTTP/1.1 client that carried the requests, `native` or `hyper`
    /// (`https://` always uses hyper). Absent in files written before 2026-11-30 (hyper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_client: Option<String>,
    /// `--client-threads`: the async runtime's worker threads that carried the requests (one
    /// per core by default). Absent in files written before 2026-12-01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_threads: Option<usize>,
    /// `--max-inflight`.
    pub max_inflight: usize,
    /// `--connect-rate`: new connections per second, at most (absent in files written before
    /// 2026-11-30, when it was a fixed 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_rate_per_s: Option<f64>,
    /// `--shard i/n`: this run folder holds shard `i` of a run driven by `n` processes (its
    /// share of each step; `steps` are the whole run's levels). Absent for a single process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::Shard>,
    /// `--start-at`: the instant the warmup was to begin (RFC 3339, UTC); `started_at` says
    /// when it did. Absent when the run started at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// `--poll-interval-s`.
    #[serde(with = "secs")]
    pub poll_interval_s: Duration,
    /// GPU telemetry.
    pub gpu: GpuSettings,
    /// `--output-dir`.
    pub output_dir: PathBuf,
    /// `--run-name`.
    pub run_name: String,
    /// `--max-error-rate`.
    pub max_error_rate: Option<f64>,
    /// `--arrival` (rate mode).
    #[serde(default)]
    pub arrival: Arrival,
    /// `--slo` (and `--slo-attainment`).
    #[serde(default)]
    pub slo: Option<Slo>,
    /// `--knee-throughput-gain`, `--knee-latency-growth`.
    #[serde(default)]
    pub knee: KneeRule,
    /// `--steps auto` (its stop rule), null otherwise.
    #[serde(default)]
    pub auto_stop: Option<AutoStop>,
    /// `--fail-on` thresholds, as given (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
    /// `--tag k=v` labels (absent when none); also copied into every `result.json` row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// How prompt lengths were counted: `words` or `tokenizer` (with its path and SHA-256);
    /// absent for a custom source and in runs from before `--tokenizer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_counting: Option<crate::TokenCounting>,
    /// `--dataset`: the file and how many rows were read, kept and skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<crate::DatasetFacts>,
    /// `--shared-prefix-tokens` / `--prefix-groups` (absent when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_prefix: Option<crate::SharedPrefixFacts>,
    /// `--arrival trace:PATH`: the trace replayed (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::TraceFacts>,
    /// `--turns`: turns per conversation, a number, or `"dataset"` with `--turns dataset`
    /// (each conversation is a dataset row with its own turns); absent in single-turn runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<crate::Turns>,
    /// `--think-time-s`: the think time's spec, in seconds (absent in single-turn runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think_time_s: Option<String>,
}

/// How step values are read (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// Each step value is a number of concurrent in-flight requests (closed loop).
    Concurrency,
    /// Each step value is an arrival rate in requests/s (open loop).
    Rate,
}

impl LoadMode {
    /// `concurrency` or `rate`, as written to the output files.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadMode::Concurrency => "concurrency",
            LoadMode::Rate => "rate",
        }
    }
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

/// Where a prompt file's rows came from, for config.json: enough to tell whether a later run
/// used the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptFileFacts {
    /// The path as given.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Prompts read (blank lines skipped).
    pub rows: usize,
}

/// The arrival process (`--arrival`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exponential gaps: a Poisson process (coefficient of variation 1).
    #[default]
    Poisson,
    /// Equal gaps (CV 0).
    Constant,
    /// Gamma gaps with shape = `burstiness` (CV = 1/√burstiness; 1.0 is Poisson, below 1 is
    /// burstier), within [`Arrival::MIN_BURSTINESS`]..=[`Arrival::MAX_BURSTINESS`].
    Gamma {
        /// The gamma shape.
        burstiness: f64,
    },
    /// A trace's own schedule (`--arrival trace:PATH`): each request at its row's timestamp;
    /// the file and its facts are in [`Settings::trace`].
    Trace,
}

impl Arrival {
    /// The smallest burstiness accepted (CV 10). Below it nearly every gap is ~0 and the
    /// requests of a whole step arrive at once: no longer a schedule, and unbounded work.
    pub const MIN_BURSTINESS: f64 = 0.01;
    /// The largest burstiness accepted (CV ≈ 0.03, already constant gaps in all but name).
    pub const MAX_BURSTINESS: f64 = 1000.0;

    /// Why `burstiness` is refused, or `None` when it is in range.
    pub fn burstiness_error(burstiness: f64) -> Option<String> {
        if (Self::MIN_BURSTINESS..=Self::MAX_BURSTINESS).contains(&burstiness) {
            None
        } else {
            Some(format!(
                "burstiness {burstiness:?} is outside {}..={} (gamma:<burstiness>; 1 is \
                 Poisson, smaller is burstier)",
                Self::MIN_BURSTINESS,
                Self::MAX_BURSTINESS
            ))
        }
    }
}

impl FromStr for Arrival {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "poisson" => Ok(Arrival::Poisson),
            "constant" => Ok(Arrival::Constant),
            _ => {
                let value = s
                    .strip_prefix("gamma:")
                    .ok_or_else(|| "expected poisson, constant or gamma:<burstiness>".to_owned())?;
                match value.parse::<f64>() {
                    Ok(b) if b.is_finite() => match Arrival::burstiness_error(b) {
                        None => Ok(Arrival::Gamma { burstiness: b }),
                        Some(e) => Err(e),
                    },
                    _ => Err(format!(
                        "burstiness {value:?} is not a number (expected gamma:<burstiness>, \
                         {}..={})",
                        Arrival::MIN_BURSTINESS,
                        Arrival::MAX_BURSTINESS
                    )),
                }
            }
        }
    }
}

impl fmt::Display for Arrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arrival::Poisson => f.write_str("poisson"),
            Arrival::Constant => f.write_str("constant"),
            // Out of range (refused by validation), `{:?}` keeps it short: "1e-12", not
            // "0.000000000001" (nor 300 digits for 1e300).
            Arrival::Gamma { burstiness } if Arrival::burstiness_error(*burstiness).is_some() => {
                write!(f, "gamma:{burstiness:?}")
            }
            Arrival::Gamma { burstiness } => write!(f, "gamma:{burstiness}"),
            Arrival::Trace => f.write_str("trace"),
        }
    }
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

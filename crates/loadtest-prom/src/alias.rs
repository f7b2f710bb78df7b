//! Canonical metrics and the wire names each server uses for them — data, not code paths.
//!
//! For each canonical metric the candidates are tried in table order and the **first wire
//! name present in the scrape wins**; all series of that name are then aggregated over every
//! label (`engine`, `model_name`, ranks, …) except `le` for histogram buckets, and
//! `finished_reason`, which [`crate::CanonicalSnapshot`] also keeps per value.

use serde::{Deserialize, Serialize};

/// Which server produced a scrape, from its metric-name prefixes ([`SERVER_PREFIXES`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
pub enum ServerKind {
    /// vLLM (`vllm:` names).
    #[serde(rename = "vllm")]
    Vllm,
    /// SGLang (`sglang:` names).
    #[serde(rename = "sglang")]
    Sglang,
    /// llama.cpp `llama-server` (`llamacpp:` names).
    #[serde(rename = "llamacpp")]
    LlamaCpp,
    /// Hugging Face text-generation-inference (`tgi_` names).
    #[serde(rename = "tgi")]
    Tgi,
    /// None of the above.
    #[default]
    #[serde(rename = "unknown")]
    Unknown,
}

impl ServerKind {
    /// `vllm`, `sglang`, `llamacpp`, `tgi` or `unknown`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::LlamaCpp => "llamacpp",
            Self::Tgi => "tgi",
            Self::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Name prefix → server, in priority order: the first prefix that any family name carries
/// decides (a vLLM scrape also holds `python_*`, `process_*` and `http_*` families).
pub static SERVER_PREFIXES: &[(&str, ServerKind)] = &[
    ("vllm:", ServerKind::Vllm),
    ("sglang:", ServerKind::Sglang),
    ("llamacpp:", ServerKind::LlamaCpp),
    ("tgi_", ServerKind::Tgi),
];

/// Detects the server from metric (family or sample) names, by [`SERVER_PREFIXES`].
pub fn detect_server<'n>(names: impl IntoIterator<Item = &'n str>) -> ServerKind {
    let mut best: Option<usize> = None;
    for name in names {
        if let Some(rank) = SERVER_PREFIXES
            .iter()
            .position(|(prefix, _)| name.starts_with(prefix))
        {
            best = Some(best.map_or(rank, |b| b.min(rank)));
            if rank == 0 {
                break;
            }
        }
    }
    best.map_or(ServerKind::Unknown, |rank| SERVER_PREFIXES[rank].1)
}

/// Whether a canonical scalar is a gauge (sampled) or a counter (differenced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarKind {
    /// Point-in-time value: mean/max over a window's samples.
    Gauge,
    /// Monotonic total: end − start over a window, with reset detection.
    Counter,
}

/// How the series of one wire name are combined into the canonical value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    /// Sum over series (counts, totals, request gauges: one series per DP engine).
    Sum,
    /// Mean over series (ratios such as KV-cache usage, one per engine).
    Mean,
}

/// The scalar canonical metrics: the scalar columns of `vllm_metrics.csv` (§9), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarMetric {
    /// Requests in the running batch (gauge).
    RequestsRunning,
    /// Requests waiting to be scheduled (gauge).
    RequestsWaiting,
    /// KV-cache usage, 0..1 (gauge).
    KvCacheUsage,
    /// Prompt tokens processed (counter).
    PromptTokensTotal,
    /// Generation tokens produced (counter).
    GenerationTokensTotal,
    /// Finished requests, all finish reasons summed (counter).
    RequestSuccessTotal,
    /// Preemptions (counter).
    PreemptionsTotal,
    /// Prefix-cache queries, in tokens (counter).
    PrefixCacheQueriesTotal,
    /// Prefix-cache hits, in tokens (counter).
    PrefixCacheHitsTotal,
}

impl ScalarMetric {
    /// Every scalar metric, in column order.
    pub const ALL: [Self; 9] = [
        Self::RequestsRunning,
        Self::RequestsWaiting,
        Self::KvCacheUsage,
        Self::PromptTokensTotal,
        Self::GenerationTokensTotal,
        Self::RequestSuccessTotal,
        Self::PreemptionsTotal,
        Self::PrefixCacheQueriesTotal,
        Self::PrefixCacheHitsTotal,
    ];

    /// Canonical (column / JSON) name, e.g. `generation_tokens_total`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.alias().name
    }

    /// Gauge or counter.
    #[must_use]
    pub fn kind(self) -> ScalarKind {
        self.alias().kind
    }

    /// This metric's row of [`SCALAR_ALIASES`].
    #[must_use]
    pub fn alias(self) -> &'static ScalarAlias {
        &SCALAR_ALIASES[self as usize]
    }
}

/// The histogram canonical metrics (all in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HistogramMetric {
    /// Server time to first token.
    #[serde(rename = "ttft_s")]
    Ttft,
    /// Inter-token latency.
    #[serde(rename = "itl_s")]
    Itl,
    /// End-to-end request latency.
    #[serde(rename = "e2e_s")]
    E2e,
    /// Time waiting in the scheduler queue.
    #[serde(rename = "queue_s")]
    Queue,
    /// Prefill time (scheduled → first token).
    #[serde(rename = "prefill_s")]
    Prefill,
    /// Decode time (first token → last token).
    #[serde(rename = "decode_s")]
    Decode,
}

impl HistogramMetric {
    /// Every histogram metric.
    pub const ALL: [Self; 6] = [
        Self::Ttft,
        Self::Itl,
        Self::E2e,
        Self::Queue,
        Self::Prefill,
        Self::Decode,
    ];

    /// Canonical name, e.g. `ttft_s`.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.alias().name
    }

    /// This metric's row of [`HISTOGRAM_ALIASES`].
    #[must_use]
    pub fn alias(self) -> &'static HistogramAlias {
        &HISTOGRAM_ALIASES[self as usize]
    }
}

/// One candidate wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WireName {
    /// Sample name as exposed (for histograms: the family name without `_bucket`/`_count`/`_sum`).
    pub name: &'static str,
    /// Server that uses it.
    pub server: ServerKind,
    /// Versions / caveats.
    pub note: &'static str,
}

const fn wire(name: &'static str, server: ServerKind, note: &'static str) -> WireName {
    WireName { name, server, note }
}

/// Alias row of a scalar canonical metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScalarAlias {
    /// Canonical name.
    pub name: &'static str,
    /// Gauge or counter.
    pub kind: ScalarKind,
    /// How multiple series are combined.
    pub aggregation: Aggregation,
    /// Candidates, first present wins.
    pub wire: &'static [WireName],
}

/// Alias row of a histogram canonical metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HistogramAlias {
    /// Canonical name.
    pub name: &'static str,
    /// Candidates, first present wins.
    pub wire: &'static [WireName],
}

/// The label kept per value for [`ScalarMetric::RequestSuccessTotal`].
pub const FINISHED_REASON_LABEL: &str = "finished_reason";

/// The histogram bucket bound label.
pub const LE_LABEL: &str = "le";

/// The sample whose change marks a server restart.
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

use Aggregation::{Mean, Sum};
use ScalarKind::{Counter, Gauge};
use ServerKind::{LlamaCpp, Sglang, Tgi, Vllm};

/// Scalar alias table, indexed by `ScalarMetric as usize`.
pub static SCALAR_ALIASES: [ScalarAlias; 9] = [
    ScalarAlias {
        name: "requests_running",
        kind: Gauge,
        aggregation: Sum,
        wire: &[
            wire("vllm:num_requests_running", Vllm, "V0 and V1"),
            wire("sglang:num_running_reqs", Sglang, ""),
            wire("llamacpp:requests_processing", LlamaCpp, ""),
            wire("tgi_batch_current_size", Tgi, ""),
        ],
    },
    ScalarAlias {
        name: "requests_waiting",
        kind: Gauge,
        aggregation: Sum,
        wire: &[
            wire("vllm:num_requests_waiting", Vllm, "V0 and V1"),
            wire("sglang:num_queue_reqs", Sglang, ""),
            wire("llamacpp:requests_deferred", LlamaCpp, ""),
            wire("tgi_queue_size", Tgi, ""),
        ],
    },
    ScalarAlias {
        name: "kv_cache_usage",
        kind: Gauge,
        aggregation: Mean,
        wire: &[
            wire(
                "vllm:kv_cache_usage_perc",
                Vllm,
                "V1 >= 0.9.2; a 0..1 ratio despite the name",
            ),
            wire("vllm:gpu_cache_usage_perc", Vllm, "V0, and V1 before 0.12"),
            wire("sglang:token_usage", Sglang, ""),
            wire(
                "llamacpp:kv_cache_usage_ratio",
                LlamaCpp,
                "older builds only",
            ),
        ],
    },
    ScalarAlias {
        name: "prompt_tokens_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[
            wire(
                "vllm:prompt_tokens_total",
                Vllm,
                "V0 and V1; includes prefix-cache hits",
            ),
            wire("sglang:prompt_tokens_total", Sglang, ""),
            wire(
                "llamacpp:prompt_tokens_total",
                LlamaCpp,
                "excludes cached prompt tokens",
            ),
            wire(
                "tgi_request_input_length_sum",
                Tgi,
                "_sum of the input-length histogram",
            ),
        ],
    },
    ScalarAlias {
        name: "generation_tokens_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[
            wire("vllm:generation_tokens_total", Vllm, "V0 and V1"),
            wire("sglang:generation_tokens_total", Sglang, ""),
            wire("llamacpp:tokens_predicted_total", LlamaCpp, ""),
            wire(
                "tgi_request_generated_tokens_sum",
                Tgi,
                "_sum of the generated-tokens histogram",
            ),
        ],
    },
    ScalarAlias {
        name: "request_success_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[
            wire(
                "vllm:request_success_total",
                Vllm,
                "per finished_reason, summed",
            ),
            wire("sglang:num_requests_total", Sglang, ""),
            wire("tgi_request_success", Tgi, ""),
        ],
    },
    ScalarAlias {
        name: "preemptions_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[wire("vllm:num_preemptions_total", Vllm, "V0 and V1")],
    },
    ScalarAlias {
        name: "prefix_cache_queries_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[
            wire(
                "vllm:prefix_cache_queries_total",
                Vllm,
                "V1 >= 0.9.2 (tokens)",
            ),
            wire(
                "vllm:gpu_prefix_cache_queries_total",
                Vllm,
                "V1 before 0.12",
            ),
        ],
    },
    ScalarAlias {
        name: "prefix_cache_hits_total",
        kind: Counter,
        aggregation: Sum,
        wire: &[
            wire("vllm:prefix_cache_hits_total", Vllm, "V1 >= 0.9.2 (tokens)"),
            wire("vllm:gpu_prefix_cache_hits_total", Vllm, "V1 before 0.12"),
        ],
    },
];

/// Histogram alias table, indexed by `HistogramMetric as usize`.
pub static HISTOGRAM_ALIASES: [HistogramAlias; 6] = [
    HistogramAlias {
        name: "ttft_s",
        wire: &[
            wire("vllm:time_to_first_token_seconds", Vllm, "V0 and V1"),
            wire("sglang:time_to_first_token_seconds", Sglang, ""),
        ],
    },
    HistogramAlias {
        name: "itl_s",
        wire: &[
            wire("vllm:inter_token_latency_seconds", Vllm, "V1 >= 0.11"),
            wire(
                "vllm:time_per_output_token_seconds",
                Vllm,
                "V0, and V1 before 0.13",
            ),
            wire("sglang:inter_token_latency_seconds", Sglang, ""),
            wire(
                "sglang:time_per_output_token_seconds",
                Sglang,
                "older versions",
            ),
            wire(
                "tgi_request_mean_time_per_token_duration",
                Tgi,
                "per-request mean",
            ),
        ],
    },
    HistogramAlias {
        name: "e2e_s",
        wire: &[
            wire("vllm:e2e_request_latency_seconds", Vllm, "V0 and V1"),
            wire("sglang:e2e_request_latency_seconds", Sglang, ""),
            wire("tgi_request_duration", Tgi, ""),
        ],
    },
    HistogramAlias {
        name: "queue_s",
        wire: &[
            wire("vllm:request_queue_time_seconds", Vllm, "V0 and V1"),
            wire("vllm:time_in_queue_requests", Vllm, "V0 before 0.8"),
            wire("tgi_request_queue_duration", Tgi, ""),
        ],
    },
    HistogramAlias {
        name: "prefill_s",
        wire: &[wire("vllm:request_prefill_time_seconds", Vllm, "V0 and V1")],
    },
    HistogramAlias {
        name: "decode_s",
        wire: &[wire("vllm:request_decode_time_seconds", Vllm, "V0 and V1")],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_indexed_by_their_enums() {
        for m in ScalarMetric::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert!(!m.alias().wire.is_empty());
        }
        for m in HistogramMetric::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
        }
    }

    #[test]
    fn server_detection() {
        assert_eq!(detect_server(["python_info", "vllm:x"]), ServerKind::Vllm);
        assert_eq!(
            detect_server(["tgi_queue_size", "sglang:x"]),
            ServerKind::Sglang
        );
        assert_eq!(detect_server(["llamacpp:x"]), ServerKind::LlamaCpp);
        assert_eq!(detect_server(["tgi_queue_size"]), ServerKind::Tgi);
        assert_eq!(detect_server(["go_goroutines"]), ServerKind::Unknown);
    }
}

//! The server block of a step summary: the few numbers of the `/metrics` deltas a reader
//! wants beside the client's (the full deltas go to `vllm_step_deltas.json`).

use loadtest_prom::{HistogramMetric, HistogramStats, ScalarMetric, StepDeltas};
use serde::{Deserialize, Serialize};

/// What the server said about one window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerBlock {
    /// `vllm`, `sglang`, `llamacpp`, `tgi` or `unknown`.
    pub kind: String,
    /// Seconds between the two scrapes the deltas span.
    pub window_s: f64,
    /// A counter went down or the process restarted inside the window.
    pub reset: bool,
    /// Mean of the running-requests gauge over the window's scrapes.
    pub running_mean: Option<f64>,
    /// Max of the running-requests gauge.
    pub running_max: Option<f64>,
    /// Mean of the waiting-requests gauge.
    pub waiting_mean: Option<f64>,
    /// Max of the waiting-requests gauge.
    pub waiting_max: Option<f64>,
    /// Mean KV-cache usage, 0–1.
    pub kv_cache_usage_mean: Option<f64>,
    /// Max KV-cache usage, 0–1.
    pub kv_cache_usage_max: Option<f64>,
    /// Generation tokens in the window (counter delta).
    pub generation_tokens: Option<f64>,
    /// Generation tokens per second.
    pub generation_tokens_per_s: Option<f64>,
    /// Prompt tokens per second.
    pub prompt_tokens_per_s: Option<f64>,
    /// Finished requests per second.
    pub requests_per_s: Option<f64>,
    /// Preemptions in the window.
    pub preemptions: Option<f64>,
    /// Prefix-cache hit rate (tokens), 0–1.
    pub prefix_cache_hit_rate: Option<f64>,
    /// Server time to first token.
    pub ttft_s: Option<HistogramStats>,
    /// Scheduler queue time.
    pub queue_s: Option<HistogramStats>,
    /// Prefill time.
    pub prefill_s: Option<HistogramStats>,
    /// Inter-token latency.
    pub itl_s: Option<HistogramStats>,
    /// End-to-end latency.
    pub e2e_s: Option<HistogramStats>,
}

impl ServerBlock {
    /// Picks the headline numbers out of a window's deltas.
    pub fn from_deltas(d: &StepDeltas) -> Self {
        let gauge = |m: ScalarMetric| d.gauge(m);
        let hist = |m: HistogramMetric| d.histogram(m).map(|h| h.stats);
        ServerBlock {
            kind: serde_json::to_value(d.server)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            window_s: d.window_s,
            reset: d.restarted
                || d.counters.values().any(|c| c.reset)
                || d.histograms.values().any(|h| h.reset),
            running_mean: gauge(ScalarMetric::RequestsRunning).map(|g| g.mean),
            running_max: gauge(ScalarMetric::RequestsRunning).map(|g| g.max),
            waiting_mean: gauge(ScalarMetric::RequestsWaiting).map(|g| g.mean),
            waiting_max: gauge(ScalarMetric::RequestsWaiting).map(|g| g.max),
            kv_cache_usage_mean: gauge(ScalarMetric::KvCacheUsage).map(|g| g.mean),
            kv_cache_usage_max: gauge(ScalarMetric::KvCacheUsage).map(|g| g.max),
            generation_tokens: d
                .counter(ScalarMetric::GenerationTokensTotal)
                .map(|c| c.delta),
            generation_tokens_per_s: d.derived.generation_tokens_per_s,
            prompt_tokens_per_s: d.derived.prompt_tokens_per_s,
            requests_per_s: d.derived.requests_per_s,
            preemptions: d.counter(ScalarMetric::PreemptionsTotal).map(|c| c.delta),
            prefix_cache_hit_rate: d.derived.prefix_cache_hit_rate,
            ttft_s: hist(HistogramMetric::Ttft),
            queue_s: hist(HistogramMetric::Queue),
            prefill_s: hist(HistogramMetric::Prefill),
            itl_s: hist(HistogramMetric::Itl),
            e2e_s: hist(HistogramMetric::E2e),
        }
    }
}

#[cfg(test)]
mod tests {
    use loadtest_prom::QuantileBucket;

    use super::*;

    #[test]
    fn server_histogram_json_reads_back_and_old_numbers_read_as_unknown() {
        let h = HistogramStats {
            count: 56.0,
            sum: 56.0 * 22e-6,
            mean: Some(22e-6),
            p50: Some(QuantileBucket {
                lo: 0.0,
                hi: Some(0.3),
                est: None,
            }),
            p90: Some(QuantileBucket {
                lo: 0.04,
                hi: Some(0.06),
                est: Some(0.05),
            }),
            p99: Some(QuantileBucket {
                lo: 7680.0,
                hi: None,
                est: None,
            }),
        };
        let json = serde_json::to_string(&h).unwrap();
        assert!(
            json.contains(r#""p50":{"lo":0.0,"hi":0.3,"est":null}"#),
            "{json}"
        );
        assert!(json.contains(r#""p99":{"lo":7680.0,"hi":null,"est":null}"#));
        let back: HistogramStats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let old: HistogramStats = serde_json::from_str(
            r#"{"count": 5.0, "mean": 0.0004, "p50": 0.15, "p90": 0.27, "p99": null}"#,
        )
        .unwrap();
        assert_eq!((old.mean, old.sum), (Some(0.0004), 0.0));
        assert_eq!((old.p50, old.p90, old.p99), (None, None, None));
    }
}

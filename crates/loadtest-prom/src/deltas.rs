//! Scrape arithmetic for one window: counter and histogram deltas with reset detection, gauge
//! statistics over the window's scrapes, and derived rates.

use std::collections::BTreeMap;
use std::time::Duration;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::alias::{HistogramMetric, ScalarKind, ScalarMetric, ServerKind};
use crate::histogram::mean;
pub use crate::histogram_delta::HistogramDelta;
use crate::snapshot::CanonicalSnapshot;

/// End − start of one counter over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterDelta {
    /// Wire name it was read from (in the window-end scrape).
    pub wire: Cow<'static, str>,
    /// Value at the window start.
    pub start: f64,
    /// Value at the window end.
    pub end: f64,
    /// `end − start`, or `end` after a reset.
    pub delta: f64,
    /// The counter went down, or the server restarted: `delta` is `end` (counted from 0).
    pub reset: bool,
}

impl CounterDelta {
    /// `None` when either edge is not finite (NaN or ±Inf as the server printed it), or the
    /// difference of two huge values is not: such a counter has no delta for the window.
    fn new(wire: &'static str, start: f64, end: f64, restarted: bool) -> Option<Self> {
        if !start.is_finite() || !end.is_finite() {
            return None;
        }
        let reset = restarted || end < start;
        let delta = if reset { end } else { end - start };
        delta.is_finite().then_some(Self {
            wire: Cow::Borrowed(wire),
            start,
            end,
            delta,
            reset,
        })
    }
}

/// Statistics of one gauge over the scrapes of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaugeStats {
    /// Wire name it was read from.
    pub wire: Cow<'static, str>,
    /// Number of finite samples used (NaN / ±Inf samples are left out).
    pub samples: u64,
    /// Mean of the samples.
    pub mean: f64,
    /// Largest sample.
    pub max: f64,
    /// Last sample.
    pub last: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct GaugeAcc {
    samples: u64,
    sum: f64,
    max: f64,
    last: f64,
    wire: Option<&'static str>,
}

/// Running gauge statistics over a window: feed it every scrape of the window with
/// [`GaugeWindow::observe`]. Constant memory, however long the window.
#[derive(Debug, Clone, Default)]
pub struct GaugeWindow {
    acc: [GaugeAcc; 9],
}

impl GaugeWindow {
    /// An empty window.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the gauge values of one scrape.
    pub fn observe(&mut self, snapshot: &CanonicalSnapshot) {
        for metric in ScalarMetric::ALL {
            if metric.kind() != ScalarKind::Gauge {
                continue;
            }
            let Some(value) = snapshot.scalar(metric).filter(|v| v.is_finite()) else {
                continue;
            };
            let acc = &mut self.acc[metric as usize];
            acc.max = if acc.samples == 0 {
                value
            } else {
                acc.max.max(value)
            };
            acc.samples += 1;
            acc.sum += value;
            acc.last = value;
            acc.wire = snapshot.scalar_wire_name(metric).or(acc.wire);
        }
    }

    /// Statistics of one gauge; `None` if no scrape in the window had it as a finite value
    /// (or the finite values were so huge that their mean is not).
    #[must_use]
    pub fn stats(&self, metric: ScalarMetric) -> Option<GaugeStats> {
        let acc = self.acc[metric as usize];
        let wire = Cow::Borrowed(acc.wire?);
        let mean = acc.sum / acc.samples as f64;
        (acc.samples > 0 && mean.is_finite()).then_some(GaugeStats {
            wire,
            samples: acc.samples,
            mean,
            max: acc.max,
            last: acc.last,
        })
    }
}

/// Server TTFT split into its parts, from the window's histogram means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TtftSplit {
    /// Mean queue time (`queue_s`).
    pub queue_mean_s: f64,
    /// Mean prefill time (`prefill_s`).
    pub prefill_mean_s: f64,
    /// `queue / (queue + prefill)`; `None` when both are 0.
    pub queue_fraction: Option<f64>,
    /// Mean server TTFT (`ttft_s`), if exposed.
    pub ttft_mean_s: Option<f64>,
    /// `ttft − queue − prefill`: time outside the engine (API server, tokenisation). The
    /// histograms count different requests near the window edges, so this may be slightly
    /// negative.
    pub other_mean_s: Option<f64>,
}

/// Rates and ratios derived from a window's deltas.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DerivedRates {
    /// Generation tokens per second of window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_tokens_per_s: Option<f64>,
    /// Prompt tokens per second of window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_per_s: Option<f64>,
    /// Finished requests per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    /// Preemptions per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptions_per_s: Option<f64>,
    /// Prefix-cache hits / queries (tokens); `None` when there were no queries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hit_rate: Option<f64>,
    /// TTFT = queue + prefill (+ other), when queue and prefill both had observations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_split: Option<TtftSplit>,
    /// For each value above that is present, the wire metrics it was computed from (e.g.
    /// `"generation_tokens_per_s": ["sglang:generation_tokens_total"]`): where a server's
    /// names differ from vLLM V1's, this is how a reader finds which metric a number shown in
    /// summary.md came from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, Vec<String>>,
}

/// Everything the server's metrics say about one window (one sweep step): the content of
/// `vllm_step_deltas.json` (§9). Keys are canonical names; each entry names its wire source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDeltas {
    /// Server of the window-end scrape.
    pub server: ServerKind,
    /// Window length in seconds (what rates divide by).
    pub window_s: f64,
    /// `process_start_time_seconds` changed: every counter and histogram counts from 0.
    pub restarted: bool,
    /// Counter deltas (counters present in both scrapes).
    pub counters: BTreeMap<ScalarMetric, CounterDelta>,
    /// `request_success` deltas per `finished_reason`; a reason missing at the start counts
    /// from 0.
    pub request_success_by_reason: BTreeMap<String, CounterDelta>,
    /// Gauge statistics over the scrapes given to the [`GaugeWindow`].
    pub gauges: BTreeMap<ScalarMetric, GaugeStats>,
    /// Histogram deltas (histograms present in both scrapes).
    pub histograms: BTreeMap<HistogramMetric, HistogramDelta>,
    /// Rates over `window_s` and ratios.
    pub derived: DerivedRates,
}

impl StepDeltas {
    /// Computes a window from its start and end scrapes, the gauge statistics of the scrapes
    /// in between, and its length.
    #[must_use]
    pub fn compute(
        start: &CanonicalSnapshot,
        end: &CanonicalSnapshot,
        gauges: &GaugeWindow,
        window: Duration,
    ) -> Self {
        Self::compute_with_restart(start, end, gauges, window, false)
    }

    /// [`compute`](Self::compute) when the caller saw the server restart between the two
    /// scrapes (a counter went down in a scrape in between, say): with `restarted_between`
    /// every counter and histogram is marked reset and counted from 0, as after a
    /// `process_start_time_seconds` change. Without it a restart whose new counters grew past
    /// the start values by the window end would go unnoticed.
    #[must_use]
    pub fn compute_with_restart(
        start: &CanonicalSnapshot,
        end: &CanonicalSnapshot,
        gauges: &GaugeWindow,
        window: Duration,
        restarted_between: bool,
    ) -> Self {
        let restarted = restarted_between
            || matches!(
                (start.process_start_time_s, end.process_start_time_s),
                (Some(a), Some(b)) if a != b
            );
        let mut counters = BTreeMap::new();
        let mut gauge_stats = BTreeMap::new();
        for metric in ScalarMetric::ALL {
            match metric.kind() {
                ScalarKind::Gauge => {
                    if let Some(stats) = gauges.stats(metric) {
                        gauge_stats.insert(metric, stats);
                    }
                }
                ScalarKind::Counter => {
                    if let (Some(a), Some(b), Some(wire)) = (
                        start.scalar(metric),
                        end.scalar(metric),
                        end.scalar_wire_name(metric),
                    ) && let Some(delta) = CounterDelta::new(wire, a, b, restarted)
                    {
                        counters.insert(metric, delta);
                    }
                }
            }
        }
        let mut by_reason = BTreeMap::new();
        if let (Some(wire), Some(_)) = (
            end.scalar_wire_name(ScalarMetric::RequestSuccessTotal),
            start.scalars.request_success_total,
        ) {
            for (reason, &b) in &end.request_success_by_reason {
                let a = start.request_success_by_reason.get(reason).copied();
                if let Some(delta) = CounterDelta::new(wire, a.unwrap_or(0.0), b, restarted) {
                    by_reason.insert(reason.clone(), delta);
                }
            }
        }
        let mut histograms = BTreeMap::new();
        for metric in HistogramMetric::ALL {
            if let (Some(a), Some(b), Some(wire)) = (
                start.histogram(metric),
                end.histogram(metric),
                end.histogram_wire_name(metric),
            ) && a.is_finite()
                && b.is_finite()
            {
                // A NaN or ±Inf at either edge leaves the histogram out of the window, as
                // does a difference of huge values that is not finite.
                let delta = HistogramDelta::between(wire, a, b, restarted);
                if delta.is_finite() {
                    histograms.insert(metric, delta);
                }
            }
        }
        let derived = derive(&counters, &histograms, window);
        Self {
            server: end.server,
            window_s: window.as_secs_f64(),
            restarted,
            counters,
            request_success_by_reason: by_reason,
            gauges: gauge_stats,
            histograms,
            derived,
        }
    }

    /// The delta of one counter, if both scrapes had it.
    #[must_use]
    pub fn counter(&self, metric: ScalarMetric) -> Option<&CounterDelta> {
        self.counters.get(&metric)
    }

    /// The delta of one histogram, if both scrapes had it.
    #[must_use]
    pub fn histogram(&self, metric: HistogramMetric) -> Option<&HistogramDelta> {
        self.histograms.get(&metric)
    }

    /// The window statistics of one gauge.
    #[must_use]
    pub fn gauge(&self, metric: ScalarMetric) -> Option<&GaugeStats> {
        self.gauges.get(&metric)
    }
}

fn derive(
    counters: &BTreeMap<ScalarMetric, CounterDelta>,
    histograms: &BTreeMap<HistogramMetric, HistogramDelta>,
    window: Duration,
) -> DerivedRates {
    let secs = window.as_secs_f64();
    // Every ratio is checked: finite deltas over a tiny window can still overflow.
    let rate = |m: ScalarMetric| {
        counters
            .get(&m)
            .filter(|_| secs > 0.0)
            .map(|c| c.delta / secs)
            .filter(|r| r.is_finite())
    };
    let delta = |m: ScalarMetric| counters.get(&m).map(|c| c.delta);
    let prefix_cache_hit_rate = match (
        delta(ScalarMetric::PrefixCacheHitsTotal),
        delta(ScalarMetric::PrefixCacheQueriesTotal),
    ) {
        (Some(hits), Some(queries)) if queries > 0.0 => Some(hits / queries),
        _ => None,
    }
    .filter(|r| r.is_finite());
    let hist_mean = |m: HistogramMetric| histograms.get(&m).and_then(|h| h.stats.mean);
    let ttft_split = match (
        hist_mean(HistogramMetric::Queue),
        hist_mean(HistogramMetric::Prefill),
    ) {
        (Some(queue), Some(prefill)) => {
            let ttft = hist_mean(HistogramMetric::Ttft);
            Some(TtftSplit {
                queue_mean_s: queue,
                prefill_mean_s: prefill,
                queue_fraction: mean(queue, queue + prefill),
                ttft_mean_s: ttft,
                other_mean_s: ttft.map(|t| t - queue - prefill).filter(|o| o.is_finite()),
            })
        }
        _ => None,
    };
    let mut derived = DerivedRates {
        generation_tokens_per_s: rate(ScalarMetric::GenerationTokensTotal),
        prompt_tokens_per_s: rate(ScalarMetric::PromptTokensTotal),
        requests_per_s: rate(ScalarMetric::RequestSuccessTotal),
        preemptions_per_s: rate(ScalarMetric::PreemptionsTotal),
        prefix_cache_hit_rate,
        ttft_split,
        sources: BTreeMap::new(),
    };
    let wire = |m: ScalarMetric| counters.get(&m).map(|c| c.wire.to_string());
    let hist_wire = |m: HistogramMetric| histograms.get(&m).map(|h| h.wire.to_string());
    let present = [
        (
            "generation_tokens_per_s",
            derived.generation_tokens_per_s.is_some(),
            vec![wire(ScalarMetric::GenerationTokensTotal)],
        ),
        (
            "prompt_tokens_per_s",
            derived.prompt_tokens_per_s.is_some(),
            vec![wire(ScalarMetric::PromptTokensTotal)],
        ),
        (
            "requests_per_s",
            derived.requests_per_s.is_some(),
            vec![wire(ScalarMetric::RequestSuccessTotal)],
        ),
        (
            "preemptions_per_s",
            derived.preemptions_per_s.is_some(),
            vec![wire(ScalarMetric::PreemptionsTotal)],
        ),
        (
            "prefix_cache_hit_rate",
            derived.prefix_cache_hit_rate.is_some(),
            vec![
                wire(ScalarMetric::PrefixCacheHitsTotal),
                wire(ScalarMetric::PrefixCacheQueriesTotal),
            ],
        ),
        (
            "ttft_split",
            derived.ttft_split.is_some(),
            vec![
                hist_wire(HistogramMetric::Queue),
                hist_wire(HistogramMetric::Prefill),
                hist_wire(HistogramMetric::Ttft),
            ],
        ),
    ];
    for (name, is_present, wires) in present {
        let wires: Vec<String> = wires.into_iter().flatten().collect();
        if is_present && !wires.is_empty() {
            derived.sources.insert(name.to_owned(), wires);
        }
    }
    derived
}

#[cfg(test)]
mod tests;

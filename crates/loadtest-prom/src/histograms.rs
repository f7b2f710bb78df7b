//! The six latency histograms of [`HistogramMetric`] as one struct, generic over what each
//! holds: a scrape's cumulative histograms, or their statistics.

use serde::Serialize;

use crate::alias::HistogramMetric;

/// One `T` per [`HistogramMetric`], each `None` when the server lacks it (and then absent
/// from the JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histograms<T> {
    /// Server time to first token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_s: Option<T>,
    /// Inter-token latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itl_s: Option<T>,
    /// End-to-end request latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e2e_s: Option<T>,
    /// Queue time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_s: Option<T>,
    /// Prefill time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefill_s: Option<T>,
    /// Decode time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_s: Option<T>,
}

impl<T> Default for Histograms<T> {
    fn default() -> Self {
        Histograms {
            ttft_s: None,
            itl_s: None,
            e2e_s: None,
            queue_s: None,
            prefill_s: None,
            decode_s: None,
        }
    }
}

impl<T> Histograms<T> {
    /// One metric's value.
    #[must_use]
    pub fn get(&self, metric: HistogramMetric) -> Option<&T> {
        match metric {
            HistogramMetric::Ttft => self.ttft_s.as_ref(),
            HistogramMetric::Itl => self.itl_s.as_ref(),
            HistogramMetric::E2e => self.e2e_s.as_ref(),
            HistogramMetric::Queue => self.queue_s.as_ref(),
            HistogramMetric::Prefill => self.prefill_s.as_ref(),
            HistogramMetric::Decode => self.decode_s.as_ref(),
        }
    }

    /// The field holding one metric.
    pub(crate) fn slot(&mut self, metric: HistogramMetric) -> &mut Option<T> {
        match metric {
            HistogramMetric::Ttft => &mut self.ttft_s,
            HistogramMetric::Itl => &mut self.itl_s,
            HistogramMetric::E2e => &mut self.e2e_s,
            HistogramMetric::Queue => &mut self.queue_s,
            HistogramMetric::Prefill => &mut self.prefill_s,
            HistogramMetric::Decode => &mut self.decode_s,
        }
    }
}

//! The nine scalar canonical metrics as one struct.

use serde::Serialize;

use crate::alias::ScalarMetric;

/// The scalar canonical values, one field per [`ScalarMetric`] of the same name: a scrape's
/// ([`crate::CanonicalSnapshot::scalars`]) or what `metrics --json` prints; a metric the
/// server lacks is `None` (absent from the JSON).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[allow(missing_docs)] // each field is the ScalarMetric of the same name
pub struct Scalars {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_running: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_waiting: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_tokens_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_success_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemptions_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_queries_total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hits_total: Option<f64>,
}

impl Scalars {
    /// The value of one metric.
    #[must_use]
    pub fn get(&self, metric: ScalarMetric) -> Option<f64> {
        match metric {
            ScalarMetric::RequestsRunning => self.requests_running,
            ScalarMetric::RequestsWaiting => self.requests_waiting,
            ScalarMetric::KvCacheUsage => self.kv_cache_usage,
            ScalarMetric::PromptTokensTotal => self.prompt_tokens_total,
            ScalarMetric::GenerationTokensTotal => self.generation_tokens_total,
            ScalarMetric::RequestSuccessTotal => self.request_success_total,
            ScalarMetric::PreemptionsTotal => self.preemptions_total,
            ScalarMetric::PrefixCacheQueriesTotal => self.prefix_cache_queries_total,
            ScalarMetric::PrefixCacheHitsTotal => self.prefix_cache_hits_total,
        }
    }

    /// The field holding one metric.
    pub(crate) fn slot(&mut self, metric: ScalarMetric) -> &mut Option<f64> {
        match metric {
            ScalarMetric::RequestsRunning => &mut self.requests_running,
            ScalarMetric::RequestsWaiting => &mut self.requests_waiting,
            ScalarMetric::KvCacheUsage => &mut self.kv_cache_usage,
            ScalarMetric::PromptTokensTotal => &mut self.prompt_tokens_total,
            ScalarMetric::GenerationTokensTotal => &mut self.generation_tokens_total,
            ScalarMetric::RequestSuccessTotal => &mut self.request_success_total,
            ScalarMetric::PreemptionsTotal => &mut self.preemptions_total,
            ScalarMetric::PrefixCacheQueriesTotal => &mut self.prefix_cache_queries_total,
            ScalarMetric::PrefixCacheHitsTotal => &mut self.prefix_cache_hits_total,
        }
    }
}

//! SGLang names: only the `model_name` label, no `_created` series.

use super::{
    Family, GENERATION_TOKENS, H, KV_USAGE, NONE, PROMPT_TOKENS, RUNNING, WAITING, ZERO, counter,
    gauge, histogram,
};

/// Every SGLang family, in print order.
pub(super) const FAMILIES: &[Family] = &[
    gauge(
        "sglang:num_running_reqs",
        "The number of running requests.",
        &[(NONE, RUNNING)],
    ),
    gauge(
        "sglang:num_used_tokens",
        "The number of used tokens.",
        &[(NONE, |n| n.c.kv_used_tokens as f64)],
    ),
    gauge(
        "sglang:token_usage",
        "The token usage.",
        &[(NONE, KV_USAGE)],
    ),
    gauge(
        "sglang:gen_throughput",
        "The generation throughput (token/s).",
        &[(NONE, ZERO)],
    ),
    gauge(
        "sglang:num_queue_reqs",
        "The number of requests in the waiting queue.",
        &[(NONE, WAITING)],
    ),
    gauge(
        "sglang:cache_hit_rate",
        "The prefix cache hit rate.",
        &[(NONE, ZERO)],
    ),
    counter(
        "sglang:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &[(NONE, PROMPT_TOKENS)],
    ),
    counter(
        "sglang:generation_tokens_total",
        "Number of generation tokens processed.",
        &[(NONE, GENERATION_TOKENS)],
    ),
    counter(
        "sglang:num_requests_total",
        "Number of requests processed.",
        &[(NONE, |n| (n.c.success_stop + n.c.success_length) as f64)],
    ),
    histogram(
        "sglang:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        H::Ttft,
    ),
    histogram(
        "sglang:inter_token_latency_seconds",
        "Histogram of inter-token latency in seconds.",
        H::Itl,
    ),
    histogram(
        "sglang:e2e_request_latency_seconds",
        "Histogram of End-to-end request latency in seconds",
        H::E2e,
    ),
];

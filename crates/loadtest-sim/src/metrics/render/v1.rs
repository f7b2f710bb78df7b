//! vLLM V1 (0.32) names: `engine` and `model_name` labels, `_created` series; two families
//! carry other labels, as on the real server.

use super::expo::{Expo, Kind};
use super::{
    Family, GENERATION_TOKENS, H, KV_USAGE, NONE, ONE, PREEMPTIONS, PROMPT_TOKENS, RUNNING,
    SUCCESS_LENGTH, SUCCESS_STOP, State, WAITING, ZERO, counter, gauge, histogram, write_families,
};

/// The counters and gauges with the base labels, in print order.
const SCALARS: &[Family] = &[
    counter(
        "vllm:estimated_flops_per_gpu_total",
        "Estimated number of floating point operations per GPU (for Model Flops Utilization calculations).",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:estimated_read_bytes_per_gpu_total",
        "Estimated number of bytes read from memory per GPU (for Model Flops Utilization calculations).",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:estimated_write_bytes_per_gpu_total",
        "Estimated number of bytes written to memory per GPU (for Model Flops Utilization calculations).",
        &[(NONE, ZERO)],
    ),
    gauge(
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        &[(NONE, RUNNING)],
    ),
    gauge(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        &[(NONE, WAITING)],
    ),
    gauge(
        "vllm:num_requests_waiting_by_reason",
        "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; 'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). Sum of all reasons equals vllm:num_requests_waiting.",
        &[
            (&[("reason", "capacity")], WAITING),
            (&[("reason", "deferred")], ZERO),
        ],
    ),
    gauge(
        "vllm:engine_sleep_state",
        "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep level 2.",
        &[
            (&[("sleep_state", "awake")], ONE),
            (&[("sleep_state", "weights_offloaded")], ZERO),
            (&[("sleep_state", "discard_all")], ZERO),
        ],
    ),
    gauge(
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        &[(NONE, KV_USAGE)],
    ),
    counter(
        "vllm:prefix_cache_queries_total",
        "Prefix cache queries, in terms of number of queried tokens.",
        &[(NONE, PROMPT_TOKENS)],
    ),
    counter(
        "vllm:prefix_cache_hits_total",
        "Prefix cache hits, in terms of number of cached tokens.",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:external_prefix_cache_queries_total",
        "External prefix cache queries from KV connector cross-instance cache sharing, in terms of number of queried tokens.",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:external_prefix_cache_hits_total",
        "External prefix cache hits from KV connector cross-instance cache sharing, in terms of number of cached tokens.",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:mm_cache_queries_total",
        "Multi-modal cache queries, in terms of number of queried items.",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:mm_cache_hits_total",
        "Multi-modal cache hits, in terms of number of cached items.",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:num_preemptions_total",
        "Cumulative number of preemption from the engine.",
        &[(NONE, PREEMPTIONS)],
    ),
    counter(
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &[(NONE, PROMPT_TOKENS)],
    ),
    counter(
        "vllm:prompt_tokens_by_source_total",
        "Number of prompt tokens by source.",
        &[
            (&[("source", "local_compute")], PROMPT_TOKENS),
            (&[("source", "local_cache_hit")], ZERO),
            (&[("source", "external_kv_transfer")], ZERO),
        ],
    ),
    counter(
        "vllm:prompt_tokens_cached_total",
        "Number of cached prompt tokens (local + external).",
        &[(NONE, ZERO)],
    ),
    counter(
        "vllm:prompt_tokens_cached_by_source_total",
        "Prefix-cache hit tokens by the cache tier that supplied them: device (local HBM), host (offloaded to DRAM), disk, p2p (transferred from another vLLM instance) or external_unspecified. Counted at admission; sums to vllm:prefix_cache_hits + vllm:external_prefix_cache_hits.",
        &[
            (&[("source", "device")], ZERO),
            (&[("source", "host")], ZERO),
            (&[("source", "p2p")], ZERO),
            (&[("source", "disk")], ZERO),
            (&[("source", "external_unspecified")], ZERO),
        ],
    ),
    counter(
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        &[(NONE, GENERATION_TOKENS)],
    ),
    counter(
        "vllm:request_success_total",
        "Count of successfully processed requests.",
        &[
            (&[("finished_reason", "stop")], SUCCESS_STOP),
            (&[("finished_reason", "length")], SUCCESS_LENGTH),
            (&[("finished_reason", "abort")], ZERO),
            (&[("finished_reason", "error")], ZERO),
            (&[("finished_reason", "repetition")], ZERO),
        ],
    ),
];

/// A family the real server prints without the `engine` label.
const WITHOUT_ENGINE: &[Family] = &[counter(
    "vllm:admission_rejections_total",
    "Number of admission attempts rejected by a queue limit, by reason.",
    &[
        (&[("reason", "max_num_queued_reqs")], ZERO),
        (&[("reason", "max_num_queued_tokens")], ZERO),
    ],
)];

/// The histograms, in print order.
const HISTOGRAMS: &[Family] = &[
    histogram(
        "vllm:request_prompt_tokens",
        "Number of prefill tokens processed.",
        H::PromptTokens,
    ),
    histogram(
        "vllm:request_generation_tokens",
        "Number of generation tokens processed.",
        H::GenerationTokens,
    ),
    histogram(
        "vllm:iteration_tokens_total",
        "Histogram of number of tokens per engine_step.",
        H::IterationTokens,
    ),
    histogram(
        "vllm:request_max_num_generation_tokens",
        "Histogram of maximum number of requested generation tokens.",
        H::MaxGenerationTokens,
    ),
    histogram(
        "vllm:request_params_n",
        "Histogram of the n request parameter.",
        H::ParamsN,
    ),
    histogram(
        "vllm:request_params_max_tokens",
        "Histogram of the max_tokens request parameter.",
        H::ParamsMaxTokens,
    ),
    histogram(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        H::Ttft,
    ),
    histogram(
        "vllm:inter_token_latency_seconds",
        "Histogram of inter-token latency in seconds.",
        H::Itl,
    ),
    histogram(
        "vllm:request_time_per_output_token_seconds",
        "Histogram of time_per_output_token_seconds per request.",
        H::TpotPerRequest,
    ),
    histogram(
        "vllm:e2e_request_latency_seconds",
        "Histogram of e2e request latency in seconds.",
        H::E2e,
    ),
    histogram(
        "vllm:request_queue_time_seconds",
        "Histogram of time spent in WAITING phase for request.",
        H::Queue,
    ),
    histogram(
        "vllm:request_inference_time_seconds",
        "Histogram of time spent in RUNNING phase for request.",
        H::Inference,
    ),
    histogram(
        "vllm:request_prefill_time_seconds",
        "Histogram of time spent in PREFILL phase for request.",
        H::Prefill,
    ),
    histogram(
        "vllm:request_decode_time_seconds",
        "Histogram of time spent in DECODE phase for request.",
        H::Decode,
    ),
    histogram(
        "vllm:request_num_preemptions",
        "Histogram of the number of times a request was preempted.",
        H::Preemptions,
    ),
    histogram(
        "vllm:request_prefill_kv_computed_tokens",
        "Histogram of new KV tokens computed during prefill (excluding cached tokens).",
        H::PrefillKvComputed,
    ),
];

/// Every V1 family, `vllm:cache_config_info` last.
pub(super) fn write(e: &mut Expo<'_>, s: &State, kv_usage: f64, kv_capacity_tokens: u64) {
    write_families(e, SCALARS, s, kv_usage);
    let without_engine = e
        .base
        .iter()
        .copied()
        .filter(|(k, _)| *k != "engine")
        .collect();
    let base = std::mem::replace(&mut e.base, without_engine);
    write_families(e, WITHOUT_ENGINE, s, kv_usage);
    e.base = base;
    write_families(e, HISTOGRAMS, s, kv_usage);
    cache_config_info(e, kv_capacity_tokens);
}

/// `vllm:cache_config_info`: an info gauge whose line carries `engine` but not `model_name`.
fn cache_config_info(e: &mut Expo<'_>, kv_capacity_tokens: u64) {
    let blocks = (kv_capacity_tokens / 16).to_string();
    let tokens = kv_capacity_tokens.to_string();
    let base = std::mem::replace(&mut e.base, vec![("engine", "0")]);
    e.header(
        "vllm:cache_config_info",
        "Information of the LLMEngine CacheConfig",
        Kind::Gauge,
    );
    e.line(
        "vllm:cache_config_info",
        &[
            ("block_size", "16"),
            ("cache_dtype", "auto"),
            ("enable_prefix_caching", "False"),
            ("gpu_memory_utilization", "0.9"),
            ("kv_cache_size_tokens", &tokens),
            ("num_gpu_blocks", &blocks),
        ],
        1.0,
    );
    e.base = base;
}

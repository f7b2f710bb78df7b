//! Legacy vLLM V0 names: only the `model_name` label, no `_created` series.

use super::{
    Family, GENERATION_TOKENS, H, KV_USAGE, NONE, PREEMPTIONS, PROMPT_TOKENS, RUNNING,
    SUCCESS_LENGTH, SUCCESS_STOP, WAITING, ZERO, counter, gauge, histogram,
};

/// Every V0 family, in print order.
pub(super) const FAMILIES: &[Family] = &[
    gauge(
        "vllm:num_requests_running",
        "Number of requests currently running on GPU.",
        &[(NONE, RUNNING)],
    ),
    gauge(
        "vllm:num_requests_swapped",
        "Number of requests swapped to CPU.",
        &[(NONE, ZERO)],
    ),
    gauge(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        &[(NONE, WAITING)],
    ),
    gauge(
        "vllm:gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage.",
        &[(NONE, KV_USAGE)],
    ),
    gauge(
        "vllm:cpu_cache_usage_perc",
        "CPU KV-cache usage. 1 means 100 percent usage.",
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
        ],
    ),
    histogram(
        "vllm:iteration_tokens_total",
        "Histogram of number of tokens per engine_step.",
        H::IterationTokens,
    ),
    histogram(
        "vllm:time_to_first_token_seconds",
        "Histogram of time to first token in seconds.",
        H::Ttft,
    ),
    histogram(
        "vllm:time_per_output_token_seconds",
        "Histogram of time per output token in seconds.",
        H::Itl,
    ),
    histogram(
        "vllm:e2e_request_latency_seconds",
        "Histogram of end to end request latency in seconds.",
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
];

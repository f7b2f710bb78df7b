//! The exposition text, in vLLM V1, vLLM V0 or SGLang names.

use std::fmt::Write as _;

use super::number::go_float;
use super::{H, Hist, Metrics, State};
use crate::MetricsFlavor;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// Writes families in the 0.0.4 text format the way prometheus_client does.
struct Expo<'a> {
    out: String,
    base: Vec<(&'static str, &'a str)>,
    created: Option<String>,
}

impl<'a> Expo<'a> {
    fn header(&mut self, name: &str, help: &str, kind: Kind) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    fn line(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        self.raw_line(name, extra, &go_float(value));
    }

    fn raw_line(&mut self, name: &str, extra: &[(&str, &str)], value: &str) {
        let mut labels: Vec<(&str, &str)> = self.base.clone();
        labels.extend_from_slice(extra);
        labels.sort_by(|a, b| a.0.cmp(b.0));
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A counter (name ends in `_total`) with one child per `children` entry.
    fn counter(&mut self, name: &str, help: &str, children: &[(&[(&str, &str)], f64)]) {
        self.header(name, help, Kind::Counter);
        for (labels, v) in children {
            self.line(name, labels, *v);
        }
        let base = name.strip_suffix("_total").unwrap_or(name);
        let labels: Vec<&[(&str, &str)]> = children.iter().map(|c| c.0).collect();
        self.created_family(&format!("{base}_created"), help, &labels);
    }

    fn gauge(&mut self, name: &str, help: &str, children: &[(&[(&str, &str)], f64)]) {
        self.header(name, help, Kind::Gauge);
        for (labels, v) in children {
            self.line(name, labels, *v);
        }
    }

    fn histogram(&mut self, name: &str, help: &str, hist: &Hist) {
        self.header(name, help, Kind::Histogram);
        let bucket = format!("{name}_bucket");
        for (le, count) in hist.cumulative() {
            let le = go_float(le);
            self.line(&bucket, &[("le", &le)], count as f64);
        }
        self.line(&format!("{name}_count"), &[], hist.count() as f64);
        self.line(&format!("{name}_sum"), &[], hist.sum());
        self.created_family(&format!("{name}_created"), help, &[NONE]);
    }

    /// The `_created` gauge family prometheus_client prints after a counter or histogram.
    fn created_family(&mut self, name: &str, help: &str, children: &[&[(&str, &str)]]) {
        let Some(created) = self.created.clone() else {
            return;
        };
        self.header(name, help, Kind::Gauge);
        for labels in children {
            self.raw_line(name, labels, &created);
        }
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `/metrics` body for `flavor`.
pub(crate) fn render(metrics: &Metrics, flavor: MetricsFlavor, model: &str) -> String {
    let state = metrics.lock().clone();
    let kv_usage = if metrics.kv_capacity_tokens == 0 {
        0.0
    } else {
        (state.scalars.kv_used_tokens as f64 / metrics.kv_capacity_tokens as f64).min(1.0)
    };
    let mut e = Expo {
        out: String::with_capacity(48 * 1024),
        base: match flavor {
            MetricsFlavor::V1 => vec![("engine", "0"), ("model_name", model)],
            MetricsFlavor::V0 | MetricsFlavor::Sglang => vec![("model_name", model)],
        },
        created: match flavor {
            MetricsFlavor::V1 => Some(go_float(metrics.created_unix_s)),
            MetricsFlavor::V0 | MetricsFlavor::Sglang => None,
        },
    };
    match flavor {
        MetricsFlavor::V1 => v1(&mut e, &state, kv_usage, metrics),
        MetricsFlavor::V0 => v0(&mut e, &state, kv_usage),
        MetricsFlavor::Sglang => sglang(&mut e, &state, kv_usage),
    }
    sim_own(&mut e, &state);
    e.out
}

const NONE: &[(&str, &str)] = &[];

fn v1(e: &mut Expo<'_>, s: &State, kv_usage: f64, m: &Metrics) {
    let c = &s.scalars;
    for (name, help) in [
        (
            "vllm:estimated_flops_per_gpu_total",
            "Estimated number of floating point operations per GPU (for Model Flops Utilization calculations).",
        ),
        (
            "vllm:estimated_read_bytes_per_gpu_total",
            "Estimated number of bytes read from memory per GPU (for Model Flops Utilization calculations).",
        ),
        (
            "vllm:estimated_write_bytes_per_gpu_total",
            "Estimated number of bytes written to memory per GPU (for Model Flops Utilization calculations).",
        ),
    ] {
        e.counter(name, help, &[(NONE, 0.0)]);
    }
    e.gauge(
        "vllm:num_requests_running",
        "Number of requests in model execution batches.",
        &[(NONE, c.running as f64)],
    );
    e.gauge(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        &[(NONE, c.waiting as f64)],
    );
    e.gauge(
        "vllm:num_requests_waiting_by_reason",
        "Number of waiting requests by reason. Reason labels: 'capacity' = waiting for scheduling capacity; 'deferred' = deferred by transient constraints (LoRA budget, KV transfer, blocked status). Sum of all reasons equals vllm:num_requests_waiting.",
        &[(&[("reason", "capacity")], c.waiting as f64), (&[("reason", "deferred")], 0.0)],
    );
    e.gauge(
        "vllm:engine_sleep_state",
        "Engine sleep state; awake = 0 means engine is sleeping; awake = 1 means engine is awake; weights_offloaded = 1 means sleep level 1; discard_all = 1 means sleep level 2.",
        &[(&[("sleep_state", "awake")], 1.0), (&[("sleep_state", "weights_offloaded")], 0.0), (&[("sleep_state", "discard_all")], 0.0)],
    );
    e.gauge(
        "vllm:kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        &[(NONE, kv_usage)],
    );
    let prompt = c.prompt_tokens as f64;
    e.counter(
        "vllm:prefix_cache_queries_total",
        "Prefix cache queries, in terms of number of queried tokens.",
        &[(NONE, prompt)],
    );
    e.counter(
        "vllm:prefix_cache_hits_total",
        "Prefix cache hits, in terms of number of cached tokens.",
        &[(NONE, 0.0)],
    );
    e.counter("vllm:external_prefix_cache_queries_total", "External prefix cache queries from KV connector cross-instance cache sharing, in terms of number of queried tokens.", &[(NONE, 0.0)]);
    e.counter("vllm:external_prefix_cache_hits_total", "External prefix cache hits from KV connector cross-instance cache sharing, in terms of number of cached tokens.", &[(NONE, 0.0)]);
    e.counter(
        "vllm:mm_cache_queries_total",
        "Multi-modal cache queries, in terms of number of queried items.",
        &[(NONE, 0.0)],
    );
    e.counter(
        "vllm:mm_cache_hits_total",
        "Multi-modal cache hits, in terms of number of cached items.",
        &[(NONE, 0.0)],
    );
    e.counter(
        "vllm:num_preemptions_total",
        "Cumulative number of preemption from the engine.",
        &[(NONE, c.preemptions as f64)],
    );
    e.counter(
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &[(NONE, prompt)],
    );
    e.counter(
        "vllm:prompt_tokens_by_source_total",
        "Number of prompt tokens by source.",
        &[
            (&[("source", "local_compute")], prompt),
            (&[("source", "local_cache_hit")], 0.0),
            (&[("source", "external_kv_transfer")], 0.0),
        ],
    );
    e.counter(
        "vllm:prompt_tokens_cached_total",
        "Number of cached prompt tokens (local + external).",
        &[(NONE, 0.0)],
    );
    e.counter(
        "vllm:prompt_tokens_cached_by_source_total",
        "Prefix-cache hit tokens by the cache tier that supplied them: device (local HBM), host (offloaded to DRAM), disk, p2p (transferred from another vLLM instance) or external_unspecified. Counted at admission; sums to vllm:prefix_cache_hits + vllm:external_prefix_cache_hits.",
        &[(&[("source", "device")], 0.0), (&[("source", "host")], 0.0), (&[("source", "p2p")], 0.0), (&[("source", "disk")], 0.0), (&[("source", "external_unspecified")], 0.0)],
    );
    e.counter(
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        &[(NONE, c.generation_tokens as f64)],
    );
    e.counter(
        "vllm:request_success_total",
        "Count of successfully processed requests.",
        &[
            (&[("finished_reason", "stop")], c.success_stop as f64),
            (&[("finished_reason", "length")], c.success_length as f64),
            (&[("finished_reason", "abort")], 0.0),
            (&[("finished_reason", "error")], 0.0),
            (&[("finished_reason", "repetition")], 0.0),
        ],
    );
    // This family has no `engine` label on the real server.
    let without_engine = e
        .base
        .iter()
        .copied()
        .filter(|(k, _)| *k != "engine")
        .collect();
    let base = std::mem::replace(&mut e.base, without_engine);
    e.counter(
        "vllm:admission_rejections_total",
        "Number of admission attempts rejected by a queue limit, by reason.",
        &[
            (&[("reason", "max_num_queued_reqs")], 0.0),
            (&[("reason", "max_num_queued_tokens")], 0.0),
        ],
    );
    e.base = base;
    for (name, help, id) in [
        (
            "vllm:request_prompt_tokens",
            "Number of prefill tokens processed.",
            H::PromptTokens,
        ),
        (
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            H::GenerationTokens,
        ),
        (
            "vllm:iteration_tokens_total",
            "Histogram of number of tokens per engine_step.",
            H::IterationTokens,
        ),
        (
            "vllm:request_max_num_generation_tokens",
            "Histogram of maximum number of requested generation tokens.",
            H::MaxGenerationTokens,
        ),
        (
            "vllm:request_params_n",
            "Histogram of the n request parameter.",
            H::ParamsN,
        ),
        (
            "vllm:request_params_max_tokens",
            "Histogram of the max_tokens request parameter.",
            H::ParamsMaxTokens,
        ),
        (
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            H::Ttft,
        ),
        (
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            H::Itl,
        ),
        (
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            H::TpotPerRequest,
        ),
        (
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            H::E2e,
        ),
        (
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            H::Queue,
        ),
        (
            "vllm:request_inference_time_seconds",
            "Histogram of time spent in RUNNING phase for request.",
            H::Inference,
        ),
        (
            "vllm:request_prefill_time_seconds",
            "Histogram of time spent in PREFILL phase for request.",
            H::Prefill,
        ),
        (
            "vllm:request_decode_time_seconds",
            "Histogram of time spent in DECODE phase for request.",
            H::Decode,
        ),
        (
            "vllm:request_num_preemptions",
            "Histogram of the number of times a request was preempted.",
            H::Preemptions,
        ),
        (
            "vllm:request_prefill_kv_computed_tokens",
            "Histogram of new KV tokens computed during prefill (excluding cached tokens).",
            H::PrefillKvComputed,
        ),
    ] {
        e.histogram(name, help, s.hist(id));
    }
    let blocks = (m.kv_capacity_tokens / 16).to_string();
    let tokens = m.kv_capacity_tokens.to_string();
    // The real line carries `engine` but not `model_name`.
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

fn v0(e: &mut Expo<'_>, s: &State, kv_usage: f64) {
    let c = &s.scalars;
    e.gauge(
        "vllm:num_requests_running",
        "Number of requests currently running on GPU.",
        &[(NONE, c.running as f64)],
    );
    e.gauge(
        "vllm:num_requests_swapped",
        "Number of requests swapped to CPU.",
        &[(NONE, 0.0)],
    );
    e.gauge(
        "vllm:num_requests_waiting",
        "Number of requests waiting to be processed.",
        &[(NONE, c.waiting as f64)],
    );
    e.gauge(
        "vllm:gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage.",
        &[(NONE, kv_usage)],
    );
    e.gauge(
        "vllm:cpu_cache_usage_perc",
        "CPU KV-cache usage. 1 means 100 percent usage.",
        &[(NONE, 0.0)],
    );
    e.counter(
        "vllm:num_preemptions_total",
        "Cumulative number of preemption from the engine.",
        &[(NONE, c.preemptions as f64)],
    );
    e.counter(
        "vllm:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &[(NONE, c.prompt_tokens as f64)],
    );
    e.counter(
        "vllm:generation_tokens_total",
        "Number of generation tokens processed.",
        &[(NONE, c.generation_tokens as f64)],
    );
    e.counter(
        "vllm:request_success_total",
        "Count of successfully processed requests.",
        &[
            (&[("finished_reason", "stop")], c.success_stop as f64),
            (&[("finished_reason", "length")], c.success_length as f64),
            (&[("finished_reason", "abort")], 0.0),
        ],
    );
    for (name, help, id) in [
        (
            "vllm:iteration_tokens_total",
            "Histogram of number of tokens per engine_step.",
            H::IterationTokens,
        ),
        (
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            H::Ttft,
        ),
        (
            "vllm:time_per_output_token_seconds",
            "Histogram of time per output token in seconds.",
            H::Itl,
        ),
        (
            "vllm:e2e_request_latency_seconds",
            "Histogram of end to end request latency in seconds.",
            H::E2e,
        ),
        (
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            H::Queue,
        ),
        (
            "vllm:request_inference_time_seconds",
            "Histogram of time spent in RUNNING phase for request.",
            H::Inference,
        ),
        (
            "vllm:request_prefill_time_seconds",
            "Histogram of time spent in PREFILL phase for request.",
            H::Prefill,
        ),
        (
            "vllm:request_decode_time_seconds",
            "Histogram of time spent in DECODE phase for request.",
            H::Decode,
        ),
        (
            "vllm:request_prompt_tokens",
            "Number of prefill tokens processed.",
            H::PromptTokens,
        ),
        (
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            H::GenerationTokens,
        ),
        (
            "vllm:request_max_num_generation_tokens",
            "Histogram of maximum number of requested generation tokens.",
            H::MaxGenerationTokens,
        ),
        (
            "vllm:request_params_n",
            "Histogram of the n request parameter.",
            H::ParamsN,
        ),
        (
            "vllm:request_params_max_tokens",
            "Histogram of the max_tokens request parameter.",
            H::ParamsMaxTokens,
        ),
    ] {
        e.histogram(name, help, s.hist(id));
    }
}

fn sglang(e: &mut Expo<'_>, s: &State, kv_usage: f64) {
    let c = &s.scalars;
    e.gauge(
        "sglang:num_running_reqs",
        "The number of running requests.",
        &[(NONE, c.running as f64)],
    );
    e.gauge(
        "sglang:num_used_tokens",
        "The number of used tokens.",
        &[(NONE, c.kv_used_tokens as f64)],
    );
    e.gauge(
        "sglang:token_usage",
        "The token usage.",
        &[(NONE, kv_usage)],
    );
    e.gauge(
        "sglang:gen_throughput",
        "The generation throughput (token/s).",
        &[(NONE, 0.0)],
    );
    e.gauge(
        "sglang:num_queue_reqs",
        "The number of requests in the waiting queue.",
        &[(NONE, c.waiting as f64)],
    );
    e.gauge(
        "sglang:cache_hit_rate",
        "The prefix cache hit rate.",
        &[(NONE, 0.0)],
    );
    e.counter(
        "sglang:prompt_tokens_total",
        "Number of prefill tokens processed.",
        &[(NONE, c.prompt_tokens as f64)],
    );
    e.counter(
        "sglang:generation_tokens_total",
        "Number of generation tokens processed.",
        &[(NONE, c.generation_tokens as f64)],
    );
    e.counter(
        "sglang:num_requests_total",
        "Number of requests processed.",
        &[(NONE, (c.success_stop + c.success_length) as f64)],
    );
    for (name, help, id) in [
        (
            "sglang:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            H::Ttft,
        ),
        (
            "sglang:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            H::Itl,
        ),
        (
            "sglang:e2e_request_latency_seconds",
            "Histogram of End-to-end request latency in seconds",
            H::E2e,
        ),
    ] {
        e.histogram(name, help, s.hist(id));
    }
}

/// The simulator's own metrics: the same in every flavor, never `_created`.
fn sim_own(e: &mut Expo<'_>, s: &State) {
    e.created = None;
    e.base.clear();
    e.counter(
        "loadtest_sim:token_events_total",
        "Token events the simulator wrote to sockets.",
        &[(NONE, s.scalars.token_events as f64)],
    );
    e.histogram(
        "loadtest_sim:event_lateness_seconds",
        "How late each token event left the simulator, against its own schedule (actual write minus scheduled time).",
        s.hist(H::Lateness),
    );
}

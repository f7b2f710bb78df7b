//! [`SimConfig`]: every setting of the simulator, with its default.

use std::time::Duration;

use crate::SimError;
use crate::tokens::SimTokenizer;

/// Longest duration any timing setting may have (larger ones would overflow deadlines).
const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// How the simulator decides when tokens come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Every request sees exactly `ttft` and then one event every `itl`, on absolute deadlines
    /// from its arrival, whatever the load. For calibrating a client.
    Fixed,
    /// A continuous-batching engine loop: a bounded running batch, a waiting queue, chunked
    /// prefill, and an iteration time that grows with the batch. The default.
    Batching,
}

/// Which server's metric names `/metrics` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsFlavor {
    /// vLLM V1 (0.32) names, `engine` and `model_name` labels, `_created` series. The default.
    V1,
    /// Legacy vLLM V0 names (`gpu_cache_usage_perc`, `time_per_output_token_seconds`, …), only
    /// the `model_name` label, no `_created` series.
    V0,
    /// SGLang names (`sglang:num_running_reqs`, `sglang:num_queue_reqs`, …).
    Sglang,
}

/// Per-request fault probabilities (each in `0.0..=1.0`) and the `/metrics` faults.
///
/// Each generation request draws, from the seed and its sequence number, whether each fault
/// hits it; at most one fault applies to a request, checked in the order of the fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Answer `500` with a vLLM-shaped error body instead of generating.
    pub http_500: f64,
    /// Answer `429` with an error body instead of generating.
    pub http_429: f64,
    /// Close the connection in the middle of the stream (after a seeded number of events).
    pub disconnect: f64,
    /// Stop sending for [`Faults::stall`] in the middle of the stream, then go on.
    pub stall_probability: f64,
    /// How long a stall lasts.
    pub stall: Duration,
    /// Send one event whose JSON is cut in half (the stream then goes on).
    pub malformed: f64,
    /// Hold every event of a streamed response and send them all at the end, in one write:
    /// what a buffering proxy (nginx `proxy_buffering on`) or a server that flushes late
    /// delivers. The engine-side timings (and `/metrics`) are unchanged.
    pub buffer: f64,
    /// Delay every `/metrics` answer by this much.
    pub metrics_delay: Duration,
    /// Probability that a `/metrics` answer is garbage instead of the exposition text.
    pub metrics_garbage: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            http_500: 0.0,
            http_429: 0.0,
            disconnect: 0.0,
            stall_probability: 0.0,
            stall: Duration::from_secs(5),
            malformed: 0.0,
            buffer: 0.0,
            metrics_delay: Duration::ZERO,
            metrics_garbage: 0.0,
        }
    }
}

/// Everything the simulator can be told. `SimConfig::default()` is what `vllm-loadtest sim`
/// runs with no flags.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Host name or address to bind (`127.0.0.1`).
    pub host: String,
    /// Port to bind; `0` picks a free one (`8000`).
    pub port: u16,
    /// The one model name served (`tiny-llama`, like the reference capture).
    pub model: String,
    /// Context length: prompt + output tokens (`8192`).
    pub max_model_len: u64,
    /// What `/version` reports (`0.32.0`).
    pub server_version: String,
    /// The timing model (`batching`).
    pub profile: Profile,
    /// `fixed`: arrival to first token event (`100 ms`).
    pub ttft: Duration,
    /// `fixed`: gap between token events (`20 ms`).
    pub itl: Duration,
    /// `batching`: most sequences running at once (`32`).
    pub max_num_seqs: u32,
    /// `batching`: most tokens prefilled plus decoded in one iteration (`8192`).
    pub max_num_batched_tokens: u64,
    /// `batching`: KV-cache capacity in tokens (`262144`); when full, the newest sequence is
    /// preempted and recomputed later.
    pub kv_cache_tokens: u64,
    /// `batching`: fixed part of an iteration (`5 ms`).
    pub step_base: Duration,
    /// `batching`: added per running sequence (`0.5 ms`).
    pub step_per_seq: Duration,
    /// `batching`: added per prompt token prefilled in the iteration (`0.02 ms`).
    pub prefill_per_token: Duration,
    /// Tokens carried by one stream event (`1`); like speculative decoding, an engine step
    /// yields this many tokens per sequence.
    pub tokens_per_chunk: u32,
    /// Mean natural output length in tokens when the request does not set `ignore_eos`
    /// (`256`); lengths are exponential with this mean, at least 1, seeded per request.
    pub mean_output_tokens: u64,
    /// Seed of every random choice (`0`).
    pub seed: u64,
    /// Metric names served at `/metrics` (`v1`).
    pub metrics_flavor: MetricsFlavor,
    /// Fault injection (all off).
    pub faults: Faults,
    /// Count prompt tokens with this tokenizer (`--tokenizer`) instead of words (`None`).
    pub tokenizer: Option<SimTokenizer>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            host: "127.0.0.1".to_owned(),
            port: 8000,
            model: "tiny-llama".to_owned(),
            max_model_len: 8192,
            server_version: "0.32.0".to_owned(),
            profile: Profile::Batching,
            ttft: Duration::from_millis(100),
            itl: Duration::from_millis(20),
            max_num_seqs: 32,
            max_num_batched_tokens: 8192,
            kv_cache_tokens: 262_144,
            step_base: Duration::from_millis(5),
            step_per_seq: Duration::from_micros(500),
            prefill_per_token: Duration::from_micros(20),
            tokens_per_chunk: 1,
            mean_output_tokens: 256,
            seed: 0,
            metrics_flavor: MetricsFlavor::V1,
            faults: Faults::default(),
            tokenizer: None,
        }
    }
}

impl SimConfig {
    /// A default config bound to `127.0.0.1:0` (a free port): what tests want.
    pub fn ephemeral() -> Self {
        SimConfig {
            port: 0,
            ..SimConfig::default()
        }
    }

    /// Checks every field; the error names the field, the value and what is allowed.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |field: &'static str, value: String, expected: &'static str| {
            Err(SimError::Config {
                field,
                value,
                expected,
            })
        };
        if self.model.is_empty() {
            return bad("model", String::new(), "a non-empty model name");
        }
        if self.max_model_len == 0 {
            return bad("max_model_len", "0".into(), "at least 1 token");
        }
        if self.max_num_seqs == 0 {
            return bad("max_num_seqs", "0".into(), "at least 1");
        }
        if self.max_num_batched_tokens < u64::from(self.max_num_seqs) {
            return bad(
                "max_num_batched_tokens",
                self.max_num_batched_tokens.to_string(),
                "at least max_num_seqs, so every running sequence can decode",
            );
        }
        if self.kv_cache_tokens < self.max_model_len {
            return bad(
                "kv_cache_tokens",
                self.kv_cache_tokens.to_string(),
                "at least max_model_len, so one full-length request fits",
            );
        }
        if self.tokens_per_chunk == 0 {
            return bad("tokens_per_chunk", "0".into(), "at least 1");
        }
        if self.mean_output_tokens == 0 {
            return bad("mean_output_tokens", "0".into(), "at least 1");
        }
        if self.profile == Profile::Batching
            && self.step_base.is_zero()
            && self.step_per_seq.is_zero()
        {
            return bad(
                "step_base",
                "0".into(),
                "a non-zero step_base or step_per_seq (an iteration must take time)",
            );
        }
        if self.profile == Profile::Fixed && self.itl.is_zero() {
            return bad("itl", "0".into(), "a positive inter-token gap");
        }
        let durations = [
            ("ttft", self.ttft),
            ("itl", self.itl),
            ("step_base", self.step_base),
            ("step_per_seq", self.step_per_seq),
            ("prefill_per_token", self.prefill_per_token),
            ("stall", self.faults.stall),
            ("metrics_delay", self.faults.metrics_delay),
        ];
        for (field, d) in durations {
            if d > MAX_DURATION {
                return bad(field, format!("{d:?}"), "at most one day");
            }
        }
        let probabilities = [
            ("fault_http_500", self.faults.http_500),
            ("fault_429", self.faults.http_429),
            ("fault_disconnect", self.faults.disconnect),
            ("fault_stall", self.faults.stall_probability),
            ("fault_malformed", self.faults.malformed),
            ("fault_buffer", self.faults.buffer),
            ("metrics_garbage", self.faults.metrics_garbage),
        ];
        for (field, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return bad(field, p.to_string(), "a probability in 0.0..=1.0");
            }
        }
        Ok(())
    }
}

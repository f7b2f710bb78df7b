//! The engine's own numbers, kept as Prometheus counters, gauges and histograms, and served at
//! `/metrics` in the configured flavor.

mod number;
mod render;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub(crate) use render::render;

use crate::chunks::FinishReason;

/// vLLM's `time_to_first_token` buckets (from the 0.32 capture).
const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
/// vLLM's `inter_token_latency` buckets.
const ITL_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
];
/// vLLM's `request_latency` buckets (e2e, queue, inference, prefill, decode).
const LATENCY_BUCKETS: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];
/// vLLM's `iteration_tokens` buckets.
const ITERATION_BUCKETS: &[f64] = &[
    1.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0,
];
/// `request_params_n` buckets.
const N_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0];
/// `request_num_preemptions` buckets.
const PREEMPTION_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0];
/// The simulator's lateness buckets (its own metric).
const LATENESS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// One Prometheus histogram: cumulative on output, per-bucket here.
#[derive(Debug, Clone)]
pub(crate) struct Hist {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Hist {
    fn new(bounds: &[f64]) -> Self {
        Hist {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds one observation.
    pub(crate) fn observe(&mut self, value: f64) {
        let at = self.bounds.partition_point(|&b| b < value);
        if let Some(c) = self.counts.get_mut(at) {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    /// `(le, cumulative count)` for every bucket, `+Inf` last.
    pub(crate) fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let mut running = 0u64;
        self.bounds
            .iter()
            .zip(&self.counts)
            .map(move |(&b, &c)| {
                running += c;
                (b, running)
            })
            .chain(std::iter::once((f64::INFINITY, self.count)))
    }

    /// Number of observations.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Sum of observations.
    pub(crate) fn sum(&self) -> f64 {
        self.sum
    }
}

/// The histograms kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum H {
    Ttft,
    Itl,
    TpotPerRequest,
    E2e,
    Queue,
    Inference,
    Prefill,
    Decode,
    PromptTokens,
    GenerationTokens,
    IterationTokens,
    MaxGenerationTokens,
    ParamsN,
    ParamsMaxTokens,
    Preemptions,
    PrefillKvComputed,
    Lateness,
}

const HIST_COUNT: usize = 17;

/// Counters and gauges (gauges are set by whoever runs the engine).
#[derive(Debug, Clone, Default)]
pub(crate) struct Scalars {
    pub(crate) prompt_tokens: u64,
    pub(crate) generation_tokens: u64,
    /// Finished requests by reason: stop, length.
    pub(crate) success_stop: u64,
    pub(crate) success_length: u64,
    pub(crate) preemptions: u64,
    pub(crate) token_events: u64,
    pub(crate) running: u64,
    pub(crate) waiting: u64,
    /// KV tokens in use (the gauge is this over the capacity).
    pub(crate) kv_used_tokens: u64,
}

/// Everything `/metrics` shows.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) scalars: Scalars,
    hists: Vec<Hist>,
}

impl State {
    /// A histogram.
    pub(crate) fn hist(&self, id: H) -> &Hist {
        &self.hists[id as usize]
    }

    /// Observes `value` into histogram `id`.
    pub(crate) fn observe(&mut self, id: H, value: f64) {
        self.hists[id as usize].observe(value);
    }
}

/// One finished (or abandoned) request, as the engine saw it.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) prompt_tokens: u64,
    pub(crate) generated: u64,
    pub(crate) max_tokens_param: Option<u64>,
    pub(crate) max_tokens: u64,
    /// `None`: aborted (client gone); counted in tokens, not in `request_success_total`.
    pub(crate) reason: Option<FinishReason>,
    pub(crate) preemptions: u32,
    pub(crate) queue: Duration,
    pub(crate) prefill: Duration,
    pub(crate) decode: Duration,
    pub(crate) e2e: Duration,
}

/// The shared metric store.
#[derive(Debug)]
pub(crate) struct Metrics {
    state: Mutex<State>,
    /// Unix time the simulator started: the value of every `_created` series.
    pub(crate) created_unix_s: f64,
    /// KV capacity, for the usage gauge.
    pub(crate) kv_capacity_tokens: u64,
}

impl Metrics {
    /// Empty metrics.
    pub(crate) fn new(created_unix_s: f64, kv_capacity_tokens: u64, max_model_len: u64) -> Self {
        let tokens = request_token_buckets(max_model_len);
        let hists: [(H, &[f64]); HIST_COUNT] = [
            (H::Ttft, TTFT_BUCKETS),
            (H::Itl, ITL_BUCKETS),
            (H::TpotPerRequest, ITL_BUCKETS),
            (H::E2e, LATENCY_BUCKETS),
            (H::Queue, LATENCY_BUCKETS),
            (H::Inference, LATENCY_BUCKETS),
            (H::Prefill, LATENCY_BUCKETS),
            (H::Decode, LATENCY_BUCKETS),
            (H::PromptTokens, &tokens),
            (H::GenerationTokens, &tokens),
            (H::IterationTokens, ITERATION_BUCKETS),
            (H::MaxGenerationTokens, &tokens),
            (H::ParamsN, N_BUCKETS),
            (H::ParamsMaxTokens, &tokens),
            (H::Preemptions, PREEMPTION_BUCKETS),
            (H::PrefillKvComputed, &tokens),
            (H::Lateness, LATENESS_BUCKETS),
        ];
        debug_assert_eq!(hists.len(), HIST_COUNT);
        debug_assert!(
            hists
                .iter()
                .enumerate()
                .all(|(i, (id, _))| *id as usize == i)
        );
        Metrics {
            state: Mutex::new(State {
                scalars: Scalars::default(),
                hists: hists.iter().map(|(_, b)| Hist::new(b)).collect(),
            }),
            created_unix_s,
            kv_capacity_tokens,
        }
    }

    /// Locks the store (a poisoned lock still holds valid numbers).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a finished or aborted request.
    pub(crate) fn finish(&self, f: &Finished) {
        let mut s = self.lock();
        s.scalars.prompt_tokens += f.prompt_tokens;
        s.scalars.generation_tokens += f.generated;
        match f.reason {
            Some(FinishReason::Stop) => s.scalars.success_stop += 1,
            Some(FinishReason::Length) => s.scalars.success_length += 1,
            None => return,
        }
        s.observe(H::E2e, f.e2e.as_secs_f64());
        s.observe(H::Queue, f.queue.as_secs_f64());
        s.observe(H::Prefill, f.prefill.as_secs_f64());
        s.observe(H::Decode, f.decode.as_secs_f64());
        s.observe(H::Inference, (f.prefill + f.decode).as_secs_f64());
        let tpot = if f.generated > 1 {
            f.decode.as_secs_f64() / (f.generated - 1) as f64
        } else {
            0.0
        };
        s.observe(H::TpotPerRequest, tpot);
        s.observe(H::PromptTokens, f.prompt_tokens as f64);
        s.observe(H::GenerationTokens, f.generated as f64);
        s.observe(H::MaxGenerationTokens, f.max_tokens as f64);
        s.observe(H::ParamsN, 1.0);
        if let Some(param) = f.max_tokens_param {
            s.observe(H::ParamsMaxTokens, param as f64);
        }
        s.observe(H::Preemptions, f64::from(f.preemptions));
        s.observe(H::PrefillKvComputed, f.prompt_tokens as f64);
    }
}

/// 1, 2, 5, 10, 20, 50, … up to `max_model_len` (vLLM's `build_1_2_5_buckets`).
fn request_token_buckets(max_model_len: u64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut decade = 1u64;
    'outer: loop {
        for m in [1u64, 2, 5] {
            let v = m.saturating_mul(decade);
            if v > max_model_len {
                break 'outer;
            }
            out.push(v as f64);
        }
        decade = decade.saturating_mul(10);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_buckets_like_the_capture() {
        assert_eq!(
            request_token_buckets(2048),
            [
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0
            ]
        );
    }

    #[test]
    fn hist_is_cumulative() {
        let mut h = Hist::new(&[1.0, 2.0]);
        for v in [0.5, 1.0, 1.5, 3.0] {
            h.observe(v);
        }
        let c: Vec<_> = h.cumulative().collect();
        assert_eq!(c, [(1.0, 2), (2.0, 3), (f64::INFINITY, 4)]);
        assert_eq!(h.sum(), 6.0);
    }
}

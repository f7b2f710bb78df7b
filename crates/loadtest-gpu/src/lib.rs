//! GPU telemetry for load tests, from the tool every GPU box has: `nvidia-smi`.
//!
//! - [`GpuPoller`] runs **one** long-lived
//!   `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits -lms <ms>` child, reads it
//!   line by line and queues [`GpuSample`]s stamped with our own clock, for any number of GPUs.
//!   It probes the field list once and falls back when nvidia-smi rejects a field; `[N/A]`,
//!   `[Not Supported]`, any `[…]` and empty fields are `None`; malformed lines are skipped and
//!   counted; a dead child is restarted with bounded backoff. A missing binary or driver is a
//!   status and a warning, never an error — the caller goes on without GPU numbers.
//! - [`StepAggregator`] turns the samples of a step window into
//!   [`GpuStepStats`](loadtest_run::GpuStepStats) per GPU (the run folder's type):
//!   utilisation mean/max, memory max, power mean/max, energy (trapezoidal integral, J),
//!   temperature max, SM clock mean. `loadtest_run::tokens_per_joule` divides a token count
//!   by it.
//!
//! Aggregating samples (runnable; in a run they come from [`GpuPoller::drain`]):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use loadtest_gpu::{GpuSample, StepAggregator};
//! use loadtest_run::GpuReading;
//! use loadtest_run::{tokens_per_joule, total_energy_j};
//!
//! let start = Instant::now();
//! let end = start + Duration::from_secs(10);
//! let mut agg = StepAggregator::new(start, end);
//! for i in 0..=20u32 {
//!     let at = start + Duration::from_millis(500) * i;
//!     let reading = GpuReading { gpu: 0, power_w: Some(300.0), util_gpu_pct: Some(90.0), ..GpuReading::default() };
//!     agg.push(&GpuSample { at, unix_s: 0.0, child_run: 0, reading });
//! }
//! let stats = agg.finish();
//! let energy_j = total_energy_j(&stats).unwrap();
//! assert!((energy_j - 3000.0).abs() < 1e-6); // 300 W for 10 s
//! assert_eq!(stats[0].util_gpu_max_pct, Some(90.0));
//! assert_eq!(tokens_per_joule(6_000, energy_j), Some(2.0));
//! ```
//!
//! Polling (needs nvidia-smi; without it the status says why and there are no samples):
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//! use loadtest_gpu::{GpuPoller, GpuPollerConfig};
//!
//! # async fn demo() {
//! let mut poller = GpuPoller::start(GpuPollerConfig::new(Duration::from_millis(500)));
//! tokio::time::sleep(Duration::from_secs(3)).await;
//! for sample in poller.drain() {
//!     println!("GPU {} at {:.3}: {:?} W", sample.reading.gpu, sample.unix_s, sample.reading.power_w);
//! }
//! poller.stop().await;
//! for warning in poller.warnings() {
//!     tracing::warn!("{warning}");
//! }
//! # }
//! ```

mod aggregate;
mod fields;
mod lines;
mod metrics_csv;
mod parse;
mod poller;
mod sample;

pub use aggregate::StepAggregator;
pub use fields::{FULL_FIELDS, QueryField, SAFE_FIELDS, query_arg};
pub use lines::{Line, LineSplitter, MAX_LINE_BYTES};
pub use metrics_csv::metrics_row;
pub use parse::{ParseLineError, missing_or_text, parse_line};
pub use poller::{
    GpuPoller, GpuPollerConfig, PollerStats, PollerStatus, RestartPolicy, Unavailable,
    exit_code_meaning,
};
pub use sample::{ClockAnchor, GpuSample};

/// Compiles the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

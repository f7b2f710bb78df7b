//! One load level: a fresh simulator at the level's ITL, the client's sweep against it, then
//! wrk against the same simulator at the same concurrency; truth reset before each.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::client::{self, ClientResult, ClientRun, OUTPUT_TOKENS};
use super::sim::{Sim, Truth};
use super::wrk::{self, WrkResult};

/// The simulator's time to first token, ms.
pub const TTFT_MS: f64 = 100.0;
/// Streams up to which the ITL is 20 ms; above, it grows to keep the event rate near
/// [`TARGET_EVENTS_PER_S`].
pub const FIXED_ITL_UP_TO: u32 = 1000;
/// The event rate the large levels aim at.
pub const TARGET_EVENTS_PER_S: f64 = 50_000.0;
/// The simulator is "behind" when its event lateness p99 exceeds this.
pub const SIM_BEHIND_P99_MS: f64 = 5.0;
/// Simulator worker threads.
pub const SIM_THREADS: usize = 2;

/// What to run at one level.
#[derive(Debug, Clone)]
pub struct Plan {
    pub concurrency: u32,
    pub itl_ms: f64,
    pub warmup: Duration,
    pub step: Duration,
    /// wrk's run length; `None` skips wrk.
    pub wrk: Option<Duration>,
    pub name: String,
}

impl Plan {
    /// The standard plan for `concurrency` (short windows in quick mode).
    pub fn level(concurrency: u32, quick: bool, with_wrk: bool) -> Plan {
        let itl_ms = itl_for(concurrency);
        Plan::with_itl(
            concurrency,
            itl_ms,
            quick,
            with_wrk,
            format!("c{concurrency}"),
        )
    }

    /// A plan at a chosen ITL.
    pub fn with_itl(
        concurrency: u32,
        itl_ms: f64,
        quick: bool,
        with_wrk: bool,
        name: String,
    ) -> Plan {
        let request = request_duration(itl_ms);
        // The client opens at most one connection per 0.5 ms: let them all open in warmup.
        let opening = Duration::from_micros(500) * concurrency;
        let (warmup, step, wrk) = if quick {
            (
                Duration::from_secs(1),
                Duration::from_secs(4),
                Duration::from_secs(4),
            )
        } else {
            (
                (opening + Duration::from_secs(1)).max(Duration::from_secs(2)),
                (request + Duration::from_secs(2)).max(Duration::from_secs(8)),
                (request + Duration::from_secs(3)).max(Duration::from_secs(8)),
            )
        };
        Plan {
            concurrency,
            itl_ms,
            warmup,
            step,
            wrk: with_wrk.then_some(wrk),
            name,
        }
    }

    /// Token events per second the schedule asks for when every stream is decoding.
    pub fn due_events_per_s(&self) -> f64 {
        f64::from(self.concurrency) / (self.itl_ms / 1e3)
    }
}

/// 20 ms up to [`FIXED_ITL_UP_TO`] streams, then `concurrency / 50,000 per s`.
pub fn itl_for(concurrency: u32) -> f64 {
    if concurrency <= FIXED_ITL_UP_TO {
        20.0
    } else {
        (f64::from(concurrency) / TARGET_EVENTS_PER_S * 1e3 * 100.0).round() / 100.0
    }
}

/// TTFT plus the gaps of a 64-token stream.
fn request_duration(itl_ms: f64) -> Duration {
    Duration::from_secs_f64((TTFT_MS + f64::from(OUTPUT_TOKENS - 1) * itl_ms) / 1e3)
}

/// Everything measured at one level.
#[derive(Debug, Clone)]
pub struct LevelResult {
    pub plan: Plan,
    pub client: ClientResult,
    pub truth: Truth,
    pub wrk: Option<(WrkResult, Truth)>,
}

impl LevelResult {
    pub fn cpu_us_per_event(&self) -> Option<f64> {
        per_event(self.client.usage.cpu(), self.client.events)
    }

    pub fn wrk_cpu_us_per_event(&self) -> Option<f64> {
        let (wrk, truth) = self.wrk.as_ref()?;
        per_event(wrk.usage.cpu(), truth.token_events)
    }

    /// The client's user and system CPU per token event, µs (issue 21, goal 1 reports them
    /// apart: the user-space part is the one the client's own code decides).
    pub fn user_sys_us_per_event(&self) -> Option<(f64, f64)> {
        let usage = &self.client.usage;
        let events = self.client.events;
        Some((
            per_event(usage.user, events)?,
            per_event(usage.system, events)?,
        ))
    }

    /// wrk's user and system CPU per token event, µs.
    pub fn wrk_user_sys_us_per_event(&self) -> Option<(f64, f64)> {
        let (wrk, truth) = self.wrk.as_ref()?;
        let events = truth.token_events;
        Some((
            per_event(wrk.usage.user, events)?,
            per_event(wrk.usage.system, events)?,
        ))
    }

    /// `None` also when wrk's CPU read 0 (under one clock tick: no ratio can be read).
    pub fn cpu_ratio_to_wrk(&self) -> Option<f64> {
        let wrk = self.wrk_cpu_us_per_event().filter(|w| *w > 0.0)?;
        Some(self.cpu_us_per_event()? / wrk)
    }

    pub fn ttft_err_p50_ms(&self) -> Option<f64> {
        diff(self.client.ttft_p50_ms, self.truth.ttft_p50_ms)
    }
    pub fn ttft_err_p99_ms(&self) -> Option<f64> {
        diff(self.client.ttft_p99_ms, self.truth.ttft_p99_ms)
    }
    pub fn itl_err_p50_ms(&self) -> Option<f64> {
        diff(self.client.itl_p50_ms, self.truth.gap_p50_ms)
    }
    pub fn itl_err_p99_ms(&self) -> Option<f64> {
        diff(self.client.itl_p99_ms, self.truth.gap_p99_ms)
    }

    pub fn sim_behind(&self) -> bool {
        self.truth
            .lateness_p99_ms
            .is_some_and(|l| l > SIM_BEHIND_P99_MS)
    }

    /// The ITL error p99 is within 1 ms and no request failed.
    pub fn followed(&self) -> bool {
        self.client.failed == 0 && self.itl_err_p99_ms().is_some_and(|e| e.abs() < 1.0)
    }
}

fn per_event(cpu: Duration, events: u64) -> Option<f64> {
    (events > 0).then(|| cpu.as_secs_f64() * 1e6 / events as f64)
}

fn diff(measured: Option<f64>, truth: Option<f64>) -> Option<f64> {
    Some(measured? - truth?)
}

/// Runs one level; logs go to `dir`.
pub fn run(
    bin: &Path,
    wrk_bin: Option<&Path>,
    script: Option<&PathBuf>,
    dir: &Path,
    plan: &Plan,
) -> Result<LevelResult> {
    let sim_log = dir.join(format!("sim-{}.log", plan.name));
    let sim = Sim::start(bin, TTFT_MS, plan.itl_ms, SIM_THREADS, &sim_log)?;
    // The truth is reset when the measure window starts, so that it covers what the client's
    // step statistics cover (requests started in the window, followed to their end) and not
    // the warmup's connection opening.
    let client = client::run(
        bin,
        &sim.url,
        &ClientRun {
            concurrency: plan.concurrency,
            warmup: plan.warmup,
            step: plan.step,
            name: plan.name.clone(),
            out_dir: dir.join("runs"),
        },
        || sim.reset(),
    )
    .with_context(|| format!("client at concurrency {}", plan.concurrency))?;
    let truth = sim.truth()?;
    let wrk = match (wrk_bin, script, plan.wrk) {
        (Some(wrk_bin), Some(script), Some(duration)) => {
            // Let the client's closed connections settle before the next load.
            std::thread::sleep(Duration::from_millis(300));
            sim.reset()?;
            let log = dir.join(format!("wrk-{}.log", plan.name));
            let result = wrk::run(wrk_bin, script, &sim.url, plan.concurrency, duration, &log)?;
            Some((result, sim.truth()?))
        }
        _ => None,
    };
    Ok(LevelResult {
        plan: plan.clone(),
        client,
        truth,
        wrk,
    })
}

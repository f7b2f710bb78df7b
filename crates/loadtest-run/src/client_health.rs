//! The client block of a step: the evidence for trusting (or not) the client's timings, and
//! the verdict drawn from it ([`ClientHealth::judge`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What the client block says about the step's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientVerdict {
    /// The client kept up: its timings are the server's.
    #[default]
    Ok,
    /// This process was the bottleneck: at its CPU ceiling, or its event loop behind with its
    /// threads not waiting for a CPU (its own work held them).
    ClientBound,
    /// The event loop was behind because other processes held the cores: the client's
    /// threads were runnable but not running. The timings include the host's scheduling delay.
    HostContended,
}

impl ClientVerdict {
    /// True for [`ClientVerdict::Ok`].
    pub const fn is_ok(self) -> bool {
        matches!(self, ClientVerdict::Ok)
    }

    /// True for [`ClientVerdict::ClientBound`].
    pub const fn is_client_bound(self) -> bool {
        matches!(self, ClientVerdict::ClientBound)
    }

    /// True for [`ClientVerdict::HostContended`].
    pub const fn is_host_contended(self) -> bool {
        matches!(self, ClientVerdict::HostContended)
    }

    /// The verdict as the report writes it: `ok`, `client-bound`, `host-contended`.
    pub const fn label(self) -> &'static str {
        match self {
            ClientVerdict::Ok => "ok",
            ClientVerdict::ClientBound => "client-bound",
            ClientVerdict::HostContended => "host-contended",
        }
    }
}

/// The client block of a step (`step_summary.json`'s `client`).
///
/// Run folders written before `workers`, `ticks`, `late_ticks`, `run_queue_wait_pct`,
/// `host_cpu_busy_pct` and `verdict` existed still load: the numbers read as absent and the
/// verdict as `client_bound` where `bound` is true, else `ok`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "ClientHealthRecord")]
pub struct ClientHealth {
    /// CPU time of this process over the window ÷ window length, in percent of one core.
    pub cpu_pct: Option<f64>,
    /// Cores available to this process.
    pub cores: usize,
    /// Worker threads of the async runtime that ran the requests.
    pub workers: Option<usize>,
    /// Wake-ups of the ticker in the window (every 10 ms; 250 ms while fewer than 16
    /// requests are in flight).
    pub ticks: Option<u64>,
    /// Of those, wake-ups later than [`ClientHealth::LATE_TICK`].
    pub late_ticks: Option<u64>,
    /// 99th percentile of the ticker's lateness, in milliseconds.
    pub sched_lag_p99_ms: Option<f64>,
    /// Largest ticker lateness, in milliseconds.
    pub sched_lag_max_ms: Option<f64>,
    /// Of the time this process's threads were runnable in the window (on a CPU or waiting
    /// in the run queue), the share spent waiting, in percent.
    pub run_queue_wait_pct: Option<f64>,
    /// Busy share of the whole machine's CPUs over the window (every process), in percent.
    pub host_cpu_busy_pct: Option<f64>,
    /// Measure-phase requests of the step that failed on the client itself (`client_error`:
    /// out of file descriptors). Any makes the step client-bound. Absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub client_errors: u64,
    /// The verdict ([`ClientHealth::judge`] of the numbers above).
    pub verdict: ClientVerdict,
    /// True when the verdict is client-bound (kept for readers of older files).
    pub bound: bool,
    /// Of the token events of the requests that ended in the window, the share timed by the
    /// kernel's receive stamp of their own bytes, in percent: the only token event of a read
    /// the kernel stamped (the client's own HTTP/1.1 on Linux; the client's delay in getting
    /// to the socket is not in those times). The rest were timed when their read returned
    /// (hyper, `https://`), or shared a read with a later event and so its stamp (the client
    /// had fallen behind by more than their spacing). Absent without token events (or in
    /// older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_stamped_pct: Option<f64>,
    /// Whether the client's own delay in its timestamps was over the
    /// [`ClientHealth::STAMP_DELAY_GOAL_MS`] goal at p99 ([`ClientHealth::judge_stamps`]):
    /// `false` when more than [`ClientHealth::KERNEL_STAMPED_PCT`] of the token events carried
    /// the kernel's stamp of their own bytes; else `true` when the ticker's lateness p99 was over the goal, `false`
    /// when within, absent with fewer than [`ClientHealth::MIN_TICKS_FOR_P99`] ticks (or in
    /// older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamps_late: Option<bool>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ClientHealth {
    /// The most delay, in milliseconds at p99, the client may add to its own timestamps
    /// before a step's timings are flagged ([`ClientHealth::judge_stamps`]).
    pub const STAMP_DELAY_GOAL_MS: f64 = 0.5;
    /// Ticks needed for a lateness p99 to be judged against the goal.
    pub const MIN_TICKS_FOR_P99: u64 = 100;

    /// Share of the token events, percent, above which the step's stamps are on time whatever
    /// the ticker says: they are the kernel's receive stamps of the events' own bytes, and
    /// the rest, under 1 %, cannot reach a p99.
    pub const KERNEL_STAMPED_PCT: f64 = 99.0;

    /// Whether the client's timestamps carried more than [`Self::STAMP_DELAY_GOAL_MS`] of its
    /// own delay at p99. `false` when more than [`Self::KERNEL_STAMPED_PCT`] of the token
    /// events were timed by the kernel's receive stamp of their own bytes (the client's own
    /// delay is not in them). Otherwise judged from the ticker's lateness p99: the ticker
    /// sleeps on a timerfd woken through the same reactor as a socket read, so its lateness
    /// is the wait between "ready" and "running" that a read's own stamp also waits — and
    /// that bounds how late an event that shared a read with a later one was stamped (the
    /// later one arrived while the client was getting to the socket); `None` with fewer than
    /// [`Self::MIN_TICKS_FOR_P99`] ticks or no lateness p99.
    pub fn judge_stamps(&self) -> Option<bool> {
        if self
            .kernel_stamped_pct
            .is_some_and(|pct| pct > Self::KERNEL_STAMPED_PCT)
        {
            return Some(false);
        }
        let ticks = self.ticks?;
        let p99 = self.sched_lag_p99_ms?;
        (ticks >= Self::MIN_TICKS_FOR_P99).then_some(p99 > Self::STAMP_DELAY_GOAL_MS)
    }

    /// A ticker wake-up later than this is late.
    pub const LATE_TICK: Duration = Duration::from_millis(5);
    /// Late wake-ups needed, at least, for the event loop to count as behind: one spike is
    /// not a sustained lateness.
    pub const MIN_LATE_TICKS: u64 = 2;
    /// Share of the client's CPU ceiling at or above which it is client-bound.
    pub const CPU_CEILING_SHARE: f64 = 0.9;
    /// Run-queue wait share, percent, below which the client's threads got a CPU whenever
    /// they could run: the host cannot be what held them.
    pub const RUN_QUEUE_WAIT_CONTENDED_PCT: f64 = 10.0;
    /// Share of the machine's CPUs, percent, that other processes must have kept busy for the
    /// host to count as contended. The run-queue wait alone cannot tell: it counts the
    /// client's threads waiting behind each other too (25–42 % on an otherwise idle 2-core
    /// machine with `--simulate`), while other processes' busy share separates an idle host
    /// (~4 %) from one with a CPU hog (~50 % and more on 2 cores).
    pub const OTHERS_BUSY_CONTENDED_PCT: f64 = 25.0;

    /// The client's CPU ceiling in percent of one core: 100 per core it can use, that is
    /// the runtime's worker threads (each runs on one core at a time) capped at the cores.
    pub fn cpu_ceiling_pct(&self) -> f64 {
        let workers = self.workers.unwrap_or(self.cores);
        100.0 * workers.min(self.cores).max(1) as f64
    }

    /// The client was at its CPU ceiling: CPU ≥ 90 % of [`ClientHealth::cpu_ceiling_pct`].
    pub fn cpu_saturated(&self) -> bool {
        self.cpu_pct
            .is_some_and(|pct| pct >= Self::CPU_CEILING_SHARE * self.cpu_ceiling_pct())
    }

    /// The event loop was behind: more than 1 % of the ticks, and at least
    /// [`ClientHealth::MIN_LATE_TICKS`], later than [`ClientHealth::LATE_TICK`]. With 100
    /// ticks or more this is the lag p99 above 5 ms; with fewer it needs two late ticks, so
    /// one spike does not make the p99.
    pub fn behind(&self) -> bool {
        match (self.ticks, self.late_ticks) {
            (Some(ticks), Some(late)) => {
                late >= Self::MIN_LATE_TICKS && late.saturating_mul(100) > ticks
            }
            _ => false,
        }
    }

    /// Busy share of the machine's CPUs, percent, that was not this process: the machine's
    /// busy share less this process's CPU spread over the cores. `None` without both.
    pub fn others_busy_pct(&self) -> Option<f64> {
        let host = self.host_cpu_busy_pct?;
        let own = self.cpu_pct? / self.cores.max(1) as f64;
        Some((host - own).max(0.0))
    }

    /// Other processes held the cores: they kept at least
    /// [`ClientHealth::OTHERS_BUSY_CONTENDED_PCT`] of the machine busy, and the client's
    /// threads waited for a CPU at least [`ClientHealth::RUN_QUEUE_WAIT_CONTENDED_PCT`] of
    /// the time they could run. Where one of the two could not be read, the other decides;
    /// where neither could, the host is not blamed.
    pub fn host_contended(&self) -> bool {
        let others = self
            .others_busy_pct()
            .map(|pct| pct >= Self::OTHERS_BUSY_CONTENDED_PCT);
        let waited = self
            .run_queue_wait_pct
            .map(|pct| pct >= Self::RUN_QUEUE_WAIT_CONTENDED_PCT);
        match (others, waited) {
            (Some(others), Some(waited)) => others && waited,
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => false,
        }
    }

    /// The verdict, a pure function of the numbers in the block (`verdict` and `bound`
    /// ignored): client-bound when a request failed on the client itself
    /// (`client_errors`) or the CPU is at its ceiling; else, when the event loop was
    /// behind, host-contended if the host was contended and client-bound if not (its
    /// threads were not waiting for a CPU, so its own work held them); else ok.
    pub fn judge(&self) -> ClientVerdict {
        if self.client_errors > 0 || self.cpu_saturated() {
            ClientVerdict::ClientBound
        } else if !self.behind() {
            ClientVerdict::Ok
        } else if self.host_contended() {
            ClientVerdict::HostContended
        } else {
            ClientVerdict::ClientBound
        }
    }
}

/// The block as stored, new fields optional.
#[derive(Deserialize)]
struct ClientHealthRecord {
    cpu_pct: Option<f64>,
    cores: usize,
    #[serde(default)]
    workers: Option<usize>,
    #[serde(default)]
    ticks: Option<u64>,
    #[serde(default)]
    late_ticks: Option<u64>,
    sched_lag_p99_ms: Option<f64>,
    sched_lag_max_ms: Option<f64>,
    #[serde(default)]
    run_queue_wait_pct: Option<f64>,
    #[serde(default)]
    host_cpu_busy_pct: Option<f64>,
    #[serde(default)]
    client_errors: u64,
    #[serde(default)]
    verdict: Option<ClientVerdict>,
    bound: bool,
    #[serde(default)]
    kernel_stamped_pct: Option<f64>,
    #[serde(default)]
    stamps_late: Option<bool>,
}

impl From<ClientHealthRecord> for ClientHealth {
    fn from(r: ClientHealthRecord) -> Self {
        let verdict = r.verdict.unwrap_or(if r.bound {
            ClientVerdict::ClientBound
        } else {
            ClientVerdict::Ok
        });
        ClientHealth {
            cpu_pct: r.cpu_pct,
            cores: r.cores,
            workers: r.workers,
            ticks: r.ticks,
            late_ticks: r.late_ticks,
            sched_lag_p99_ms: r.sched_lag_p99_ms,
            sched_lag_max_ms: r.sched_lag_max_ms,
            run_queue_wait_pct: r.run_queue_wait_pct,
            host_cpu_busy_pct: r.host_cpu_busy_pct,
            client_errors: r.client_errors,
            verdict,
            bound: r.bound,
            kernel_stamped_pct: r.kernel_stamped_pct,
            stamps_late: r.stamps_late,
        }
    }
}

#[cfg(test)]
mod tests;

//! The client's own health over each window: CPU use of this process, the lateness of a
//! ticker task (how late the async runtime runs a task that asked to wake up), how long this
//! process's threads waited in the kernel's run queue and how busy the whole machine was.
//! From these [`ClientHealth::judge`] tells a client-bound step (this process was the
//! bottleneck) from a host-contended one (other processes held the cores).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use loadtest_run::ClientHealth;

mod ticker;

pub use crate::inflight_grid::SAMPLE_EVERY;
pub use ticker::{BUSY_INFLIGHT, LagRecorder, LagStats, QUIET_TICK, TICK};

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat`.
/// `None` where procfs is missing.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the full line: 11 and 12 after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture the tool runs on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Worker threads of the runtime the caller runs on; `None` outside a runtime.
pub fn runtime_workers() -> Option<usize> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|h| h.metrics().num_workers())
}

/// Nanoseconds each thread of this process has spent on a CPU and waiting in the run queue,
/// keyed by thread id, from `/proc/self/task/*/schedstat`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchedSnapshot {
    threads: HashMap<u64, (u64, u64)>,
}

/// Reads [`SchedSnapshot`]; `None` where procfs or schedstat is missing.
pub fn sched_snapshot() -> Option<SchedSnapshot> {
    let mut threads = HashMap::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may end between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat"))
            && let Some(times) = parse_schedstat(&text)
        {
            threads.insert(tid, times);
        }
    }
    (!threads.is_empty()).then_some(SchedSnapshot { threads })
}

/// (on-CPU ns, run-queue wait ns): the first two fields of a `schedstat` line.
fn parse_schedstat(text: &str) -> Option<(u64, u64)> {
    let mut fields = text.split_whitespace();
    let run = fields.next()?.parse().ok()?;
    let wait = fields.next()?.parse().ok()?;
    Some((run, wait))
}

impl SchedSnapshot {
    /// Of the time this process's threads were runnable since `start` (on a CPU or waiting
    /// for one), the share spent waiting, in percent. Threads born since count whole; those
    /// that ended are lost. `None` when no thread was runnable.
    pub fn wait_pct_since(&self, start: &SchedSnapshot) -> Option<f64> {
        let (mut run, mut wait) = (0u64, 0u64);
        for (tid, &(r, w)) in &self.threads {
            let (r0, w0) = start.threads.get(tid).copied().unwrap_or((0, 0));
            run = run.saturating_add(r.saturating_sub(r0));
            wait = wait.saturating_add(w.saturating_sub(w0));
        }
        let runnable = run.saturating_add(wait);
        (runnable > 0).then(|| 100.0 * wait as f64 / runnable as f64)
    }
}

/// The machine's CPU time so far, in clock ticks summed over all CPUs, from the `cpu` line
/// of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCpu {
    busy: u64,
    total: u64,
}

/// Reads [`HostCpu`]; `None` where procfs is missing.
pub fn host_cpu() -> Option<HostCpu> {
    parse_proc_stat(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// The `cpu` line: user nice system idle iowait irq softirq steal (guest time is already in
/// user). Busy is all but idle and iowait; steal (a hypervisor holding the CPU) is busy.
fn parse_proc_stat(text: &str) -> Option<HostCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|v| v.parse().ok())
        .collect::<Option<_>>()?;
    if values.len() < 5 {
        return None;
    }
    let total: u64 = values.iter().sum();
    let idle = values[3] + values[4];
    Some(HostCpu {
        busy: total - idle,
        total,
    })
}

impl HostCpu {
    /// Busy share of the machine's CPUs since `start`, percent; `None` when no time passed.
    pub fn busy_pct_since(&self, start: &HostCpu) -> Option<f64> {
        let total = self.total.checked_sub(start.total)?;
        let busy = self.busy.checked_sub(start.busy)?;
        (total > 0).then(|| 100.0 * busy.min(total) as f64 / total as f64)
    }
}

/// The readings taken at a window's start, to be diffed at its end.
#[derive(Debug, Clone)]
pub struct WindowProbe {
    at: Instant,
    cpu: Option<Duration>,
    sched: Option<SchedSnapshot>,
    host: Option<HostCpu>,
}

impl WindowProbe {
    /// Reads the counters now.
    pub fn start() -> Self {
        WindowProbe {
            at: Instant::now(),
            cpu: process_cpu_time(),
            sched: sched_snapshot(),
            host: host_cpu(),
        }
    }

    /// Reads the counters again and builds the window's client block; `kernel_stamped_pct`
    /// is the window's share of token events timed by the kernel's receive stamp.
    pub fn finish(&self, lag: LagStats, kernel_stamped_pct: Option<f64>) -> ClientHealth {
        let window = self.at.elapsed();
        let cpu_used = match (self.cpu, process_cpu_time()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let wait = match (&self.sched, sched_snapshot()) {
            (Some(a), Some(b)) => b.wait_pct_since(a),
            _ => None,
        };
        let host = match (self.host, host_cpu()) {
            (Some(a), Some(b)) => b.busy_pct_since(&a),
            _ => None,
        };
        assess(&Readings {
            cpu_used,
            window,
            cores: cores(),
            workers: runtime_workers(),
            lag,
            run_queue_wait_pct: wait,
            host_cpu_busy_pct: host,
            kernel_stamped_pct,
        })
    }
}

/// What was measured over one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Readings {
    /// CPU time this process used in the window.
    pub cpu_used: Option<Duration>,
    /// The window's length.
    pub window: Duration,
    /// Cores available to this process.
    pub cores: usize,
    /// The runtime's worker threads.
    pub workers: Option<usize>,
    /// The ticker's record.
    pub lag: LagStats,
    /// Run-queue wait share of this process's threads, percent.
    pub run_queue_wait_pct: Option<f64>,
    /// Busy share of the machine, percent.
    pub host_cpu_busy_pct: Option<f64>,
    /// Share of the token events timed by the kernel's receive stamp of their own bytes,
    /// percent.
    pub kernel_stamped_pct: Option<f64>,
}

/// Builds the client block, verdict included, from a window's readings.
pub fn assess(r: &Readings) -> ClientHealth {
    let cpu_pct = match r.cpu_used {
        Some(cpu) if !r.window.is_zero() => {
            Some(100.0 * cpu.as_secs_f64() / r.window.as_secs_f64())
        }
        _ => None,
    }
    // Never NaN or infinite: an unreadable CPU is unknown, printed "unknown".
    .filter(|pct| pct.is_finite());
    let has_ticks = r.lag.ticks > 0;
    let mut health = ClientHealth {
        cpu_pct,
        cores: r.cores,
        workers: r.workers,
        ticks: Some(r.lag.ticks),
        late_ticks: has_ticks.then_some(r.lag.late_ticks),
        sched_lag_p99_ms: r.lag.p99.map(|d| d.as_secs_f64() * 1e3),
        sched_lag_max_ms: r.lag.max.map(|d| d.as_secs_f64() * 1e3),
        run_queue_wait_pct: r.run_queue_wait_pct,
        host_cpu_busy_pct: r.host_cpu_busy_pct,
        client_errors: 0,
        verdict: Default::default(),
        bound: false,
        kernel_stamped_pct: r.kernel_stamped_pct,
        stamps_late: None,
    };
    health.verdict = health.judge();
    health.bound = health.verdict.is_client_bound();
    health.stamps_late = health.judge_stamps();
    health
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings(cpu_ms: u64, ticks: u64, late: u64, wait: Option<f64>) -> Readings {
        Readings {
            cpu_used: Some(Duration::from_millis(cpu_ms)),
            window: Duration::from_secs(1),
            cores: 16,
            workers: Some(16),
            lag: LagStats {
                ticks,
                late_ticks: late,
                p99: Some(Duration::from_millis(if late > 1 { 16 } else { 1 })),
                max: Some(Duration::from_millis(16)),
            },
            run_queue_wait_pct: wait,
            host_cpu_busy_pct: Some(99.0),
            kernel_stamped_pct: None,
        }
    }

    #[test]
    fn cpu_time_is_read() {
        let a = process_cpu_time().unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i ^ (x >> 3));
        }
        std::hint::black_box(x);
        assert!(process_cpu_time().unwrap() >= a);
    }

    #[test]
    fn assess_sets_verdict_and_bound() {
        // 2 % of one core, threads waiting 40 % of their runnable time, 12 late ticks.
        let contended = assess(&readings(20, 95, 12, Some(40.0)));
        assert!((contended.cpu_pct.unwrap() - 2.0).abs() < 1e-9);
        assert!(contended.verdict.is_host_contended());
        assert!(!contended.bound);
        // 95 % of 16 cores.
        let busy = assess(&readings(15_200, 100, 0, Some(1.0)));
        assert!(busy.verdict.is_client_bound() && busy.bound);
        // One 16 ms spike among 100 ticks.
        let spike = assess(&readings(20, 100, 1, Some(1.0)));
        assert!(spike.verdict.is_ok() && !spike.bound);
        assert_eq!((spike.ticks, spike.late_ticks), (Some(100), Some(1)));
        // No tick at all: nothing late is known.
        let none = assess(&readings(20, 0, 0, None));
        assert_eq!((none.ticks, none.late_ticks), (Some(0), None));
        assert!(none.verdict.is_ok());
    }

    #[test]
    fn schedstat_and_proc_stat_parse() {
        assert_eq!(
            parse_schedstat("490028198 111867492 140\n"),
            Some((490028198, 111867492))
        );
        assert_eq!(parse_schedstat("12"), None);
        let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n";
        let host = parse_proc_stat(stat).unwrap();
        assert_eq!(
            host,
            HostCpu {
                busy: 150,
                total: 1000
            }
        );
        let later = HostCpu {
            busy: 240,
            total: 1100,
        };
        assert_eq!(later.busy_pct_since(&host), Some(90.0));
        assert_eq!(host.busy_pct_since(&host), None);
        assert_eq!(parse_proc_stat("intr 1 2\n"), None);
    }

    #[test]
    fn wait_share_diffs_per_thread() {
        let start = SchedSnapshot {
            threads: HashMap::from([(1, (1_000, 100)), (2, (500, 500))]),
        };
        // Thread 1: ran 900, waited 100; thread 2 ended; thread 3 is new: ran 0, waited 0.
        let end = SchedSnapshot {
            threads: HashMap::from([(1, (1_900, 200)), (3, (0, 0))]),
        };
        assert_eq!(end.wait_pct_since(&start), Some(10.0));
        assert_eq!(start.wait_pct_since(&start), None);
    }

    #[test]
    fn live_counters_read_on_linux() {
        if std::path::Path::new("/proc/self/schedstat").exists() {
            let snap = sched_snapshot().unwrap();
            assert!(!snap.threads.is_empty());
            assert!(host_cpu().is_some());
        }
    }
}

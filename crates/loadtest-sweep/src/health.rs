//! The client's own health: CPU use of this process and the lateness of a ticker task (how
//! late the async runtime runs a task that asked to wake up). When either is high, the
//! timings the client took are suspect and the step is marked `bound`.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use loadtest_run::ClientHealth;
use tokio::sync::Mutex;

use crate::stats::new_us_histogram;

/// The ticker's period.
pub const TICK: Duration = Duration::from_millis(10);
/// Scheduler-lag p99 above which a step is `bound`.
pub const LAG_P99_BOUND: Duration = Duration::from_millis(5);
/// Share of all cores above which a step is `bound`.
pub const CPU_SHARE_BOUND: f64 = 0.9;

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

/// Records ticker lateness; the sweep resets it at each window start.
#[derive(Debug)]
pub struct LagRecorder {
    hist: Mutex<Histogram<u64>>,
}

impl Default for LagRecorder {
    fn default() -> Self {
        LagRecorder {
            hist: Mutex::new(new_us_histogram()),
        }
    }
}

impl LagRecorder {
    /// Runs the ticker until the task is aborted.
    pub async fn run(&self) {
        let mut next = Instant::now() + TICK;
        loop {
            tokio::time::sleep_until(next.into()).await;
            let late = Instant::now().saturating_duration_since(next);
            let _ = self
                .hist
                .lock()
                .await
                .record(late.as_micros().max(1) as u64);
            next += TICK;
            let now = Instant::now();
            if next < now {
                next = now + TICK;
            }
        }
    }

    /// Takes the lateness recorded since the last call as (p99, max), and starts afresh.
    pub async fn take(&self) -> (Option<Duration>, Option<Duration>) {
        let mut hist = self.hist.lock().await;
        if hist.is_empty() {
            return (None, None);
        }
        let p99 = Duration::from_micros(hist.value_at_quantile(0.99));
        let max = Duration::from_micros(hist.max());
        hist.reset();
        (Some(p99), Some(max))
    }
}

/// Builds the client block from the CPU used over a window and the lag seen in it.
pub fn assess(
    cpu_used: Option<Duration>,
    window: Duration,
    lag_p99: Option<Duration>,
    lag_max: Option<Duration>,
) -> ClientHealth {
    let cores = cores();
    let cpu_pct = match cpu_used {
        Some(cpu) if !window.is_zero() => Some(100.0 * cpu.as_secs_f64() / window.as_secs_f64()),
        _ => None,
    };
    let cpu_bound = cpu_pct.is_some_and(|pct| pct > 100.0 * cores as f64 * CPU_SHARE_BOUND);
    let lag_bound = lag_p99.is_some_and(|lag| lag > LAG_P99_BOUND);
    ClientHealth {
        cpu_pct,
        cores,
        sched_lag_p99_ms: lag_p99.map(|d| d.as_secs_f64() * 1e3),
        sched_lag_max_ms: lag_max.map(|d| d.as_secs_f64() * 1e3),
        bound: cpu_bound || lag_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bound_rules() {
        let w = Duration::from_secs(10);
        let ok = assess(
            Some(Duration::from_secs(1)),
            w,
            Some(Duration::from_millis(1)),
            None,
        );
        assert!(!ok.bound);
        assert!((ok.cpu_pct.unwrap() - 10.0).abs() < 1e-9);
        let laggy = assess(None, w, Some(Duration::from_millis(20)), None);
        assert!(laggy.bound);
        let busy = assess(Some(w * 64), w, None, None);
        assert!(busy.bound);
    }

    #[tokio::test]
    async fn ticker_records_lag() {
        let rec = std::sync::Arc::new(LagRecorder::default());
        let r = rec.clone();
        let task = tokio::spawn(async move { r.run().await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        task.abort();
        let (p99, max) = rec.take().await;
        assert!(p99.is_some() && max.is_some());
        assert_eq!(rec.take().await, (None, None));
    }
}

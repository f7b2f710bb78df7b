//! The idle cost (issue 21, goal 4): CPU per second of a sweep at one stream while no token
//! event arrives, so what is measured is everything but the per-event path: the health
//! ticker, `/metrics` scrapes, progress (the in-flight samples take no wake-up of their own).
//!
//! A simulator with a 600 s TTFT holds the one request open without sending anything; the
//! sweep runs against it (one step of [`STEP_S`]) and its CPU time (every thread's time on a
//! CPU, from `/proc/<pid>/task/*/schedstat`, nanoseconds; `/proc/<pid>/stat` ticks when a
//! thread came or went) is read at the start and the end of a window inside the step. Once
//! with the default 1 s `/metrics` poll, once with `--no-metrics`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::sim::Sim;

/// The goal: CPU ms per second of window at one stream without token events.
pub const GOAL_MS_PER_S: f64 = 2.0;
/// The simulator's TTFT: far beyond the window, so no token event comes.
const TTFT_MS: f64 = 600_000.0;
/// The sweep's one step (the window ends well before it).
const STEP_S: u64 = 120;
/// From the sweep's start to the window: start-up, preflight, the first scrapes.
const SETTLE: Duration = Duration::from_secs(3);

/// One mode's figures.
#[derive(Debug, Clone)]
pub struct IdleRun {
    /// `true` with the default `/metrics` polling, `false` with `--no-metrics`.
    pub metrics: bool,
    /// CPU (user + system, all threads) ÷ window, ms per s.
    pub ms_per_s: f64,
    /// The window's length.
    pub window_s: f64,
    /// Where the CPU time came from: `schedstat` (ns) or `stat` (10 ms ticks).
    pub source: &'static str,
}

/// Both modes, and whether a token event came (it must not).
#[derive(Debug, Clone)]
pub struct Idle {
    pub runs: Vec<IdleRun>,
    pub token_events: u64,
}

impl Idle {
    fn get(&self, metrics: bool) -> Option<f64> {
        self.runs
            .iter()
            .find(|r| r.metrics == metrics)
            .map(|r| r.ms_per_s)
    }
}

/// Measures both modes over windows of `window`.
pub fn run(bin: &Path, dir: &Path, window: Duration) -> Result<Idle> {
    let sim = Sim::start(bin, TTFT_MS, 20.0, 1, &dir.join("sim-idle.log"))?;
    sim.reset()?;
    let mut runs = Vec::new();
    for metrics in [true, false] {
        runs.push(one(bin, &sim.url, dir, metrics, window)?);
    }
    let token_events = sim.truth()?.token_events;
    Ok(Idle { runs, token_events })
}

fn one(bin: &Path, url: &str, dir: &Path, metrics: bool, window: Duration) -> Result<IdleRun> {
    let name = if metrics { "idle" } else { "idle-no-metrics" };
    let out = dir.join("runs").join(name);
    std::fs::create_dir_all(&out)?;
    let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
    let mut cmd = Command::new(bin);
    cmd.args(["--base-url", url])
        .args(["--steps", "1", "--step-duration-s", &STEP_S.to_string()])
        .args(["--warmup-s", "0", "--timeout-s", "700"])
        .args(["--input-size", "16", "--max-output-tokens", "64"])
        .args(["--ignore-eos", "--no-gpu", "--quiet", "--seed", "0"])
        .args(crate::bench::client_args())
        .args(["--run-name", name])
        .arg("--output-dir")
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if !metrics {
        cmd.arg("--no-metrics");
    }
    let mut child = cmd.spawn().context("could not start the client")?;
    let measured = measure(&child, window);
    stop(&mut child);
    let (ns, source) = measured?;
    let window_s = window.as_secs_f64();
    Ok(IdleRun {
        metrics,
        ms_per_s: ns as f64 / 1e6 / window_s,
        window_s,
        source,
    })
}

/// CPU ns of `child` over `window`, after [`SETTLE`].
fn measure(child: &Child, window: Duration) -> Result<(u64, &'static str)> {
    let pid = child.id();
    std::thread::sleep(SETTLE);
    let (threads0, stat0) = (schedstat(pid)?, stat_ns(pid)?);
    let started = Instant::now();
    std::thread::sleep(window);
    let (threads1, stat1) = (schedstat(pid)?, stat_ns(pid)?);
    if started.elapsed() > window + Duration::from_secs(1) {
        bail!("the idle window overran (this machine is overloaded)");
    }
    // The same threads at both ends: the nanosecond sum is exact.
    if threads0.keys().eq(threads1.keys()) {
        let ns = threads1.values().sum::<u64>() - threads0.values().sum::<u64>();
        return Ok((ns, "schedstat"));
    }
    Ok((stat1.saturating_sub(stat0), "stat"))
}

/// Each thread's time on a CPU (ns), by thread id.
fn schedstat(pid: u32) -> Result<BTreeMap<u64, u64>> {
    let mut out = BTreeMap::new();
    let dir = format!("/proc/{pid}/task");
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may end between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat"))
            && let Some(ns) = text.split_whitespace().next().and_then(|s| s.parse().ok())
        {
            out.insert(tid, ns);
        }
    }
    Ok(out)
}

/// utime + stime of the whole process (exited threads included), ns (10 ms resolution).
fn stat_ns(pid: u32) -> Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = &text[text.rfind(')').context("stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<u64> { Ok(fields.get(i).context("stat")?.parse()?) };
    Ok((tick(11)? + tick(12)?) * 10_000_000)
}

/// SIGINT (the sweep writes its files and exits), then kill if it lingers.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// bench.json's `idle` object.
pub fn json(idle: &Idle) -> Value {
    json!({
        "with_metrics_ms_per_s": idle.get(true),
        "no_metrics_ms_per_s": idle.get(false),
        "window_s": idle.runs.first().map(|r| r.window_s),
        "source": idle.runs.first().map(|r| r.source),
        "token_events": idle.token_events,
        "goal_ms_per_s": GOAL_MS_PER_S,
    })
}

/// bench.md's section.
pub fn markdown(idle: &Idle) -> String {
    let mut md = String::from(
        "\n## Idle cost (1 stream, no token events)\n\n\
         CPU of the sweep (all threads, user + system) per second of a window in which its one \
         request waits for a first token that never comes: the health ticker, `/metrics` \
         scrapes and progress, nothing per event.\n\n\
         | `/metrics` | CPU ms per s | window s | source |\n|---|---:|---:|---|\n",
    );
    for r in &idle.runs {
        md.push_str(&format!(
            "| {} | {:.2} | {:.0} | {} |\n",
            if r.metrics {
                "scraped every 1 s"
            } else {
                "`--no-metrics`"
            },
            r.ms_per_s,
            r.window_s,
            r.source
        ));
    }
    md.push_str(&format!(
        "\nToken events the simulator sent meanwhile: {} (must be 0).\n\n",
        idle.token_events
    ));
    md
}

/// The Goals table's row.
pub fn goal_row(idle: Option<&Idle>) -> String {
    let worst = idle.and_then(|i| i.get(true).or(i.get(false)));
    format!(
        "| ≤ {GOAL_MS_PER_S} ms of CPU per s at 1 stream outside token events (with `/metrics`) | {} | {} |",
        idle.map_or_else(
            || "not run".to_owned(),
            |i| format!(
                "{} ms/s with `/metrics`, {} without",
                i.get(true).map_or("–".to_owned(), |v| format!("{v:.2}")),
                i.get(false).map_or("–".to_owned(), |v| format!("{v:.2}"))
            )
        ),
        match worst {
            Some(v) if v <= GOAL_MS_PER_S => "met",
            Some(_) => "**not met**",
            None => "not measured",
        }
    )
}

/// `true` when the window saw a token event (the measurement is then not of idle).
pub fn broken(idle: &Idle) -> Option<String> {
    (idle.token_events > 0).then(|| {
        format!(
            "idle: the simulator sent {} token events during the idle windows",
            idle.token_events
        )
    })
}

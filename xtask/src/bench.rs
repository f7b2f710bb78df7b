//! `cargo xtask bench [--quick] [--no-micro] [--no-wrk]`: what the client costs and how true its
//! numbers are, against the simulator's known truth (issue 9, design §11).
//!
//! Builds `vllm-loadtest` in release, then per load level starts `vllm-loadtest sim --profile
//! fixed` as its own process, runs the real sweep against it as another process (CPU time and
//! peak RSS read from procfs, see [`proc`]), compares the sweep's TTFT and ITL percentiles with
//! `/sim/truth`, and runs `wrk` with the same streaming request at the same concurrency as the
//! floor. Writes `target/bench/<UTC stamp>/bench.{json,md}` and copies them to
//! `target/bench/latest/`.
//!
//! The full bench also measures a sweep over a 1 GiB ShareGPT file (`--dataset`): start-up to
//! the first request and peak RSS ([`dataset`]).
//!
//! `--quick` (CI): concurrency 1 and 64 only, short windows, no probe, no micro-benchmarks; wrk
//! only when it is installed. It fails only on broken invariants (a level without token
//! events, or any failed request against the fixed simulator), never on timings.

mod client;
mod dataset;
pub(crate) mod http;
mod idle;
mod level;
mod machine;
mod micro;
mod proc;
mod report;
pub(crate) mod sim;
mod wrk;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use level::{LevelResult, Plan};

/// Concurrency levels of the full bench.
const LEVELS: &[u32] = &[1, 64, 512, 2048, 10_000];
/// Concurrency levels of `--quick`.
const QUICK_LEVELS: &[u32] = &[1, 64];
/// Streams of the event-throughput probe.
const PROBE_STREAMS: u32 = 1000;
/// The probe's ITL bracket (ms): the long end is expected to pass, the short end to fail.
const PROBE_ITL_MS: (f64, f64) = (100.0, 8.0);
/// Bisection steps of the probe.
const PROBE_STEPS: usize = 4;

/// Usage line for xtask's help.
pub const USAGE: &str = "  bench  [--quick] [--no-micro] [--no-wrk] [--dataset-only] [--idle-only] [--levels 1,10000] [--http-client native|hyper] client CPU, RSS and timing error against the simulator, idle CPU, 1 GiB dataset start-up (target/bench/)";

#[derive(Debug, Default)]
struct Options {
    quick: bool,
    micro: bool,
    wrk: bool,
    /// `--dataset-only`: only the 1 GiB dataset measurement.
    dataset_only: bool,
    /// `--idle-only`: only the idle-cost measurement.
    idle_only: bool,
    /// `--levels LIST`: only these load levels (no probe, micro-benchmarks, dataset or idle).
    levels: Option<Vec<u32>>,
}

/// Flags added to every sweep the bench runs (`--http-client NAME`: an A/B of the two HTTP
/// clients on the same machine).
static CLIENT_ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// The flags added to every sweep the bench runs.
pub fn client_args() -> &'static [String] {
    CLIENT_ARGS.get().map_or(&[], Vec::as_slice)
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        quick: false,
        micro: true,
        wrk: true,
        dataset_only: false,
        idle_only: false,
        levels: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => o.quick = true,
            "--no-micro" => o.micro = false,
            "--no-wrk" => o.wrk = false,
            "--dataset-only" => o.dataset_only = true,
            "--idle-only" => o.idle_only = true,
            "--levels" => {
                let list = args.next().context("--levels needs a list, e.g. 1,10000")?;
                let levels = list
                    .split(',')
                    .map(|c| c.trim().parse::<u32>().ok().filter(|&c| c > 0))
                    .collect::<Option<Vec<u32>>>()
                    .with_context(|| {
                        format!("--levels {list:?}: positive integers, comma-separated")
                    })?;
                o.levels = Some(levels);
            }
            "--http-client" => {
                let name = args.next().context("--http-client needs native or hyper")?;
                if !matches!(name.as_str(), "native" | "hyper") {
                    bail!("--http-client {name:?}: native or hyper");
                }
                let _ = CLIENT_ARGS.set(vec!["--http-client".to_owned(), name.clone()]);
            }
            other => bail!("unknown bench option {other:?}\n{USAGE}"),
        }
    }
    Ok(o)
}

/// Runs the bench; `args` are the words after `bench`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let opts = options(args)?;
    let stamp = machine::utc_stamp();
    let load_before = machine::loadavg();
    crate::cargo(root, &["build", "--release", "-p", "loadtest-cli"], &[])?;
    // Cargo puts the binary under CARGO_TARGET_DIR when that is set.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target_dir.join("release/vllm-loadtest");
    let dir = root.join("target/bench").join(&stamp);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    println!(
        "bench: the client, the simulator and wrk share this machine's {} cores (load average {load_before})",
        machine::cores()
    );
    // The full bench installs wrk when it is missing, as users measuring against the floor
    // will have it; `--quick` (CI) does not spend the time.
    let wrk_bin = match (opts.wrk, wrk::find()) {
        (false, _) => None,
        (true, Some(found)) => Some(found),
        (true, None) if opts.quick => None,
        (true, None) => wrk::install(&dir.join("apt-wrk.log")),
    };
    if opts.wrk && wrk_bin.is_none() {
        println!("bench: wrk is not installed (apt-get install wrk): no floor comparison");
    }
    let script = match &wrk_bin {
        Some(_) => Some(wrk::write_script(&dir)?),
        None => None,
    };

    // `--levels` and the `-only` modes are focused runs: nothing else is measured.
    let focused = opts.dataset_only || opts.idle_only || opts.levels.is_some();
    let levels_list = match (
        &opts.levels,
        opts.dataset_only || opts.idle_only,
        opts.quick,
    ) {
        (Some(list), _, _) => &list[..],
        (None, true, _) => &[][..],
        (None, false, true) => QUICK_LEVELS,
        (None, false, false) => LEVELS,
    };
    let mut levels = Vec::new();
    for &c in levels_list {
        let plan = Plan::level(c, opts.quick, wrk_bin.is_some());
        let result = level::run(&bin, wrk_bin.as_deref(), script.as_ref(), &dir, &plan)?;
        print_level(&result);
        levels.push(result);
    }

    let probe = if opts.quick || focused {
        Vec::new()
    } else {
        probe(&bin, &dir)?
    };
    let max_events_per_s = levels
        .iter()
        .chain(&probe)
        .filter(|l| l.followed())
        .filter_map(|l| l.client.events_per_s)
        .reduce(f64::max);

    let micro = if opts.micro && !opts.quick && !focused {
        micro::run(root)?
    } else {
        Value::Object(serde_json::Map::new())
    };

    // The idle cost (issue 21): shorter windows in --quick.
    let idle = if opts.idle_only || !focused {
        let window = Duration::from_secs(if opts.quick { 10 } else { 20 });
        let idle = idle::run(&bin, &dir, window)?;
        println!(
            "bench: idle (1 stream, no token events): {}",
            idle::goal_row(Some(&idle))
        );
        Some(idle)
    } else {
        None
    };

    // The 1 GiB dataset start-up (issue 17): slow to make, so not in --quick.
    let dataset = if opts.quick || (focused && !opts.dataset_only) {
        None
    } else {
        Some(dataset::run(&bin, root, &dir)?)
    };

    let machine = machine::describe(&stamp, &load_before, &machine::loadavg(), opts.quick);
    let mut json = report::json(machine.clone(), &levels, max_events_per_s, micro.clone());
    let extra_goals = [idle::goal_row(idle.as_ref())];
    let mut md = report::markdown(
        &machine,
        &levels,
        &probe,
        max_events_per_s,
        &micro,
        &extra_goals,
    );
    if let Some(i) = &idle {
        json["idle"] = idle::json(i);
        md.push_str(&idle::markdown(i));
    }
    if let Some(d) = &dataset {
        json["dataset"] = dataset::json(d);
        md.push_str(&dataset::markdown(d));
    }
    write_outputs(root, &dir, &json, &md)?;
    println!("\n{md}");
    println!(
        "bench: wrote {}/bench.{{json,md}} and target/bench/latest/",
        dir.display()
    );
    check_invariants(&levels, idle.as_ref().and_then(idle::broken))
}

/// Bisects the ITL at [`PROBE_STREAMS`] streams for the highest event rate followed with an
/// ITL error p99 under 1 ms.
fn probe(bin: &Path, dir: &Path) -> Result<Vec<LevelResult>> {
    let (mut pass_itl, mut fail_itl) = PROBE_ITL_MS;
    let mut runs = Vec::new();
    for i in 0..PROBE_STEPS {
        // Geometric midpoint: the event rate is 1 / ITL.
        let itl = ((pass_itl * fail_itl).sqrt() * 10.0).round() / 10.0;
        let plan = Plan::with_itl(
            PROBE_STREAMS,
            itl,
            false,
            false,
            format!("probe{i}-itl{itl}"),
        );
        let result = level::run(bin, None, None, dir, &plan)?;
        print_level(&result);
        if result.followed() {
            pass_itl = itl;
        } else {
            fail_itl = itl;
        }
        runs.push(result);
    }
    Ok(runs)
}

fn print_level(l: &LevelResult) {
    let opt = |v: Option<f64>| v.map_or_else(|| "–".to_owned(), |v| format!("{v:.2}"));
    println!(
        "bench: {:>14}: {} streams, ITL {} ms: {} events, {} requests ({} failed), client {} µs/event, wrk {} µs/event, peak RSS {:.1} MiB, TTFT err p50/p99 {}/{} ms, ITL err p50/p99 {}/{} ms, sim lateness p99 {} ms",
        l.plan.name,
        l.plan.concurrency,
        l.plan.itl_ms,
        l.client.events,
        l.client.requests,
        l.client.failed,
        report::cpu_cell(
            l.cpu_us_per_event(),
            l.user_sys_us_per_event(),
            l.client.events
        ),
        report::cpu_cell(
            l.wrk_cpu_us_per_event(),
            l.wrk_user_sys_us_per_event(),
            l.wrk.as_ref().map_or(0, |(_, truth)| truth.token_events)
        ),
        l.client.usage.peak_rss_kib as f64 / 1024.0,
        opt(l.ttft_err_p50_ms()),
        opt(l.ttft_err_p99_ms()),
        opt(l.itl_err_p50_ms()),
        opt(l.itl_err_p99_ms()),
        opt(l.truth.lateness_p99_ms),
    );
}

fn write_outputs(root: &Path, dir: &Path, json: &Value, md: &str) -> Result<()> {
    let text = serde_json::to_string_pretty(json)? + "\n";
    let latest = root.join("target/bench/latest");
    std::fs::create_dir_all(&latest)?;
    for d in [dir, latest.as_path()] {
        write(&d.join("bench.json"), &text)?;
        write(&d.join("bench.md"), md)?;
    }
    Ok(())
}

fn write(path: &PathBuf, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// What must hold whatever the timings: every level streamed token events, and no request
/// failed against the fixed simulator.
fn check_invariants(levels: &[LevelResult], idle: Option<String>) -> Result<()> {
    let mut broken: Vec<String> = idle.into_iter().collect();
    for l in levels {
        if l.client.events == 0 {
            broken.push(format!("{} streams: no token events", l.plan.concurrency));
        }
        if l.client.failed > 0 {
            broken.push(format!(
                "{} streams: {} of {} requests failed ({})",
                l.plan.concurrency,
                l.client.failed,
                l.client.requests,
                l.client.first_error.as_deref().unwrap_or("?")
            ));
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        bail!("broken invariants:\n  {}", broken.join("\n  "))
    }
}

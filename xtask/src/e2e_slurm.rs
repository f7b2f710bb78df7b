//! `cargo xtask e2e-slurm`: the Slurm launch file run by a real Slurm. Installs Debian's
//! slurm-wlm and munge when missing (root), starts a throwaway one-node cluster on localhost
//! ([`cluster`]), starts the simulator, submits `deploy/slurm/vllm-loadtest.sbatch` with
//! `sbatch --wait --ntasks 4` (four `srun` tasks, `--shard auto`, one `--start-at`, then
//! `vllm-loadtest merge`), checks the merged run folder against the simulator's own count, and
//! tears everything down. Not part of `ci` (it needs root and a minute); see
//! docs/scaling-out.md.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::bench::sim::Sim;

mod cluster;

/// Shards (Slurm tasks) in the test run.
const SHARDS: u64 = 4;
/// The load: two concurrency steps, each split over the shards.
const STEPS: [u64; 2] = [8, 16];

const USAGE: &str = "usage: cargo xtask e2e-slurm [--keep] [--bin PATH]";

/// Runs the task; `--keep` leaves the folder under target/e2e-slurm/ (it is removed on success
/// otherwise); `--bin PATH` tests that binary instead of building the release one.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut keep = false;
    let mut given_bin = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--keep" => keep = true,
            "--bin" => given_bin = Some(rest.next().context("--bin needs a path")?.clone()),
            other => bail!("unknown e2e-slurm argument {other:?}\n{USAGE}"),
        }
    }
    ensure!(
        is_root(),
        "e2e-slurm starts slurmctld, slurmd and munged and may apt-get install them: run it as root"
    );
    cluster::ensure_installed()?;
    let bin = match given_bin {
        Some(path) => std::fs::canonicalize(&path).with_context(|| format!("--bin {path}"))?,
        None => {
            crate::cargo(root, &["build", "--release", "-p", "loadtest-cli"], &[])?;
            std::env::var_os("CARGO_TARGET_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| root.join("target"))
                .join("release/vllm-loadtest")
        }
    };
    let dir = root
        .join("target/e2e-slurm")
        .join(format!("run-{}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let sim = Sim::start(&bin, 50.0, 10.0, 2, &dir.join("sim.log"))?;
    let result = {
        let cluster = cluster::Cluster::start(&dir.join("cluster"))?;
        sim.reset()?;
        submit(root, &cluster, &bin, &sim, &dir)
    };
    let checked = result.and_then(|()| check(&dir.join("run"), &sim));
    match (&checked, keep) {
        (Ok(()), false) => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        _ => println!("e2e-slurm: the folder is kept: {}", dir.display()),
    }
    checked?;
    println!("e2e-slurm: passed");
    Ok(())
}

/// `sbatch --wait` of the launch file, as a user would submit it.
fn submit(
    root: &Path,
    cluster: &cluster::Cluster,
    bin: &Path,
    sim: &Sim,
    dir: &Path,
) -> Result<()> {
    let steps = STEPS.map(|s| s.to_string()).join(",");
    let job_out = dir.join("job.out");
    let mut sbatch = cluster.command("sbatch");
    sbatch
        .arg("--wait")
        .arg(format!("--ntasks={SHARDS}"))
        .arg(format!("--output={}", job_out.display()))
        .arg(root.join("deploy/slurm/vllm-loadtest.sbatch"))
        .args([
            "--steps",
            &steps,
            "--step-duration-s",
            "3",
            "--warmup-s",
            "1",
        ])
        .args([
            "--input-size",
            "32",
            "--max-output-tokens",
            "16",
            "--ignore-eos",
        ])
        .args(["--seed", "7"])
        .args(["--no-gpu", "--timeout-s", "20"])
        .env("BASE_URL", &sim.url)
        .env("LOADTEST", bin)
        .env("RUN_ROOT", dir.join("run"))
        .env("START_DELAY_S", "5")
        .current_dir(dir);
    println!(
        "e2e-slurm: sbatch --wait --ntasks={SHARDS} deploy/slurm/vllm-loadtest.sbatch --steps {steps} …"
    );
    let status = sbatch.status().context("could not start sbatch")?;
    let log = std::fs::read_to_string(&job_out).unwrap_or_default();
    println!("e2e-slurm: the job's output:\n{}", log.trim_end());
    ensure!(status.success(), "the batch job failed ({status})");
    Ok(())
}

/// The merged folder holds every request the simulator received, once, from every shard, and
/// each merged step counts what the shards counted.
fn check(run_root: &Path, sim: &Sim) -> Result<()> {
    let truth = sim.truth()?;
    let merged = run_root.join("merged");
    let rows = read_rows(&merged.join("requests.jsonl"))?;
    ensure!(
        rows.len() as u64 == truth.requests,
        "merged requests.jsonl has {} rows; the simulator received {} requests",
        rows.len(),
        truth.requests
    );
    let mut ids: Vec<u64> = rows.iter().filter_map(|r| r["id"].as_u64()).collect();
    ids.sort_unstable();
    ids.dedup();
    ensure!(ids.len() == rows.len(), "request ids repeat or are missing");
    for shard in 0..SHARDS {
        ensure!(
            rows.iter().any(|r| r["shard"] == shard),
            "no merged row from shard {shard}"
        );
    }
    let merged_steps = read_json(&merged.join("step_summary.json"))?;
    let mut shard_steps = Vec::new();
    for shard in 0..SHARDS {
        shard_steps.push(read_json(
            &run_root.join(format!("shard-{shard}/step_summary.json")),
        )?);
    }
    for (i, load) in STEPS.iter().enumerate() {
        let step = &merged_steps["steps"][i];
        ensure!(
            step["load"].as_f64() == Some(*load as f64),
            "merged step {i}: load {} (expected {load})",
            step["load"]
        );
        let ok = |s: &Value| s["counts"]["ok"].as_u64().unwrap_or(0);
        let sum: u64 = shard_steps.iter().map(|f| ok(&f["steps"][i])).sum();
        ensure!(
            ok(step) == sum && sum > 0,
            "merged step {i}: {} ok requests, the shards {sum}",
            ok(step)
        );
        let ttft_p50 = step["ttft_s"]["p50"].as_f64().unwrap_or(f64::NAN);
        ensure!(
            (0.045..0.080).contains(&ttft_p50),
            "merged step {i}: TTFT p50 {ttft_p50} s, the simulator's is 0.050 s"
        );
    }
    println!(
        "e2e-slurm: {} requests merged from {SHARDS} shards = the simulator's count; steps {STEPS:?} sum the shards",
        rows.len()
    );
    Ok(())
}

fn read_rows(path: &Path) -> Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .map(|l| serde_json::from_str(l).with_context(|| format!("{}: bad line", path.display())))
        .collect()
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Whether this process runs as root (`id -u` is 0).
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

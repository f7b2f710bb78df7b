//! `--shard I/N`, `--shard auto` (Slurm's and Kubernetes' variables) and `--shards`, run as
//! the binary against the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::BIN;

/// Runs a tiny quiet sweep of 4 streams with `extra` flags and `env`; returns the exit code,
/// stderr and, when it ran, config.json.
fn sweep(extra: &[&str], env: &[(&str, &str)]) -> (i32, String, Option<serde_json::Value>) {
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--simulate",
        "--quiet",
        "--run-dir",
        run_dir.to_str().unwrap(),
    ])
    .args([
        // A missing nvidia-smi: GPU polling is attempted (or not) but never delivers.
        "--nvidia-smi",
        "/nonexistent/nvidia-smi",
        "--steps",
        "4",
        "--step-duration-s",
        "0.5",
        "--warmup-s",
        "0",
    ])
    .args(["--max-output-tokens", "4", "--timeout-s", "5"])
    .args(extra);
    for name in ["SLURM_PROCID", "SLURM_NTASKS", "JOB_COMPLETION_INDEX"] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    let output = cmd.output().unwrap();
    let config = std::fs::read_to_string(run_dir.join("config.json"))
        .ok()
        .map(|text| serde_json::from_str(&text).unwrap());
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        config,
    )
}

fn shard_of(config: &serde_json::Value) -> (u64, u64) {
    let shard = &config["settings"]["shard"];
    (
        shard["index"].as_u64().unwrap(),
        shard["count"].as_u64().unwrap(),
    )
}

#[test]
fn a_shard_is_named_or_read_from_the_launcher() {
    let (code, stderr, config) = sweep(&["--shard", "1/2"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(shard_of(&config.unwrap()), (1, 2));

    let slurm = [("SLURM_PROCID", "2"), ("SLURM_NTASKS", "4")];
    let (code, stderr, config) = sweep(&["--shard", "auto"], &slurm);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(shard_of(&config.unwrap()), (2, 4));

    let k8s = [("JOB_COMPLETION_INDEX", "0")];
    let (code, stderr, config) = sweep(&["--shard", "auto", "--shards", "3"], &k8s);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(shard_of(&config.unwrap()), (0, 3));
}

#[test]
fn shard_mistakes_are_refused_before_anything_runs() {
    for (flags, env, want) in [
        (&["--shard", "2/2"][..], &[][..], "invalid --shard"),
        (&["--shard", "auto"][..], &[][..], "SLURM_PROCID"),
        (
            &["--shard", "auto"][..],
            &[("JOB_COMPLETION_INDEX", "1")][..],
            "number of shards",
        ),
        (
            &["--shards", "2"][..],
            &[][..],
            "--shards applies to --shard auto",
        ),
        (
            &["--shard", "0/5"][..],
            &[][..],
            "at least 5 concurrent requests",
        ),
    ] {
        let (code, stderr, config) = sweep(flags, env);
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains(want), "{flags:?}: {stderr}");
        assert!(config.is_none(), "{flags:?} wrote a run folder");
    }
}

#[test]
fn only_shard_zero_reads_the_server_and_the_gpus_unless_told() {
    // (flags, scrapes /metrics, polls nvidia-smi)
    for (flags, metrics, gpu) in [
        (&["--shard", "0/2"][..], true, true),
        (&["--shard", "1/2"][..], false, false),
        (&["--shard", "1/2", "--scrape-metrics"][..], true, false),
        (&["--shard", "1/2", "--gpu"][..], false, true),
        (&["--shard", "0/2", "--no-metrics"][..], false, true),
        (&[][..], true, true),
    ] {
        let (code, stderr, config) = sweep(flags, &[]);
        assert_eq!(code, 0, "{flags:?}: {stderr}");
        let config = config.unwrap();
        assert_eq!(
            config["target"]["metrics_url"].is_string(),
            metrics,
            "{flags:?}: {}",
            config["target"]
        );
        assert_eq!(config["settings"]["gpu"]["enabled"], gpu, "{flags:?}");
        if metrics {
            assert!(
                config["telemetry"]["metrics_scrapes_ok"].as_u64().unwrap() > 0,
                "{flags:?}: {}",
                config["telemetry"]
            );
        }
    }
    for conflicting in [["--scrape-metrics", "--no-metrics"], ["--gpu", "--no-gpu"]] {
        let (code, stderr, _) = sweep(&conflicting, &[]);
        assert_eq!(code, 2, "{conflicting:?}: {stderr}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }
}

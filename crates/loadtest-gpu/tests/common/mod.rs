//! Fake `nvidia-smi` scripts and polling helpers shared by the poller tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use loadtest_gpu::{GpuPoller, GpuPollerConfig, GpuSample, PollerStatus, RestartPolicy};
use tempfile::TempDir;

pub const H100: &str = "NVIDIA H100 80GB HBM3";

/// Writes an executable fake nvidia-smi. `$LOOP` is 1 when called with `-lms`. The body runs
/// after the preamble; `$DIR` is the temp dir.
pub fn fake(dir: &TempDir, body: &str) -> PathBuf {
    let path = dir.path().join("nvidia-smi");
    let script = format!(
        "#!/bin/sh\n[ -n \"$FAKE_NOOP\" ] && exit 0\nDIR='{}'\ncase \" $* \" in *\" -lms \"*) LOOP=1;; *) LOOP=0;; esac\n{body}\n",
        dir.path().display()
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Another test thread may fork while our write fd is open ("text file busy" on exec);
    // wait until the script runs.
    for _ in 0..100 {
        match std::process::Command::new(&path)
            .env("FAKE_NOOP", "1")
            .status()
        {
            Ok(_) => return path,
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("fake script never became executable");
}

pub fn config(binary: &Path) -> GpuPollerConfig {
    let mut c = GpuPollerConfig::new(Duration::from_millis(50)).with_binary(binary);
    c.probe_timeout = Duration::from_millis(1500);
    c.restart = RestartPolicy::new(Duration::from_millis(100), Duration::from_millis(400), 3);
    c
}

pub fn full_line(gpu: u32, util: &str, power: &str) -> String {
    format!(
        "{gpu}, GPU-0000000{gpu}-aaaa-bbbb-cccc-dddddddddddd, {H100}, {util}, 20, 30000, 81559, {power}, 700.00, 55, 1980, 2619, P0"
    )
}

/// A script printing `block` (lines, already joined) once for the probe and every 50 ms in
/// loop mode.
pub fn looping(block: &str) -> String {
    format!(
        "cat <<'EOF' > \"$DIR/block\"\n{block}\nEOF\necho \"$@\" > \"$DIR/args\"\nif [ \"$LOOP\" = 0 ]; then cat \"$DIR/block\"; exit 0; fi\nwhile :; do cat \"$DIR/block\"; sleep 0.05; done"
    )
}

/// Drains until `done(all samples so far)` or `limit` passes.
pub async fn collect_until(
    poller: &GpuPoller,
    limit: Duration,
    done: impl Fn(&[GpuSample]) -> bool,
) -> Vec<GpuSample> {
    let until = Instant::now() + limit;
    let mut all = Vec::new();
    while Instant::now() < until {
        poller.drain_into(&mut all);
        if done(&all) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    all
}

pub fn running(status: &PollerStatus) -> bool {
    matches!(status, PollerStatus::Running { .. })
}

/// Gone, or a zombie waiting for a reaper.
pub fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z')),
    }
}

pub async fn read_pid(dir: &TempDir) -> u32 {
    for _ in 0..200 {
        if let Ok(s) = std::fs::read_to_string(dir.path().join("pid"))
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the fake never wrote its pid");
}

pub fn hanging_loop(dir: &TempDir) -> PathBuf {
    let line = full_line(0, "1", "100.00");
    fake(
        dir,
        &format!(
            "if [ \"$LOOP\" = 0 ]; then echo '{line}'; exit 0; fi\necho $$ > \"$DIR/pid\"\nexec sleep 1000"
        ),
    )
}

//! The poller against fake `nvidia-smi` scripts that fail, hang or are missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{config, dead, fake, full_line, hanging_loop, read_pid, running};
use loadtest_gpu::{GpuPoller, GpuPollerConfig, PollerStatus, Unavailable};
use tempfile::TempDir;

#[tokio::test]
async fn child_failing_every_time_gives_up_after_bounded_restarts() {
    let dir = TempDir::new().unwrap();
    let line = full_line(0, "70", "500.00");
    let body = format!(
        "if [ \"$LOOP\" = 0 ]; then echo '{line}'; exit 0; fi\necho 'NVML library not found' >&2\nexit 12"
    );
    let bin = fake(&dir, &body);
    let mut poller = GpuPoller::start(config(&bin));
    let mut rx_status = poller.status();
    let until = Instant::now() + Duration::from_secs(5);
    while !matches!(rx_status, PollerStatus::Unavailable(_)) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
        rx_status = poller.status();
    }
    let PollerStatus::Unavailable(Unavailable::GaveUp { failures, last }) = rx_status else {
        panic!("expected GaveUp, got {rx_status:?}");
    };
    assert_eq!(failures, 3);
    assert!(last.contains("exit status: 12"), "{last}");
    assert!(last.contains("NVML library not found"), "{last}");
    assert!(poller.drain().is_empty());
    assert_eq!(poller.stats().restarts, 2);
    poller.stop().await;
    assert!(matches!(poller.status(), PollerStatus::Unavailable(_)));
}

#[tokio::test]
async fn hung_probe_does_not_block_start_or_stop() {
    let dir = TempDir::new().unwrap();
    let bin = fake(&dir, "echo $$ > \"$DIR/pid\"\nexec sleep 1000");
    let mut cfg = config(&bin);
    cfg.probe_timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let poller = GpuPoller::start(cfg);
    assert!(
        t0.elapsed() < Duration::from_millis(100),
        "start took {:?}",
        t0.elapsed()
    );
    assert_eq!(poller.status(), PollerStatus::Starting);
    let pid = read_pid(&dir).await;
    let status = poller.wait_started().await;
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            status,
            PollerStatus::Unavailable(Unavailable::ProbeTimedOut { .. })
        ),
        "{status:?}"
    );
    assert_eq!(poller.warnings().len(), 1);
    assert!(poller.warnings()[0].contains("did not answer"));
    let until = Instant::now() + Duration::from_secs(3);
    while !dead(pid) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dead(pid), "hung probe {pid} still running");

    // Stop while the probe itself hangs.
    let mut cfg = config(&bin);
    cfg.probe_timeout = Duration::from_secs(60);
    let mut poller = GpuPoller::start(cfg);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t0 = Instant::now();
    poller.stop().await;
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t0.elapsed()
    );
    assert_eq!(poller.status(), PollerStatus::Stopped);
}

#[tokio::test]
async fn hung_child_is_killed_and_reaped_on_stop() {
    let dir = TempDir::new().unwrap();
    let mut poller = GpuPoller::start(config(&hanging_loop(&dir)));
    assert!(running(&poller.wait_started().await));
    let pid = read_pid(&dir).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(poller.drain().is_empty());
    assert!(!dead(pid));
    let t0 = Instant::now();
    poller.stop().await;
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "stop took {:?}",
        t0.elapsed()
    );
    // Reaped, not a zombie.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "child {pid} not reaped"
    );
    assert!(poller.warnings().is_empty());
    poller.stop().await; // twice is fine
}

#[tokio::test]
async fn hung_child_is_killed_on_drop() {
    let dir = TempDir::new().unwrap();
    let poller = GpuPoller::start(config(&hanging_loop(&dir)));
    assert!(running(&poller.wait_started().await));
    let pid = read_pid(&dir).await;
    drop(poller);
    let until = Instant::now() + Duration::from_secs(3);
    while !dead(pid) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dead(pid), "child {pid} survived the drop");
}

#[tokio::test]
async fn driver_failure_exit_9_is_one_warning_and_no_samples() {
    let dir = TempDir::new().unwrap();
    let bin = fake(
        &dir,
        "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\"\nexit 9",
    );
    let mut poller = GpuPoller::start(config(&bin));
    let status = poller.wait_started().await;
    let PollerStatus::Unavailable(Unavailable::QueryFailed {
        code,
        meaning,
        message,
        ..
    }) = status
    else {
        panic!("{status:?}");
    };
    assert_eq!(code, Some(9));
    assert_eq!(meaning, "NVIDIA driver not loaded");
    assert!(message.starts_with("NVIDIA-SMI has failed"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    poller.stop().await;
    assert!(poller.drain().is_empty());
    let warnings = poller.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("exit code 9"), "{}", warnings[0]);
    assert!(warnings[0].contains("driver"), "{}", warnings[0]);
}

#[tokio::test]
async fn missing_binary_is_one_warning_and_no_samples() {
    let dir = TempDir::new().unwrap();
    for binary in [
        dir.path().join("no-such-nvidia-smi"),
        PathBuf::from("nvidia-smi-not-on-path-anywhere"),
    ] {
        let t0 = Instant::now();
        let mut poller = GpuPoller::start(config(&binary));
        assert!(t0.elapsed() < Duration::from_millis(100));
        let status = poller.wait_started().await;
        assert_eq!(
            status,
            PollerStatus::Unavailable(Unavailable::BinaryNotFound {
                binary: binary.clone()
            })
        );
        poller.stop().await;
        assert!(poller.drain().is_empty());
        let warnings = poller.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("not found"));
        assert!(matches!(poller.status(), PollerStatus::Unavailable(_)));
    }
}

#[test]
fn start_outside_a_runtime_does_not_panic() {
    let poller = GpuPoller::start(GpuPollerConfig::default());
    assert_eq!(
        poller.status(),
        PollerStatus::Unavailable(Unavailable::NoRuntime)
    );
    assert_eq!(poller.warnings().len(), 1);
}

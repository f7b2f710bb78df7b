//! The poller against fake `nvidia-smi` shell scripts written into a temp dir: samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{H100, collect_until, config, fake, full_line, looping, running};
use loadtest_gpu::{
    FULL_FIELDS, GpuPoller, GpuSample, PollerStatus, QueryField, SAFE_FIELDS, query_arg,
};
use tempfile::TempDir;

#[tokio::test]
async fn one_gpu() {
    let dir = TempDir::new().unwrap();
    let bin = fake(&dir, &looping(&full_line(0, "45", "350.50")));
    let mut poller = GpuPoller::start(config(&bin));
    assert!(running(&poller.wait_started().await));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 4).await;
    poller.stop().await;
    assert!(samples.len() >= 4, "{} samples", samples.len());
    let r = &samples[0].reading;
    assert_eq!(r.gpu, 0);
    assert_eq!(r.name.as_deref(), Some(H100));
    assert_eq!(r.util_gpu_pct, Some(45.0));
    assert_eq!(r.power_w, Some(350.5));
    assert_eq!(r.mem_total_mib, Some(81559.0));
    assert_eq!(r.pstate.as_deref(), Some("P0"));
    assert!(samples.iter().all(|s| s.child_run == 0));
    assert!(
        samples
            .windows(2)
            .all(|w| w[0].at <= w[1].at && w[0].unix_s <= w[1].unix_s)
    );
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(
        args.trim(),
        format!(
            "{} --format=csv,noheader,nounits -lms 50",
            query_arg(FULL_FIELDS)
        )
    );
    assert!(poller.warnings().is_empty(), "{:?}", poller.warnings());
    assert_eq!(poller.stats().malformed_lines, 0);
    assert_eq!(poller.status(), PollerStatus::Stopped);
}

#[tokio::test]
async fn eight_gpus() {
    let dir = TempDir::new().unwrap();
    let block: Vec<String> = (0..8).map(|g| full_line(g, "90", "600.00")).collect();
    let bin = fake(&dir, &looping(&block.join("\n")));
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 24).await;
    poller.stop().await;
    assert!(samples.len() >= 24);
    // Blocks arrive whole and in index order.
    for (i, s) in samples.iter().take(24).enumerate() {
        assert_eq!(s.reading.gpu as usize, i % 8);
    }
    assert!(poller.warnings().is_empty());
}

#[tokio::test]
async fn mig_style_na_columns_are_missing() {
    let dir = TempDir::new().unwrap();
    let line = "0, GPU-2af1c335-11fb-c9d3-4de3-27a25697fc35, NVIDIA H200, [N/A], [N/A], 639, 143771, 123.31, 700.00, 38, 1980, 2619, P0";
    let bin = fake(&dir, &looping(line));
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 2).await;
    poller.stop().await;
    assert!(samples.len() >= 2);
    let r = &samples[0].reading;
    assert_eq!((r.util_gpu_pct, r.util_mem_pct), (None, None));
    assert_eq!(r.mem_used_mib, Some(639.0));
    assert_eq!(r.power_w, Some(123.31));
    assert!(poller.warnings().is_empty());
    assert_eq!(poller.stats().malformed_lines, 0);
}

#[tokio::test]
async fn not_supported_power_is_missing() {
    let dir = TempDir::new().unwrap();
    let line = full_line(0, "10", "[Not Supported]").replace("700.00", "[Not Supported]");
    let bin = fake(&dir, &looping(&line));
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 2).await;
    poller.stop().await;
    assert!(samples.len() >= 2);
    assert_eq!(samples[0].reading.power_w, None);
    assert_eq!(samples[0].reading.power_limit_w, None);
    assert_eq!(samples[0].reading.util_gpu_pct, Some(10.0));
    assert!(poller.warnings().is_empty());
}

#[tokio::test]
async fn garbage_line_is_skipped_counted_and_warned_once() {
    let dir = TempDir::new().unwrap();
    let block = format!(
        "{}\nthis is not csv at all\n{}",
        full_line(0, "50", "400.00"),
        full_line(1, "51", "401.00")
    );
    let bin = fake(&dir, &looping(&block));
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 6).await;
    poller.stop().await;
    assert!(samples.len() >= 6);
    assert!(samples.iter().all(|s| s.reading.gpu <= 1));
    let stats = poller.stats();
    assert!(stats.malformed_lines >= 3, "{stats:?}");
    assert_eq!(stats.lines, stats.samples + stats.malformed_lines);
    let warnings = poller.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("malformed"), "{}", warnings[0]);
    assert!(warnings[0].contains("this is not csv"), "{}", warnings[0]);
}

#[tokio::test]
async fn child_exiting_after_three_samples_is_restarted_with_a_visible_gap() {
    let dir = TempDir::new().unwrap();
    let line = full_line(0, "70", "500.00");
    let body = format!(
        "if [ \"$LOOP\" = 0 ]; then echo '{line}'; exit 0; fi\nfor i in 1 2 3; do echo '{line}'; sleep 0.03; done\nexit 0"
    );
    let bin = fake(&dir, &body);
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(6), |s| {
        s.iter().filter(|x| x.child_run == 1).count() >= 1
    })
    .await;
    poller.stop().await;
    let run0: Vec<&GpuSample> = samples.iter().filter(|s| s.child_run == 0).collect();
    let first_run1 = samples
        .iter()
        .find(|s| s.child_run == 1)
        .expect("a restarted child");
    assert_eq!(run0.len(), 3);
    let gap = first_run1.at - run0[2].at;
    assert!(
        gap >= Duration::from_millis(100),
        "gap {gap:?} shorter than the backoff"
    );
    assert!(poller.stats().restarts >= 1);
    let warnings = poller.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("restarted"), "{}", warnings[0]);
    assert!(warnings[0].contains("after 3 sample(s)"), "{}", warnings[0]);
}

#[tokio::test]
async fn a_rejected_field_is_dropped() {
    let dir = TempDir::new().unwrap();
    // Rejects clocks.mem, like a driver that lacks the alias.
    let line = "0, GPU-x, NVIDIA H200, 5, 1, 600, 143771, 120.00, 700.00, 35, 1980, P0";
    let body = format!(
        "case \"$*\" in *clocks.mem*) echo 'Field \"clocks.mem\" is not a valid field to query.'; exit 2;; esac\n{}",
        looping(line)
    );
    let bin = fake(&dir, &body);
    let mut poller = GpuPoller::start(config(&bin));
    let status = poller.wait_started().await;
    let PollerStatus::Running { fields, .. } = status else {
        panic!("{status:?}")
    };
    assert!(!fields.contains(&QueryField::ClocksMem));
    assert_eq!(fields.len(), FULL_FIELDS.len() - 1);
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 2).await;
    poller.stop().await;
    assert!(samples.len() >= 2);
    assert_eq!(samples[0].reading.sm_clock_mhz, Some(1980.0));
    assert_eq!(samples[0].reading.mem_clock_mhz, None);
    assert_eq!(samples[0].reading.pstate.as_deref(), Some("P0"));
    let warnings = poller.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("`clocks.mem`"));
}

#[tokio::test]
async fn an_unexplained_rejection_falls_back_to_the_safe_list() {
    let dir = TempDir::new().unwrap();
    let line = "0, GPU-x, NVIDIA H200, 5, 600, 143771, 120.00, 35";
    let body = format!(
        "case \"$*\" in *pstate*) echo 'Invalid combination of input arguments.' >&2; exit 2;; esac\n{}",
        looping(line)
    );
    let bin = fake(&dir, &body);
    let mut poller = GpuPoller::start(config(&bin));
    let status = poller.wait_started().await;
    assert!(
        matches!(&status, PollerStatus::Running { fields, .. } if fields == SAFE_FIELDS),
        "{status:?}"
    );
    let samples = collect_until(&poller, Duration::from_secs(5), |s| !s.is_empty()).await;
    poller.stop().await;
    let r = &samples[0].reading;
    assert_eq!(
        (r.util_gpu_pct, r.power_w, r.temp_c),
        (Some(5.0), Some(120.0), Some(35.0))
    );
    assert_eq!((r.pstate.as_deref(), r.sm_clock_mhz), (None, None));
    let warnings = poller.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("falling back"));
}

#[tokio::test]
async fn buffer_is_bounded_when_nobody_drains() {
    let dir = TempDir::new().unwrap();
    let block: Vec<String> = (0..8).map(|g| full_line(g, "90", "600.00")).collect();
    let bin = fake(&dir, &looping(&block.join("\n")));
    let mut cfg = config(&bin);
    cfg.buffer_capacity = 10;
    let mut poller = GpuPoller::start(cfg);
    let until = Instant::now() + Duration::from_secs(5);
    while poller.stats().dropped_samples == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    poller.stop().await;
    assert!(poller.stats().dropped_samples > 0);
    assert_eq!(poller.drain().len(), 10);
    assert!(poller.warnings().iter().any(|w| w.contains("dropped")));
}

#[tokio::test]
async fn fixture_through_the_poller() {
    let dir = TempDir::new().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/h200x8_lms200.csv");
    let body = format!(
        "if [ \"$LOOP\" = 0 ]; then head -n 8 '{fixture}'; exit 0; fi\ncat '{fixture}'\nexec sleep 1000"
    );
    let bin = fake(&dir, &body);
    let mut poller = GpuPoller::start(config(&bin));
    let samples = collect_until(&poller, Duration::from_secs(5), |s| s.len() >= 40).await;
    poller.stop().await;
    assert_eq!(samples.len(), 40);
    assert!(
        samples
            .iter()
            .all(|s| s.reading.name.as_deref() == Some("NVIDIA H200"))
    );
    assert!(poller.warnings().is_empty());
}

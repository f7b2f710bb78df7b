//! Step aggregation on synthetic samples: no processes, no sleeping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use loadtest_gpu::{GpuSample, StepAggregator};
use loadtest_run::GpuReading;
use loadtest_run::{GpuStepStats, tokens_per_joule, total_energy_j};

fn sample(start: Instant, offset_ms: i64, gpu: u32, power_w: Option<f64>, run: u32) -> GpuSample {
    let at = if offset_ms >= 0 {
        start + Duration::from_millis(offset_ms.unsigned_abs())
    } else {
        start - Duration::from_millis(offset_ms.unsigned_abs())
    };
    GpuSample {
        at,
        unix_s: 1_700_000_000.0,
        child_run: run,
        reading: GpuReading {
            gpu,
            power_w,
            ..GpuReading::default()
        },
    }
}

fn run(start: Instant, window: Duration, samples: &[GpuSample]) -> Vec<GpuStepStats> {
    let mut agg = StepAggregator::new(start, start + window);
    for s in samples {
        agg.push(s);
    }
    agg.finish()
}

fn anchor() -> Instant {
    // Far enough from the process start that `start - 1 s` is representable everywhere.
    Instant::now() + Duration::from_secs(5)
}

#[test]
fn constant_300_w_for_10_s_is_3000_j() {
    let start = anchor();
    // 1 s polling, phase-shifted against the window: edges are interpolated from the samples
    // just outside it.
    let samples: Vec<GpuSample> = (0..12)
        .map(|i| sample(start, i * 1000 - 700, 0, Some(300.0), 0))
        .collect();
    let stats = run(start, Duration::from_secs(10), &samples);
    let e = stats[0].energy_j.unwrap();
    assert!((e - 3000.0).abs() <= 30.0, "{e} J");
    assert!((e - 3000.0).abs() < 1e-6, "exact for constant power: {e} J");
    assert!((stats[0].energy_covered_s - 10.0).abs() < 1e-9);
    assert_eq!(stats[0].window_s, 10.0);
    assert_eq!(stats[0].samples, 10);
    assert_eq!(stats[0].power_mean_w, Some(300.0));
}

#[test]
fn constant_300_w_with_jittered_samples_is_within_1_percent() {
    let start = anchor();
    // 200 ms polling with ±40 ms arrival jitter (deterministic pattern), window-aligned start.
    let samples: Vec<GpuSample> = (0..52)
        .map(|i| {
            let jitter = [0, 37, -22, 15, -40, 8][i as usize % 6];
            sample(start, i * 200 - 100 + jitter, 0, Some(300.0), 0)
        })
        .collect();
    let e = run(start, Duration::from_secs(10), &samples)[0]
        .energy_j
        .unwrap();
    assert!((e - 3000.0).abs() <= 30.0, "{e} J");
}

#[test]
fn linear_ramp_is_integrated_exactly() {
    // 100 W → 500 W linearly over 4 s: 1200 J; trapezoids are exact on a linear signal.
    let start = anchor();
    let samples: Vec<GpuSample> = (0..=8)
        .map(|i| sample(start, i * 500, 0, Some(100.0 + 50.0 * i as f64), 0))
        .collect();
    let s = &run(start, Duration::from_secs(4), &samples)[0];
    assert!((s.energy_j.unwrap() - 1200.0).abs() < 1e-6);
    assert_eq!(s.power_max_w, Some(500.0));
    assert_eq!(s.power_mean_w, Some(300.0));
}

#[test]
fn restart_gap_is_not_integrated() {
    let start = anchor();
    let mut samples: Vec<GpuSample> = (0..=3)
        .map(|i| sample(start, i * 1000, 0, Some(300.0), 0))
        .collect();
    samples.extend((6..=10).map(|i| sample(start, i * 1000, 0, Some(300.0), 1)));
    let s = &run(start, Duration::from_secs(10), &samples)[0];
    assert!((s.energy_covered_s - 7.0).abs() < 1e-9);
    assert!((s.energy_j.unwrap() - 2100.0).abs() < 1e-6);
    assert_eq!(s.samples, 9);
}

#[test]
fn missing_power_and_max_gap_break_the_integral() {
    let start = anchor();
    let samples = vec![
        sample(start, 0, 0, Some(200.0), 0),
        sample(start, 1000, 0, Some(200.0), 0),
        sample(start, 2000, 0, None, 0),
        sample(start, 3000, 0, Some(200.0), 0),
        sample(start, 8000, 0, Some(200.0), 0),
        sample(start, 9000, 0, Some(200.0), 0),
    ];
    let mut agg = StepAggregator::new(start, start + Duration::from_secs(9))
        .with_max_gap(Duration::from_secs(3));
    for s in &samples {
        agg.push(s);
    }
    let s = &agg.finish()[0];
    assert!(
        (s.energy_covered_s - 2.0).abs() < 1e-9,
        "{}",
        s.energy_covered_s
    );
    assert!((s.energy_j.unwrap() - 400.0).abs() < 1e-6);
    assert_eq!(s.power_mean_w, Some(200.0));
    assert_eq!(s.samples, 6);
}

#[test]
fn no_power_at_all_gives_no_energy() {
    let start = anchor();
    let samples: Vec<GpuSample> = (0..5).map(|i| sample(start, i * 100, 0, None, 0)).collect();
    let stats = run(start, Duration::from_secs(1), &samples);
    assert_eq!(stats[0].energy_j, None);
    assert_eq!(stats[0].power_mean_w, None);
    assert_eq!(total_energy_j(&stats), None);
}

#[test]
fn per_gpu_statistics() {
    let start = anchor();
    let mut samples = Vec::new();
    for i in 0..=4 {
        for gpu in 0..2 {
            let mut s = sample(start, i * 250, gpu, Some(100.0 * f64::from(gpu + 1)), 0);
            s.reading.util_gpu_pct = Some(f64::from(10 * (i as u32) + gpu));
            s.reading.util_mem_pct = if gpu == 0 { None } else { Some(50.0) };
            s.reading.mem_used_mib = Some(1000.0 + i as f64);
            s.reading.mem_total_mib = Some(81559.0);
            s.reading.temp_c = Some(40.0 + i as f64);
            s.reading.sm_clock_mhz = Some(if i % 2 == 0 { 1980.0 } else { 1755.0 });
            s.reading.name = Some("NVIDIA H100 80GB HBM3".into());
            samples.push(s);
        }
    }
    // A late sample after the window only closes the integral.
    samples.push(sample(start, 5000, 0, Some(9999.0), 0));
    let stats = run(start, Duration::from_secs(1), &samples);
    assert_eq!(stats.len(), 2);
    let g0 = &stats[0];
    assert_eq!(g0.gpu, 0);
    assert_eq!(g0.samples, 5);
    assert_eq!(g0.util_gpu_mean_pct, Some(20.0));
    assert_eq!(g0.util_gpu_max_pct, Some(40.0));
    assert_eq!(g0.util_mem_mean_pct, None);
    assert_eq!(g0.mem_used_max_mib, Some(1004.0));
    assert_eq!(g0.mem_total_mib, Some(81559.0));
    assert_eq!(g0.temp_max_c, Some(44.0));
    assert_eq!(
        g0.sm_clock_mean_mhz,
        Some((3.0 * 1980.0 + 2.0 * 1755.0) / 5.0)
    );
    assert_eq!(g0.power_max_w, Some(100.0));
    assert!((g0.energy_j.unwrap() - 100.0).abs() < 1e-6);
    assert_eq!(g0.name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
    assert_eq!(stats[1].util_mem_mean_pct, Some(50.0));
    assert!((total_energy_j(&stats).unwrap() - 300.0).abs() < 1e-6);
    // Serializes for step_summary.json.
    let json = serde_json::to_value(g0).unwrap();
    assert_eq!(json["energy_j"], serde_json::json!(g0.energy_j.unwrap()));
    assert!(json["util_mem_mean_pct"].is_null());
}

#[test]
fn empty_or_inverted_window_does_not_panic() {
    let start = anchor();
    let mut agg = StepAggregator::new(start, start - Duration::from_secs(1));
    agg.push(&sample(start, 0, 0, Some(1.0), 0));
    agg.push(&sample(start, 10, 0, Some(1.0), 0));
    let s = &agg.finish()[0];
    assert_eq!(s.window_s, 0.0);
    assert_eq!(s.energy_j, None);
    assert!(StepAggregator::new(start, start).finish().is_empty());
}

#[test]
fn tokens_per_joule_helper() {
    assert_eq!(tokens_per_joule(3000, 1500.0), Some(2.0));
    assert_eq!(tokens_per_joule(0, 1500.0), Some(0.0));
    assert_eq!(tokens_per_joule(10, 0.0), None);
    assert_eq!(tokens_per_joule(10, -1.0), None);
    assert_eq!(tokens_per_joule(10, f64::NAN), None);
}

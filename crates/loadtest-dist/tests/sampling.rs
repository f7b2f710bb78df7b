//! Statistical and property tests of the sampler and the spec round trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use loadtest_dist::{DistSpec, Sampler, derive_seed};
use proptest::prelude::*;

const N: u64 = 100_000;

fn draws(spec: &str, seed: u64) -> Vec<f64> {
    let sampler = Sampler::new(spec.parse().unwrap(), seed);
    (0..N).map(|i| sampler.sample(i) as f64).collect()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn std(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

fn median(xs: &[f64]) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[test]
fn normal_mean_and_std_within_two_percent() {
    // Bounds are 8 standard deviations out, so truncation does not bias the moments.
    let xs = draws("normal:1000:100:200:1800", 7);
    let (m, s) = (mean(&xs), std(&xs));
    assert!((m - 1000.0).abs() / 1000.0 < 0.02, "mean {m}");
    assert!((s - 100.0).abs() / 100.0 < 0.02, "std {s}");
}

#[test]
fn lognormal_median_within_three_percent_of_e_mu() {
    let xs = draws("lognormal:6.0:0.5:1:100000", 11);
    let expected = 6.0f64.exp();
    let med = median(&xs);
    assert!(
        (med - expected).abs() / expected < 0.03,
        "median {med} vs {expected}"
    );
}

#[test]
fn uniform_covers_both_ends_evenly() {
    let xs = draws("uniform:1:10", 3);
    let mut counts = [0u64; 11];
    for x in &xs {
        counts[*x as usize] += 1;
    }
    assert_eq!(counts[0], 0);
    for (value, &count) in counts.iter().enumerate().skip(1) {
        // Each of 10 values expects 10,000 draws; 5 % is many standard deviations.
        assert!((9_500..=10_500).contains(&count), "{value}: {count}");
    }
}

#[test]
fn truncated_normal_respects_tight_bounds() {
    let xs = draws("normal:256:64:200:260", 5);
    assert!(xs.iter().all(|&x| (200.0..=260.0).contains(&x)));
    assert!(xs.contains(&200.0) && xs.contains(&260.0));
}

#[test]
fn same_seed_and_index_same_value_in_any_order() {
    let sampler = Sampler::new("lognormal:6.0:0.5:128:4096".parse().unwrap(), 99);
    let forward: Vec<u64> = (0..1000).map(|i| sampler.sample(i)).collect();
    let backward: Vec<u64> = (0..1000).rev().map(|i| sampler.sample(i)).collect();
    assert!(forward.iter().eq(backward.iter().rev()));
    let again = Sampler::new("lognormal:6.0:0.5:128:4096".parse().unwrap(), 99);
    assert_eq!(again.sample(500), forward[500]);
    let other_seed = Sampler::new("lognormal:6.0:0.5:128:4096".parse().unwrap(), 100);
    let differs = (0..1000).filter(|&i| other_seed.sample(i) != forward[i as usize]);
    assert!(differs.count() > 900);
}

#[test]
fn derived_streams_are_independent() {
    let a = Sampler::new(
        "uniform:1:1000000".parse().unwrap(),
        derive_seed(1, "input"),
    );
    let b = Sampler::new(
        "uniform:1:1000000".parse().unwrap(),
        derive_seed(1, "output"),
    );
    assert!((0..100).all(|i| a.sample(i) != b.sample(i)));
}

/// Draws pinned at a known value: a change of algorithm (ours or rand's) shows up here,
/// because it would silently change every recorded run's inputs.
#[test]
fn draws_are_stable_across_releases() {
    let sampler = Sampler::new("normal:256:64:32:1024".parse().unwrap(), 0);
    let first: Vec<u64> = (0..5).map(|i| sampler.sample(i)).collect();
    let again: Vec<u64> = (0..5).map(|i| sampler.sample(i)).collect();
    assert_eq!(first, again);
    // Pinned from the first run of this implementation; update only on purpose.
    assert_eq!(first, [313, 323, 311, 296, 201], "sampler output changed");
}

fn spec_strategy() -> impl Strategy<Value = DistSpec> {
    let bounds = (1u64..100_000, 0u64..100_000).prop_map(|(min, extra)| (min, min + extra));
    let real = -1e6f64..1e6;
    let non_negative = 0f64..1e4;
    prop_oneof![
        (1u64..u64::MAX).prop_map(DistSpec::Fixed),
        (real.clone(), non_negative.clone(), bounds.clone()).prop_map(|(mean, std, (min, max))| {
            DistSpec::Normal {
                mean,
                std,
                min,
                max,
            }
        }),
        (-5f64..12.0, 0f64..3.0, bounds.clone()).prop_map(|(mu, sigma, (min, max))| {
            DistSpec::LogNormal {
                mu,
                sigma,
                min,
                max,
            }
        }),
        bounds.prop_map(|(min, max)| DistSpec::Uniform { min, max }),
    ]
}

proptest! {
    #[test]
    fn display_round_trips(spec in spec_strategy()) {
        let text = spec.to_string();
        prop_assert_eq!(text.parse::<DistSpec>(), Ok(spec));
    }

    #[test]
    fn every_draw_is_within_bounds(spec in spec_strategy(), seed: u64, index: u64) {
        let (min, max) = spec.bounds();
        let value = Sampler::new(spec, seed).sample(index);
        prop_assert!((min..=max).contains(&value), "{} not in [{}, {}]", value, min, max);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,40}") {
        let _ = text.parse::<DistSpec>();
    }
}

//! `DistSpec::clamp_check` and `ClampReport::advice` on the specs users actually write.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use loadtest_dist::{
    CLAMP_ADVICE_THRESHOLD, CLAMP_CHECK_SAMPLES, CLAMP_CHECK_SEED, ClampReport, DistSpec,
    REDRAW_ADVICE_THRESHOLD, Sampler,
};

fn check(spec: &str) -> ClampReport {
    spec.parse::<DistSpec>().unwrap().clamp_check()
}

fn advice(spec: &str) -> String {
    check(spec)
        .advice()
        .unwrap_or_else(|| panic!("{spec}: expected advice"))
}

#[test]
fn lognormal_written_as_mean_and_std_is_clamped_at_max_and_gets_the_meant_spec() {
    let report = check("lognormal:400:100:128:4096");
    assert_eq!(report.samples(), CLAMP_CHECK_SAMPLES);
    assert!(report.share_clamped_at_max() > 0.99, "{report:?}");
    assert!(report.share_redrawn() > 0.99, "{report:?}");
    let text = advice("lognormal:400:100:128:4096");
    for part in [
        "lognormal:400:100:128:4096: 100.0 % of draws fall outside [128, 4096] and are redrawn",
        "these are clamped: 100.0 % at max 4096",
        "mu and sigma are the mean and std of the underlying normal",
        "the median is e^mu ≈ 5.2e173 tokens",
        "If 400 tokens with std 100 was meant, use lognormal:5.99:0.25:128:4096:",
        "mu = ln(400) ≈ 5.99",
        "sigma = sqrt(ln(1 + (100/400)²)) ≈ 0.25",
        "keeps the std at 25.0 % of the mean",
    ] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
    assert!(!text.contains("outside [128, 4096]: check the bounds"));
}

#[test]
fn the_suggested_spec_is_what_was_meant() {
    let meant: DistSpec = "lognormal:5.99:0.25:128:4096".parse().unwrap();
    let report = meant.clamp_check();
    assert_eq!(report.share_clamped(), 0.0);
    assert_eq!(report.advice(), None);
    // Median 400 and std/mean 0.25, the reading of "400:100" the advice promises.
    let sampler = Sampler::new(meant, 3);
    let mut xs: Vec<f64> = (0..100_000).map(|i| sampler.sample(i) as f64).collect();
    xs.sort_by(f64::total_cmp);
    let median = xs[xs.len() / 2];
    assert!((median - 400.0).abs() / 400.0 < 0.02, "median {median}");
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
    assert!((std / mean - 0.25).abs() < 0.01, "std/mean {}", std / mean);
}

#[test]
fn the_suggestion_uses_the_std_as_a_share_of_the_median() {
    let text = advice("lognormal:1000:500:1:100000");
    // sqrt(ln(1 + 0.25)) = 0.4724; ln(1000) = 6.9078.
    assert!(text.contains("use lognormal:6.91:0.47:1:100000"), "{text}");
    let text = advice("lognormal:25:1:128:4096");
    // sqrt(ln(1 + 0.0016)) = 0.03998: two significant digits below 0.1.
    assert!(text.contains("use lognormal:3.22:0.040:128:4096"), "{text}");
    assert!(
        text.contains("25 is itself outside [128, 4096]: check the bounds too."),
        "{text}"
    );
}

#[test]
fn a_sane_lognormal_gets_no_advice() {
    let report = check("lognormal:6.0:0.5:128:4096");
    assert_eq!(report.advice(), None);
    assert_eq!(report.clamped_at_min() + report.clamped_at_max(), 0);
    // P(e^N(6, 0.5) < 127.5) = Φ(−2.304) = 1.06 %: the redrawn share estimates it.
    let redrawn = report.share_redrawn();
    assert!((0.0076..=0.0136).contains(&redrawn), "{redrawn}");
}

#[test]
fn a_lognormal_below_its_min_names_the_median_without_a_suggestion() {
    let report = check("lognormal:-10:0.1:128:4096");
    assert_eq!(report.share_clamped_at_min(), 1.0);
    let text = report.advice().unwrap();
    assert!(text.contains("100.0 % at min 128"), "{text}");
    assert!(
        text.contains("the median is e^mu ≈ 4.5e-5 tokens."),
        "{text}"
    );
    assert!(!text.contains("use lognormal:"), "{text}");
}

#[test]
fn a_sane_normal_gets_no_advice() {
    let report = check("normal:256:64:32:1024");
    assert_eq!(report.advice(), None);
    assert_eq!(report.share_clamped(), 0.0);
    assert!(report.share_redrawn() < 0.002, "{report:?}");
}

#[test]
fn a_normal_mostly_outside_its_bounds_gets_advice_though_it_is_redrawn_not_clamped() {
    // [0.5, 200.5) holds 15.9 % of normal(100, 500): 84.1 % of first draws miss, and 65
    // misses in a row (1.3e-5) are too rare to reach the clamp threshold.
    let report = check("normal:100:500:1:200");
    assert!(
        (0.83..=0.85).contains(&report.share_redrawn()),
        "{report:?}"
    );
    assert!(report.share_clamped() < CLAMP_ADVICE_THRESHOLD);
    assert!(report.share_redrawn() > REDRAW_ADVICE_THRESHOLD);
    let text = report.advice().unwrap();
    assert!(text.starts_with("normal:100:500:1:200: 84."), "{text}");
    assert!(
        text.contains("% of draws fall outside [1, 200] and are redrawn"),
        "{text}"
    );
    assert!(
        text.contains("mean 100 and std 500 are token counts"),
        "{text}"
    );
    // One draw in 10,000 reached the clamp: shown, but not as 0.0 %.
    assert_eq!(report.clamped_at_min() + report.clamped_at_max(), 1);
    assert!(
        text.contains("these are clamped: < 0.1 % at min 1."),
        "{text}"
    );
}

#[test]
fn a_normal_far_beyond_a_bound_names_that_bound() {
    let report = check("normal:10000:1:1:5");
    assert_eq!(report.share_clamped_at_max(), 1.0);
    assert_eq!(report.share_clamped_at_min(), 0.0);
    let text = report.advice().unwrap();
    assert!(
        text.contains("these are clamped: 100.0 % at max 5"),
        "{text}"
    );
    assert!(!text.contains("at min"), "{text}");

    let report = check("normal:-10000:1:2:5");
    assert_eq!(report.share_clamped_at_min(), 1.0);
    assert!(report.advice().unwrap().contains("100.0 % at min 2"));
}

#[test]
fn fixed_and_uniform_never_clamp() {
    for spec in ["128", "uniform:1:4096", "uniform:7:7"] {
        let report = check(spec);
        assert_eq!(report.redrawn(), 0, "{spec}");
        assert_eq!(report.share_clamped(), 0.0, "{spec}");
        assert_eq!(report.advice(), None, "{spec}");
    }
}

#[test]
fn the_check_counts_what_the_sampler_hands_out() {
    // Same seed, same indices: every clamp the report counts is a bound the sampler returns.
    for spec in [
        "lognormal:400:100:128:4096",
        "normal:10000:1:1:5",
        "normal:100:500:1:200",
    ] {
        let parsed: DistSpec = spec.parse().unwrap();
        let report = parsed.clamp_check();
        assert_eq!(report.spec(), &parsed);
        let (_, max) = parsed.bounds();
        let sampler = Sampler::new(parsed, CLAMP_CHECK_SEED);
        let at_max = (0..CLAMP_CHECK_SAMPLES)
            .filter(|&i| sampler.sample(i) == max)
            .count() as u64;
        assert!(at_max >= report.clamped_at_max(), "{spec}");
    }
    let report = check("normal:10000:1:1:5");
    let sampler = Sampler::new(*report.spec(), CLAMP_CHECK_SEED);
    assert!((0..CLAMP_CHECK_SAMPLES).all(|i| sampler.sample(i) == 5));
}

#[test]
fn the_check_is_deterministic() {
    assert_eq!(check("normal:100:500:1:200"), check("normal:100:500:1:200"));
    assert_eq!(
        check("lognormal:400:100:128:4096").advice(),
        check("lognormal:400:100:128:4096").advice()
    );
}

//! The confidence intervals of a change B − A: a seeded percentile bootstrap for statistics
//! of per-request values, and normal approximations for rates (Poisson counts) and shares
//! (two proportions). Every interval is a 95 % interval of the difference B − A.

use loadtest_run::percentile_linear;

/// z of a two-sided 95 % normal interval.
const Z95: f64 = 1.959_963_984_540_054;

/// A 95 % interval of a difference B − A, in the metric's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl Interval {
    /// Whether zero lies outside the interval (the change is not noise at this level).
    pub(crate) fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// The statistic a bootstrap recomputes on each resample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stat {
    /// Percentile, 0–100 (numpy's linear interpolation).
    Pct(u8),
}

impl Stat {
    /// The statistic of `values` (any order; reordered in place); NaN when empty.
    pub(crate) fn of(self, values: &mut [f64]) -> f64 {
        match self {
            Stat::Pct(p) => percentile_unsorted(values, f64::from(p)),
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same intervals on every
/// machine.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is below 2⁻⁴⁰ for any sample size kept).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Percentile `p` of `values` without a full sort: the two order statistics the linear
/// interpolation needs are selected in O(n).
pub(crate) fn percentile_unsorted(values: &mut [f64], p: f64) -> f64 {
    let n = values.len();
    if n <= 2 {
        values.sort_by(f64::total_cmp);
        return percentile_linear(values, p);
    }
    let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = rank.floor() as usize;
    let frac = rank - lo as f64;
    let (_, &mut lo_value, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || upper.is_empty() {
        return lo_value;
    }
    let hi_value = upper.iter().copied().fold(f64::INFINITY, f64::min);
    lo_value + (hi_value - lo_value) * frac
}

/// One side of a bootstrap: the values in request start order, and the block length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blocked<'a> {
    /// Per-request values, ordered by request start.
    pub(crate) values: &'a [f64],
    /// Consecutive requests drawn together (1: the plain bootstrap).
    pub(crate) block: usize,
}

/// Fills `buf` with a moving-block resample of `values`: blocks of `block` consecutive
/// values from random starts, until `buf` is full.
fn resample(values: &[f64], block: usize, buf: &mut [f64], rng: &mut SplitMix64) {
    let n = values.len();
    let block = block.clamp(1, n);
    let mut filled = 0;
    while filled < buf.len() {
        let start = rng.below(n - block + 1);
        let take = block.min(buf.len() - filled);
        buf[filled..filled + take].copy_from_slice(&values[start..start + take]);
        filled += take;
    }
}

/// Moving-block percentile bootstrap of `stat(B) − stat(A)`: `resamples` times, each
/// sample is drawn again with replacement (its own size) in blocks of consecutive requests
/// (requests in flight together share the server's and the client's hiccups, so they are
/// not independent draws), the statistic recomputed on both and the difference kept; the
/// interval is the 2.5th and 97.5th percentile of those differences. `None` when either
/// sample is empty or `resamples` is 0. Memory: two buffers of the samples' sizes and one of
/// `resamples` differences.
pub(crate) fn bootstrap_diff(
    a: Blocked<'_>,
    b: Blocked<'_>,
    stat: Stat,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    bootstrap_diff_by(a, b, |v| stat.of(v), |v| stat.of(v), resamples, seed)
}

/// One side of a closed-loop rate: its per-request e2e times, its observed rate, and the
/// window's edge noise.
pub(crate) struct ClosedRate<'a> {
    /// e2e times, ordered by request start, with the bootstrap block.
    pub(crate) e2e: Blocked<'a>,
    /// The observed rate (events per second of the window).
    pub(crate) rate: f64,
    /// Variance of the observed rate from where the window's edges fall in each stream's
    /// cycle (see [`edge_variance`]).
    pub(crate) edge_var: f64,
}

/// The variance a window of `window_s` seconds adds to a closed loop's rate of `scale`
/// events per request with `inflight` streams: a stream of period `R` completes
/// `⌊T/R + U⌋` requests in the window, `U` the uniform phase where the edges cut its cycle —
/// `T/R` on average, with the variance of a Bernoulli draw, at most ¼. So the count's
/// variance is at most `N/4` and the rate's `N·scale² / (4·T²)` (the bound is used).
pub(crate) fn edge_variance(inflight: f64, window_s: f64, scale: f64) -> f64 {
    inflight.max(0.0) * scale * scale / (4.0 * window_s.max(1e-9).powi(2))
}

/// A closed loop's throughput through Little's law: with `N` requests in flight and a mean
/// e2e of `R`, `rate = N / R`, so the rate varies as the e2e times do, plus where the
/// window's edges cut each stream's cycle — far less than Poisson. The interval of
/// `rate(B) − rate(A)`: the block bootstrap of `k / mean(e2e)` on each side (`k` = the
/// observed rate × the observed mean e2e, keeping the observed rates as the centre), each
/// half widened by the edge noise (`√(half² + (z·σ_edge)²)`). `None` when either side has
/// no e2e or a mean of 0.
pub(crate) fn little_diff(
    a: ClosedRate<'_>,
    b: ClosedRate<'_>,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    if a.e2e.values.is_empty() || b.e2e.values.is_empty() {
        return None;
    }
    let (ka, kb) = (a.rate * mean(a.e2e.values), b.rate * mean(b.e2e.values));
    if !(ka.is_finite() && kb.is_finite() && ka > 0.0 && kb > 0.0) {
        return None;
    }
    let boot = bootstrap_diff_by(
        a.e2e,
        b.e2e,
        |v| ka / mean(v),
        |v| kb / mean(v),
        resamples,
        seed,
    )?;
    let centre = b.rate - a.rate;
    let edge = Z95 * (a.edge_var + b.edge_var).sqrt();
    let widen = |half: f64| (half.max(0.0).powi(2) + edge * edge).sqrt();
    Some(Interval {
        lo: centre - widen(centre - boot.lo),
        hi: centre + widen(boot.hi - centre),
    })
}

/// [`bootstrap_diff`] with any statistic per side.
fn bootstrap_diff_by(
    a: Blocked<'_>,
    b: Blocked<'_>,
    stat_a: impl Fn(&mut [f64]) -> f64,
    stat_b: impl Fn(&mut [f64]) -> f64,
    resamples: usize,
    seed: u64,
) -> Option<Interval> {
    if a.values.is_empty() || b.values.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf_a = vec![0.0; a.values.len()];
    let mut buf_b = vec![0.0; b.values.len()];
    let mut diffs = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        resample(a.values, a.block, &mut buf_a, &mut rng);
        resample(b.values, b.block, &mut buf_b, &mut rng);
        let d = stat_b(&mut buf_b) - stat_a(&mut buf_a);
        if d.is_finite() {
            diffs.push(d);
        }
    }
    if diffs.is_empty() {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    Some(Interval {
        lo: percentile_linear(&diffs, 2.5),
        hi: percentile_linear(&diffs, 97.5),
    })
}

/// Normal interval of a difference whose two sides have variances `var_a` and `var_b`.
pub(crate) fn normal_diff(a: f64, b: f64, var_a: f64, var_b: f64) -> Option<Interval> {
    let se = (var_a + var_b).sqrt();
    (a.is_finite() && b.is_finite() && se.is_finite()).then_some(Interval {
        lo: b - a - Z95 * se,
        hi: b - a + Z95 * se,
    })
}

/// Two shares `x_a/n_a` and `x_b/n_b`: the normal (Wald) interval of their difference.
/// When both shares are 0 (or both 1) the interval is `[0, 0]`: no change.
pub(crate) fn share_diff(x_a: u64, n_a: u64, x_b: u64, n_b: u64) -> Option<Interval> {
    if n_a == 0 || n_b == 0 {
        return None;
    }
    let (pa, pb) = (x_a as f64 / n_a as f64, x_b as f64 / n_b as f64);
    normal_diff(
        pa,
        pb,
        pa * (1.0 - pa) / n_a as f64,
        pb * (1.0 - pb) / n_b as f64,
    )
}

/// A seed for one (step, metric) pair, derived from the run's seed so that every interval
/// has its own stream and adding a metric does not move the others.
pub(crate) fn derive_seed(seed: u64, step: usize, metric: &str) -> u64 {
    let mut h = SplitMix64::new(seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut x = h.next_u64();
    for byte in metric.bytes() {
        x = SplitMix64::new(x ^ u64::from(byte)).next_u64();
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(values: &[f64], block: usize) -> Blocked<'_> {
        Blocked { values, block }
    }

    #[test]
    fn selection_matches_sorting() {
        let mut rng = SplitMix64::new(7);
        for n in [1usize, 2, 3, 10, 101] {
            let values: Vec<f64> = (0..n).map(|_| (rng.next_u64() % 1000) as f64).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for p in [0.0, 50.0, 90.0, 99.0, 100.0] {
                let mut v = values.clone();
                assert_eq!(
                    percentile_unsorted(&mut v, p),
                    percentile_linear(&sorted, p)
                );
            }
        }
    }

    #[test]
    fn bootstrap_is_seeded_and_sees_a_shift() {
        let a: Vec<f64> = (0..200).map(|i| 0.1 + f64::from(i % 17) * 1e-3).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 0.02).collect();
        for block in [1, 4] {
            let ci =
                bootstrap_diff(side(&a, block), side(&b, block), Stat::Pct(50), 500, 1).unwrap();
            assert!(
                ci.excludes_zero() && ci.lo > 0.015 && ci.hi < 0.025,
                "{ci:?}"
            );
            assert_eq!(
                Some(ci),
                bootstrap_diff(side(&a, block), side(&b, block), Stat::Pct(50), 500, 1)
            );
        }
        let same = bootstrap_diff(side(&a, 1), side(&a, 1), Stat::Pct(99), 500, 2).unwrap();
        assert!(!same.excludes_zero(), "{same:?}");
        assert!(bootstrap_diff(side(&[], 1), side(&b, 1), Stat::Pct(50), 10, 1).is_none());
        // Little's law: 4 in flight, e2e 0.24 s vs 0.26 s, tight: 16.7 vs 15.4 req/s.
        let ea: Vec<f64> = (0..200).map(|i| 0.24 + 0.001 * f64::from(i % 5)).collect();
        let eb: Vec<f64> = (0..200).map(|i| 0.26 + 0.001 * f64::from(i % 5)).collect();
        let (ra, rb) = (4.0 / 0.242, 4.0 / 0.262);
        let closed = |e2e, rate, window_s| ClosedRate {
            e2e: side(e2e, 4),
            rate,
            edge_var: edge_variance(4.0, window_s, 1.0),
        };
        let ci = little_diff(closed(&ea, ra, 60.0), closed(&eb, rb, 60.0), 500, 7).unwrap();
        assert!(ci.hi < 0.0 && ci.lo < ci.hi, "{ci:?}");
        assert!((ci.lo + ci.hi) / 2.0 - (rb - ra) < 0.05, "{ci:?}");
        // The same e2e on both sides: an interval around 0.
        let same = little_diff(closed(&ea, ra, 60.0), closed(&ea, ra, 60.0), 500, 7).unwrap();
        assert!(same.lo <= 0.0 && same.hi >= 0.0, "{same:?}");
        assert!(little_diff(closed(&[], ra, 60.0), closed(&eb, rb, 60.0), 500, 7).is_none());
        // A short window: where its edges fall dominates, and the interval says so.
        let short = little_diff(closed(&ea, ra, 1.0), closed(&eb, rb, 1.0), 500, 7).unwrap();
        assert!(short.lo < -1.0 && short.hi > 0.0, "{short:?}");
    }

    #[test]
    fn blocks_widen_the_interval_of_a_shared_hiccup() {
        // Four consecutive requests hit by one stall: independent draws call the p99 of A
        // higher than B's; blocks of 4 see it as the single event it is.
        let b: Vec<f64> = (0..31).map(|i| 0.100 + f64::from(i % 3) * 1e-4).collect();
        let mut a = b.clone();
        for v in &mut a[12..16] {
            *v += 0.06;
        }
        let iid = bootstrap_diff(side(&a, 1), side(&b, 1), Stat::Pct(99), 1000, 3).unwrap();
        assert!(iid.excludes_zero(), "{iid:?}");
        let blocked = bootstrap_diff(side(&a, 4), side(&b, 4), Stat::Pct(99), 1000, 3).unwrap();
        assert!(!blocked.excludes_zero(), "{blocked:?}");
    }

    #[test]
    fn shares_and_rates() {
        let none = share_diff(0, 100, 0, 50).unwrap();
        assert!(!none.excludes_zero());
        assert!(share_diff(0, 100, 30, 100).unwrap().excludes_zero());
        assert!(share_diff(0, 0, 1, 1).is_none());
        let ci = normal_diff(10.0, 12.0, 0.01, 0.01).unwrap();
        assert!(ci.excludes_zero());
        assert_ne!(derive_seed(0, 1, "TTFT p99"), derive_seed(0, 1, "TTFT p50"));
    }
}

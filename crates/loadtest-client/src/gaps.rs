//! Per-request statistics of the gaps between token events, in constant memory.
//!
//! - `count`, `mean` and `max` are exact.
//! - `p50` and `p99` are exact (numpy's default linear interpolation) while a request has at
//!   most [`EXACT_GAPS`] gaps: those are kept in a fixed inline array.
//! - Beyond that, the gaps move into a log-bucketed histogram ([`BUCKETS_PER_OCTAVE`] buckets
//!   per doubling, from 1 µs to about 71 minutes) that stores only the span of buckets from
//!   the smallest gap's to the largest's (4 bytes each: a request whose gaps stay within one
//!   doubling holds at most 17 buckets, 68 bytes; the whole range would be 2 KiB). A
//!   percentile is then the geometric middle of the bucket that holds the rank numpy would
//!   pick, clamped to the exact `[min, max]`: its relative error is at most
//!   2^(1/32) − 1 ≈ 2.2 % (values below 1 µs are reported as 1 µs at most, and are clamped to
//!   the true minimum). Interpolation between the two neighbouring ranks is not done in that
//!   regime, which adds at most the spread of one bucket.

use std::time::Duration;

/// How many gaps are kept exactly before switching to the histogram.
pub const EXACT_GAPS: usize = 32;
/// Histogram resolution: buckets per doubling of the gap.
pub const BUCKETS_PER_OCTAVE: usize = 16;
const OCTAVES: usize = 32;
const BUCKETS: usize = BUCKETS_PER_OCTAVE * OCTAVES;
/// The histogram's lowest bucket starts at 1 µs.
const MIN_NS: f64 = 1_000.0;

/// Summary of one request's gaps, as written to `requests.jsonl`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GapSummary {
    /// Number of gaps (token events − 1, or 0).
    pub count: u64,
    /// Mean gap; `None` when there is no gap.
    pub mean: Option<Duration>,
    /// Median gap.
    pub p50: Option<Duration>,
    /// 99th percentile gap.
    pub p99: Option<Duration>,
    /// Largest gap.
    pub max: Option<Duration>,
}

/// Accumulates gaps in O(1) memory (see the module doc for accuracy).
#[derive(Debug, Clone)]
pub struct GapStats {
    count: u64,
    sum_ns: u128,
    min_ns: u64,
    max_ns: u64,
    exact: [u64; EXACT_GAPS],
    hist: Option<Span>,
}

/// The histogram's buckets `first ..= first + counts.len() − 1`, the rest being 0.
#[derive(Debug, Clone, Default)]
struct Span {
    first: usize,
    counts: Vec<u32>,
}

impl Span {
    fn bump(&mut self, ns: u64) {
        let bucket = bucket_of(ns);
        if self.counts.is_empty() {
            self.first = bucket;
        } else if bucket < self.first {
            let grow = self.first - bucket;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = bucket;
        }
        let at = bucket - self.first;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] = self.counts[at].saturating_add(1);
    }

    /// `(bucket, count)` of every stored bucket, in order.
    fn iter(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        (self.first..).zip(self.counts.iter().copied())
    }
}

impl Default for GapStats {
    fn default() -> Self {
        Self::new()
    }
}

impl GapStats {
    /// No gaps yet.
    pub fn new() -> Self {
        Self {
            count: 0,
            sum_ns: 0,
            min_ns: u64::MAX,
            max_ns: 0,
            exact: [0; EXACT_GAPS],
            hist: None,
        }
    }

    /// Adds one gap.
    pub fn record(&mut self, gap: Duration) {
        let ns = u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX);
        let index = self.count;
        self.count += 1;
        self.sum_ns += u128::from(ns);
        self.min_ns = self.min_ns.min(ns);
        self.max_ns = self.max_ns.max(ns);
        match &mut self.hist {
            Some(hist) => hist.bump(ns),
            None => {
                if let Some(slot) = usize::try_from(index)
                    .ok()
                    .and_then(|i| self.exact.get_mut(i))
                {
                    *slot = ns;
                } else {
                    let mut hist = Span::default();
                    for &v in &self.exact {
                        hist.bump(v);
                    }
                    hist.bump(ns);
                    self.hist = Some(hist);
                }
            }
        }
    }

    /// Number of gaps so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The summary: count, mean, p50, p99, max.
    pub fn summary(&self) -> GapSummary {
        if self.count == 0 {
            return GapSummary::default();
        }
        let mean = u64::try_from(self.sum_ns / u128::from(self.count)).unwrap_or(u64::MAX);
        GapSummary {
            count: self.count,
            mean: Some(Duration::from_nanos(mean)),
            p50: Some(Duration::from_nanos(self.quantile_ns(0.50))),
            p99: Some(Duration::from_nanos(self.quantile_ns(0.99))),
            max: Some(Duration::from_nanos(self.max_ns)),
        }
    }

    fn quantile_ns(&self, q: f64) -> u64 {
        let n = self.count;
        match &self.hist {
            None => {
                let len = usize::try_from(n).unwrap_or(EXACT_GAPS).min(EXACT_GAPS);
                let mut sorted = self.exact;
                let sorted = &mut sorted[..len];
                sorted.sort_unstable();
                linear_quantile(sorted, q)
            }
            Some(hist) => {
                // numpy's rank (n − 1)·q, rounded to the nearest whole rank.
                let rank = ((n - 1) as f64 * q).round() as u64;
                let mut seen = 0u64;
                for (bucket, c) in hist.iter() {
                    seen += u64::from(c);
                    if seen > rank {
                        return bucket_middle_ns(bucket).clamp(self.min_ns, self.max_ns);
                    }
                }
                self.max_ns
            }
        }
    }
}

/// numpy's default (`method="linear"`) percentile of sorted values.
fn linear_quantile(sorted: &[u64], q: f64) -> u64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0;
    };
    let pos = last as f64 * q;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(last);
    let frac = pos - lo as f64;
    let (a, b) = (sorted[lo] as f64, sorted[hi] as f64);
    (a + (b - a) * frac).round() as u64
}

fn bucket_of(ns: u64) -> usize {
    let x = ns as f64 / MIN_NS;
    if x <= 1.0 {
        return 0;
    }
    let b = (x.log2() * BUCKETS_PER_OCTAVE as f64).floor();
    (b as usize).min(BUCKETS - 1)
}

fn bucket_middle_ns(bucket: usize) -> u64 {
    let lo = (bucket as f64 / BUCKETS_PER_OCTAVE as f64).exp2();
    let mid = lo * (0.5 / BUCKETS_PER_OCTAVE as f64).exp2();
    (mid * MIN_NS).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    #[test]
    fn exact_regime_matches_numpy() {
        let mut s = GapStats::new();
        for v in [4.0, 1.0, 3.0, 2.0] {
            s.record(ms(v));
        }
        let sum = s.summary();
        assert_eq!(sum.count, 4);
        assert_eq!(sum.mean, Some(ms(2.5)));
        // numpy.percentile([1,2,3,4], 50) = 2.5; 99 -> 3.97
        assert_eq!(sum.p50, Some(ms(2.5)));
        assert_eq!(sum.p99.unwrap().as_micros(), 3970);
        assert_eq!(sum.max, Some(ms(4.0)));
    }

    #[test]
    fn empty_is_all_none() {
        let s = GapStats::new();
        assert_eq!(s.summary(), GapSummary::default());
    }

    #[test]
    fn histogram_regime_is_within_documented_error() {
        let mut s = GapStats::new();
        // 1..=1000 ms, shuffled deterministically.
        let n = 1000u64;
        for i in 0..n {
            let v = (i * 389) % n + 1;
            s.record(Duration::from_millis(v));
        }
        let sum = s.summary();
        assert_eq!(sum.count, n);
        assert_eq!(sum.max, Some(Duration::from_millis(1000)));
        assert_eq!(sum.mean, Some(Duration::from_micros(500_500)));
        let p50 = sum.p50.unwrap().as_secs_f64() * 1000.0;
        let p99 = sum.p99.unwrap().as_secs_f64() * 1000.0;
        // numpy: 500.5 and 990.01; bound: 2.2 % plus one rank.
        assert!((p50 - 500.5).abs() / 500.5 < 0.025, "p50 {p50}");
        assert!((p99 - 990.01).abs() / 990.01 < 0.025, "p99 {p99}");
    }

    /// The stored span grows both ways and gives the answers the whole-range histogram gave:
    /// the same buckets, so the same percentiles.
    #[test]
    fn the_span_holds_only_the_buckets_seen() {
        let mut s = GapStats::new();
        for i in 0..40u64 {
            s.record(Duration::from_micros(20_000 + i));
        }
        let span = s.hist.as_ref().unwrap();
        assert!(span.counts.len() <= 2, "{}", span.counts.len());
        // A smaller gap extends it downwards, a larger one upwards.
        s.record(Duration::from_micros(3));
        s.record(Duration::from_secs(2));
        let span = s.hist.as_ref().unwrap();
        assert_eq!(span.first, bucket_of(3_000));
        assert_eq!(span.first + span.counts.len() - 1, bucket_of(2_000_000_000));
        assert_eq!(span.iter().map(|(_, c)| u64::from(c)).sum::<u64>(), 42);
        // The whole-range histogram's percentiles, computed here the old way.
        let mut full = vec![0u64; BUCKETS];
        for (b, c) in span.iter() {
            full[b] += u64::from(c);
        }
        for q in [0.5, 0.99] {
            let rank = ((s.count - 1) as f64 * q).round() as u64;
            let mut seen = 0;
            let bucket = full.iter().position(|&c| {
                seen += c;
                seen > rank
            });
            let want = bucket_middle_ns(bucket.unwrap()).clamp(s.min_ns, s.max_ns);
            assert_eq!(s.quantile_ns(q), want, "q {q}");
        }
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let mut s = GapStats::new();
        for _ in 0..100 {
            s.record(Duration::ZERO);
            s.record(Duration::MAX);
        }
        let sum = s.summary();
        assert_eq!(sum.count, 200);
        assert!(sum.p50.is_some() && sum.p99.is_some());
    }
}

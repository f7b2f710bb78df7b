//! Cumulative histograms: buckets sorted by numeric `le`, mean, PromQL
//! `histogram_quantile`, and quantiles as the bucket that holds them ([`QuantileBucket`]).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One cumulative bucket: observations `<= le`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Upper bound (`f64::INFINITY` for `+Inf`).
    pub le: f64,
    /// Cumulative count of observations `<= le`.
    pub count: f64,
}

impl Serialize for Bucket {
    /// `{"le": 0.5, "count": 3.0}`; the `+Inf` bound is written as the string `"+Inf"`
    /// (JSON has no infinity).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Bucket", 2)?;
        if self.le == f64::INFINITY {
            s.serialize_field("le", "+Inf")?;
        } else {
            s.serialize_field("le", &self.le)?;
        }
        s.serialize_field("count", &self.count)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for Bucket {
    /// Reads what [`Serialize`] writes: `le` a number or the string `"+Inf"`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Le {
            Number(f64),
            Text(String),
        }
        #[derive(Deserialize)]
        struct Raw {
            le: Le,
            count: f64,
        }
        let raw = Raw::deserialize(deserializer)?;
        let le = match raw.le {
            Le::Number(le) => le,
            Le::Text(text) if text == "+Inf" => f64::INFINITY,
            Le::Text(text) => {
                return Err(serde::de::Error::custom(format!(
                    "bucket bound {text:?} is neither a number nor \"+Inf\""
                )));
            }
        };
        Ok(Bucket {
            le,
            count: raw.count,
        })
    }
}

/// A histogram as scraped (cumulative since server start), summed over engines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramSnapshot {
    /// Buckets sorted by `le` (numerically), equal bounds merged; normally ends with `+Inf`.
    pub buckets: Vec<Bucket>,
    /// `_count` (or the `+Inf` bucket when `_count` is missing).
    pub count: f64,
    /// `_sum`.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// `sum / count`, `None` when `count` is 0 (or not finite) or the mean is not finite.
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        mean(self.sum, self.count)
    }

    /// `count`, `sum` and every bucket count are finite, and no bound is NaN or `-Inf` (the
    /// last may be `+Inf`): only such a histogram gives window numbers (a NaN or ±Inf the
    /// server printed in any of them leaves the histogram out).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        self.count.is_finite()
            && self.sum.is_finite()
            && self
                .buckets
                .iter()
                .all(|b| b.count.is_finite() && (b.le.is_finite() || b.le == f64::INFINITY))
    }

    /// Quantile `q` by [`histogram_quantile`] over the buckets.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.buckets)
    }

    /// Quantile `q` as the bucket holding it, with an estimate where one is meaningful (see
    /// [`quantile_bucket`]).
    #[must_use]
    pub fn quantile_bucket(&self, q: f64) -> Option<QuantileBucket> {
        quantile_bucket(q, &self.buckets, self.sum)
    }
}

/// A bucket is *narrow* when `lo > 0` and `hi / lo` is at most this: any point of it is then
/// within a factor 1.5 of any other, so an estimate inside it cannot be far off. Only a narrow
/// bucket gets an estimate.
pub const NARROW_BUCKET_RATIO: f64 = 1.5;

/// A histogram quantile as what the histogram actually knows: the bucket `(lo, hi]` that holds
/// it (in the histogram's unit, seconds for the latency histograms), plus a point estimate only
/// where one is meaningful.
///
/// JSON: `{"lo": 0.0, "hi": 0.3, "est": null}`; `hi` is `null` when the quantile lies in the
/// `+Inf` bucket (then `lo` is the largest finite bound and the quantile is only known to be
/// above it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileBucket {
    /// Lower edge: the previous bucket's `le`, or 0 for the first bucket.
    pub lo: f64,
    /// Upper edge (`le`); `None` for the `+Inf` bucket.
    pub hi: Option<f64>,
    /// PromQL `histogram_quantile` (linear inside the bucket), present only when the bucket
    /// is narrow ([`NARROW_BUCKET_RATIO`]) and the estimate is at most the bound the
    /// histogram's sum puts on the quantile (see [`quantile_bucket`]). Where present, a table
    /// shows it beside the bucket; elsewhere only the bucket.
    pub est: Option<f64>,
}

impl QuantileBucket {
    /// `lo > 0`, `hi` finite and `hi / lo <= `[`NARROW_BUCKET_RATIO`].
    #[must_use]
    pub fn is_narrow(&self) -> bool {
        self.hi.is_some_and(|hi| narrow(self.lo, hi))
    }
}

fn narrow(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi / lo <= NARROW_BUCKET_RATIO
}

/// Reads a quantile written either as a [`QuantileBucket`] object or `null`, or, from files
/// written before quantiles were buckets, as a bare number: that number was an interpolation of
/// unknown bucket, so it reads as `None` (unknown) rather than as a value. For
/// `#[serde(default, deserialize_with = "…")]` on an `Option<QuantileBucket>` field.
///
/// # Errors
///
/// Anything else (a string, a malformed object).
pub fn deserialize_quantile<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<QuantileBucket>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Bucket(QuantileBucket),
        // The old interpolated value: matched (a number, not a string) only to be dropped.
        Legacy(#[allow(dead_code)] f64),
    }
    Ok(match Option::<Stored>::deserialize(deserializer)? {
        Some(Stored::Bucket(b)) => Some(b),
        Some(Stored::Legacy(_)) | None => None,
    })
}

pub(crate) fn mean(sum: f64, count: f64) -> Option<f64> {
    (count > 0.0 && count.is_finite())
        .then(|| sum / count)
        .filter(|m| m.is_finite())
}

/// Sorts buckets by `le` (numerically; NaN bounds dropped) and merges equal bounds by summing
/// their counts: the result of adding up the same histogram from several engines.
#[must_use]
pub fn coalesce_buckets(mut buckets: Vec<Bucket>) -> Vec<Bucket> {
    buckets.retain(|b| !b.le.is_nan());
    buckets.sort_by(|a, b| a.le.total_cmp(&b.le));
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match out.last_mut() {
            Some(last) if last.le == b.le => last.count += b.count,
            _ => out.push(b),
        }
    }
    out
}

/// PromQL `histogram_quantile(q, …)` over cumulative `buckets` sorted by `le`
/// (Prometheus `promql/quantile.go`, `bucketQuantile`):
///
/// - `q < 0` → `-Inf`, `q > 1` → `+Inf`; `q` NaN → `None`.
/// - `None` when the last bucket is not `+Inf`, there are fewer than two buckets, or the
///   `+Inf` bucket holds zero observations.
/// - Counts are first made monotonic (a bucket lower than the one before is raised to it).
/// - `rank = q × count(+Inf)`; the answer lies in the first bucket whose cumulative count is
///   `>= rank`, interpolated linearly between its lower bound (the previous `le`, or 0 for the
///   first bucket) and its `le`.
/// - A rank that falls in the `+Inf` bucket returns the largest finite `le`; a rank in a first
///   bucket whose `le <= 0` returns that `le`.
#[must_use]
pub fn histogram_quantile(q: f64, buckets: &[Bucket]) -> Option<f64> {
    if q.is_nan() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let n = buckets.len();
    if n < 2 || buckets[n - 1].le != f64::INFINITY {
        return None;
    }
    // Monotonic cumulative counts, as Prometheus' ensureMonotonic does.
    let mut counts: Vec<f64> = Vec::with_capacity(n);
    let mut max = f64::NEG_INFINITY;
    for b in buckets {
        max = if b.count > max { b.count } else { max };
        counts.push(max);
    }
    let observations = counts[n - 1];
    if observations.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || !observations.is_finite()
    {
        return None;
    }
    let rank = q * observations;
    let b = counts[..n - 1]
        .iter()
        .position(|&c| c >= rank)
        .unwrap_or(n - 1);
    if b == n - 1 {
        return Some(buckets[n - 2].le);
    }
    if b == 0 && buckets[0].le <= 0.0 {
        return Some(buckets[0].le);
    }
    let end = buckets[b].le;
    let (start, below) = if b == 0 {
        (0.0, 0.0)
    } else {
        (buckets[b - 1].le, counts[b - 1])
    };
    let in_bucket = counts[b] - below;
    let value = start + (end - start) * ((rank - below) / in_bucket);
    if value.is_nan() {
        // Zero observations in the chosen bucket (q = 0): its lower bound.
        return Some(start);
    }
    Some(value)
}

/// Quantile `q` (0 ≤ q ≤ 1) of cumulative `buckets` sorted by `le`, as the bucket that holds
/// it; `sum` is the histogram's `_sum`. `None` where [`histogram_quantile`] has no answer, and
/// for `q` outside [0, 1] or NaN.
///
/// The bucket is the one PromQL picks (the first whose cumulative count is `>= q × count`):
/// `lo` is the previous `le` (0 for the first bucket), `hi` its `le`, or `None` when it is the
/// `+Inf` bucket (`lo` is then the largest finite `le`). A first bucket with `le <= 0` gives
/// `lo = hi = le`.
///
/// `est` is [`histogram_quantile`]'s linear interpolation, kept only when all hold:
///
/// - the bucket is finite: inside `+Inf` nothing bounds the value from above;
/// - `lo > 0`: a bucket from 0 has no scale, and interpolating in it assumes its observations
///   are spread evenly over `(0, hi]` — vLLM's queue-time buckets start at `(0, 0.3]`, so a
///   22 µs mean would read as a 150 ms median;
/// - `hi / lo <= `[`NARROW_BUCKET_RATIO`]: in a wider bucket the interpolation (uniform
///   spread) can be off by more than that factor, and is off most where it matters, in the
///   sparse tail: a p99 of 3.95 s in (2.5, 5] s when no client saw a TTFT above 2.98 s;
/// - `est <= (sum − least) / (count − rank)` with `rank = q × count`, where `least` is the
///   least the `rank` smallest observations can add up to (each at least its bucket's lower
///   edge, 0 in the first bucket): at least `count − rank` observations are at or above the
///   quantile, so `sum >= least + (count − rank) × quantile`. An interpolation above this
///   bound contradicts `_sum`, i.e. the exact mean (observations are taken to be ≥ 0, as
///   PromQL does for the first bucket). No bound when `q = 1`.
#[must_use]
pub fn quantile_bucket(q: f64, buckets: &[Bucket], sum: f64) -> Option<QuantileBucket> {
    if !(0.0..=1.0).contains(&q) {
        return None;
    }
    let n = buckets.len();
    if n < 2 || buckets[n - 1].le != f64::INFINITY {
        return None;
    }
    let observations = buckets
        .iter()
        .fold(f64::NEG_INFINITY, |m, b| m.max(b.count));
    if observations.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
        || !observations.is_finite()
    {
        return None;
    }
    let rank = q * observations;
    // The bucket PromQL picks, and the least the observations ranked up to `rank` can add to
    // the sum: each is at least its bucket's lower edge.
    let mut b = n - 1;
    let mut below = 0.0;
    let mut least_below = 0.0;
    let mut prev_le = 0.0;
    for (i, bucket) in buckets[..n - 1].iter().enumerate() {
        let count = bucket.count.max(below);
        let lo = if i == 0 { 0.0 } else { prev_le };
        if count >= rank {
            b = i;
            least_below += (rank - below) * lo;
            break;
        }
        least_below += (count - below) * lo;
        below = count;
        prev_le = bucket.le;
    }
    let found = if b == n - 1 {
        QuantileBucket {
            lo: buckets[n - 2].le,
            hi: None,
            est: None,
        }
    } else if b == 0 && buckets[0].le <= 0.0 {
        QuantileBucket {
            lo: buckets[0].le,
            hi: Some(buckets[0].le),
            est: None,
        }
    } else {
        let lo = if b == 0 { 0.0 } else { buckets[b - 1].le };
        let hi = buckets[b].le;
        let above = observations - rank;
        let est = histogram_quantile(q, buckets).filter(|&est| {
            narrow(lo, hi)
                && (lo..=hi).contains(&est)
                && (above <= 0.0 || est <= (sum - least_below) / above)
        });
        QuantileBucket {
            lo,
            hi: Some(hi),
            est,
        }
    };
    found.lo.is_finite().then_some(found)
}

#[cfg(test)]
mod tests;

//! Cumulative histograms: buckets sorted by numeric `le`, mean, and PromQL
//! `histogram_quantile`.

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
    /// `sum / count`, `None` when `count` is 0 (or not finite).
    #[must_use]
    pub fn mean(&self) -> Option<f64> {
        mean(self.sum, self.count)
    }

    /// Quantile `q` by [`histogram_quantile`] over the buckets.
    #[must_use]
    pub fn quantile(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.buckets)
    }
}

pub(crate) fn mean(sum: f64, count: f64) -> Option<f64> {
    (count > 0.0 && count.is_finite()).then(|| sum / count)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn b(le: f64, count: f64) -> Bucket {
        Bucket { le, count }
    }

    #[test]
    fn promql_rules() {
        let h = [b(1.0, 10.0), b(2.0, 20.0), b(f64::INFINITY, 20.0)];
        assert_eq!(histogram_quantile(0.5, &h), Some(1.0));
        assert_eq!(histogram_quantile(0.75, &h), Some(1.5));
        assert_eq!(histogram_quantile(0.25, &h), Some(0.5)); // first bucket starts at 0
        assert_eq!(histogram_quantile(-0.1, &h), Some(f64::NEG_INFINITY));
        assert_eq!(histogram_quantile(1.1, &h), Some(f64::INFINITY));
        assert_eq!(histogram_quantile(f64::NAN, &h), None);
        // Rank in the +Inf bucket → largest finite bound.
        let tail = [b(1.0, 1.0), b(f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.99, &tail), Some(1.0));
        // No +Inf bucket, a single bucket, or nothing observed → none.
        assert_eq!(histogram_quantile(0.5, &h[..2]), None);
        assert_eq!(histogram_quantile(0.5, &h[2..]), None);
        assert_eq!(
            histogram_quantile(0.5, &[b(1.0, 0.0), b(f64::INFINITY, 0.0)]),
            None
        );
        // A first bucket with le <= 0 returns its bound.
        let neg = [b(-1.0, 5.0), b(0.0, 6.0), b(f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.2, &neg), Some(-1.0));
        // Non-monotonic counts are raised to the running maximum first.
        let bumpy = [
            b(1.0, 10.0),
            b(2.0, 8.0),
            b(4.0, 20.0),
            b(f64::INFINITY, 20.0),
        ];
        assert_eq!(histogram_quantile(0.5, &bumpy), Some(1.0));
        assert_eq!(
            histogram_quantile(0.75, &bumpy),
            Some(2.0 + 2.0 * 5.0 / 10.0)
        );
    }

    #[test]
    fn coalesce_sorts_numerically_and_merges() {
        let merged = coalesce_buckets(vec![
            b(10.0, 3.0),
            b(f64::INFINITY, 4.0),
            b(2.5, 1.0),
            b(10.0, 2.0),
            b(f64::NAN, 9.0),
        ]);
        assert_eq!(merged, [b(2.5, 1.0), b(10.0, 5.0), b(f64::INFINITY, 4.0)]);
    }
}

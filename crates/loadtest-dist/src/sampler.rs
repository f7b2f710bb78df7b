//! The seeded sampler: one independent, reproducible draw per request index.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, LogNormal, Normal};

use crate::DistSpec;

/// How many times a draw outside `[min, max]` is redrawn before the last one is clamped.
pub const MAX_RESAMPLES: u32 = 64;

/// Draws integers from a [`DistSpec`]; the draw for index `i` depends only on `(seed, i)`.
///
/// `Sampler` holds no mutable state, so it can be shared between tasks and asked for any
/// index in any order.
#[derive(Debug, Clone)]
pub struct Sampler {
    spec: DistSpec,
    seed: u64,
    shape: Shape,
}

/// The continuous distribution behind a spec, built once.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Fixed(u64),
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Uniform,
}

impl Sampler {
    /// A sampler for `spec` with the given seed.
    ///
    /// Use [`derive_seed`] to give each quantity of a run (input size, output tokens…) its own
    /// independent stream from one run seed.
    pub fn new(spec: DistSpec, seed: u64) -> Self {
        let shape = match spec {
            DistSpec::Fixed(v) => Shape::Fixed(v),
            // A validated spec has a finite, non-negative std, which rand_distr accepts;
            // should it ever refuse, the mean is the honest fallback.
            DistSpec::Normal { mean, std, .. } => Normal::new(mean, std)
                .map(Shape::Normal)
                .unwrap_or(Shape::Fixed(round_to_count(mean))),
            DistSpec::LogNormal { mu, sigma, .. } => LogNormal::new(mu, sigma)
                .map(Shape::LogNormal)
                .unwrap_or(Shape::Fixed(round_to_count(mu.exp()))),
            DistSpec::Uniform { .. } => Shape::Uniform,
        };
        Sampler { spec, seed, shape }
    }

    /// The spec this sampler draws from.
    pub fn spec(&self) -> &DistSpec {
        &self.spec
    }

    /// The seed this sampler was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The value for request `index`: always the same for the same `(seed, index)`.
    pub fn sample(&self, index: u64) -> u64 {
        self.draw(index).value
    }

    /// The draw for request `index`, with how it was reached: [`Sampler::sample`] is its
    /// value, and [`DistSpec::clamp_check`] counts its redraws and clamps, so the check and
    /// the real sampler cannot drift apart.
    pub(crate) fn draw(&self, index: u64) -> Draw {
        let (min, max) = self.spec.bounds();
        let mut rng = StdRng::seed_from_u64(mix(self.seed, index));
        let continuous = match self.shape {
            Shape::Fixed(v) => return Draw::direct(v),
            Shape::Uniform => return Draw::direct(rng.random_range(min..=max)),
            Shape::Normal(normal) => DrawFrom::Normal(normal),
            Shape::LogNormal(lognormal) => DrawFrom::LogNormal(lognormal),
        };
        let mut last = f64::NAN;
        for attempt in 0..=MAX_RESAMPLES {
            last = continuous.draw(&mut rng).round();
            if last >= min as f64 && last <= max as f64 {
                return Draw {
                    value: last as u64,
                    redrawn: attempt > 0,
                    clamped: None,
                };
            }
        }
        let (value, bound) = clamp(last, min, max);
        Draw {
            value,
            redrawn: true,
            clamped: Some(bound),
        }
    }
}

/// One draw and how the sampler reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Draw {
    /// The value handed out.
    pub(crate) value: u64,
    /// The first continuous draw fell outside `[min, max]`, so it was redrawn.
    pub(crate) redrawn: bool,
    /// All `1 + MAX_RESAMPLES` draws missed and the last was clamped to this bound.
    pub(crate) clamped: Option<Bound>,
}

impl Draw {
    /// A value that needs no truncation (fixed and uniform specs).
    fn direct(value: u64) -> Self {
        Draw {
            value,
            redrawn: false,
            clamped: None,
        }
    }
}

/// Which end of `[min, max]` a draw was clamped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Clamped up to `min` (the last draw was below it, or NaN).
    Min,
    /// Clamped down to `max`.
    Max,
}

#[derive(Clone, Copy)]
enum DrawFrom {
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
}

impl DrawFrom {
    fn draw(self, rng: &mut StdRng) -> f64 {
        match self {
            DrawFrom::Normal(d) => d.sample(rng),
            DrawFrom::LogNormal(d) => d.sample(rng),
        }
    }
}

/// Clamps a draw that missed `[min, max]` to the nearer bound (NaN goes to `min`).
fn clamp(value: f64, min: u64, max: u64) -> (u64, Bound) {
    if value.is_nan() || value <= min as f64 {
        (min, Bound::Min)
    } else {
        (max, Bound::Max)
    }
}

fn round_to_count(value: f64) -> u64 {
    if value.is_finite() && value >= 1.0 {
        value.round() as u64
    } else {
        1
    }
}

/// SplitMix64 finaliser: a well-mixed 64-bit value from `(seed, index)`.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_add(index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed for one named quantity of a run, derived from the run seed, so that for example the
/// input size and the output length of request `i` are independent draws.
///
/// ```
/// use loadtest_dist::derive_seed;
/// assert_ne!(derive_seed(0, "input-size"), derive_seed(0, "max-output-tokens"));
/// assert_eq!(derive_seed(5, "x"), derive_seed(5, "x"));
/// ```
pub fn derive_seed(seed: u64, label: &str) -> u64 {
    // FNV-1a over the label: stable across platforms and releases, unlike std's hashers.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in label.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(seed, hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_handles_nan_and_both_ends() {
        assert_eq!(clamp(f64::NAN, 3, 9), (3, Bound::Min));
        assert_eq!(clamp(-5.0, 3, 9), (3, Bound::Min));
        assert_eq!(clamp(f64::NEG_INFINITY, 3, 9), (3, Bound::Min));
        assert_eq!(clamp(50.0, 3, 9), (9, Bound::Max));
        assert_eq!(clamp(f64::INFINITY, 3, 9), (9, Bound::Max));
    }

    #[test]
    fn draw_reports_redraws_and_clamps() {
        let sampler = Sampler::new("normal:10000:1:1:5".parse().unwrap(), 1);
        let expected = Draw {
            value: 5,
            redrawn: true,
            clamped: Some(Bound::Max),
        };
        assert_eq!(sampler.draw(0), expected);
        let sampler = Sampler::new("normal:-10000:1:2:5".parse().unwrap(), 1);
        assert_eq!(sampler.draw(3).clamped, Some(Bound::Min));
        // Bounds 8 std out: the first draw lands, nothing is redrawn or clamped.
        let sampler = Sampler::new("normal:1000:100:200:1800".parse().unwrap(), 1);
        let draw = sampler.draw(0);
        assert_eq!((draw.redrawn, draw.clamped), (false, None));
        assert_eq!(draw.value, sampler.sample(0));
        // Uniform and fixed never redraw.
        let sampler = Sampler::new("uniform:1:3".parse().unwrap(), 1);
        assert!((0..100).all(|i| sampler.draw(i) == Draw::direct(sampler.sample(i))));
        assert_eq!(Sampler::new(DistSpec::Fixed(7), 1).draw(0), Draw::direct(7));
    }

    #[test]
    fn a_tight_window_is_reached_by_redrawing_not_clamping() {
        // [199.5, 260.5) holds about 34 % of normal(256, 64): about 66 % of draws are
        // redrawn at least once, and 65 misses in a row (0.66^65 ≈ 2e-12) never happen.
        let sampler = Sampler::new("normal:256:64:200:260".parse().unwrap(), 4);
        let draws: Vec<Draw> = (0..2_000).map(|i| sampler.draw(i)).collect();
        let redrawn = draws.iter().filter(|d| d.redrawn).count();
        assert!((1_250..=1_500).contains(&redrawn), "{redrawn}");
        assert!(draws.iter().all(|d| d.clamped.is_none()));
    }

    #[test]
    fn far_away_mean_clamps_after_resampling() {
        let sampler = Sampler::new("normal:10000:1:1:5".parse().unwrap(), 1);
        assert_eq!(sampler.sample(0), 5);
        let sampler = Sampler::new("normal:-10000:1:2:5".parse().unwrap(), 1);
        assert_eq!(sampler.sample(3), 2);
    }

    #[test]
    fn zero_std_is_the_mean() {
        let sampler = Sampler::new("normal:100:0:1:1000".parse().unwrap(), 9);
        assert!((0..100).all(|i| sampler.sample(i) == 100));
    }
}

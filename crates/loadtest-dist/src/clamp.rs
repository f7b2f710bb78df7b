//! Before a run: how much of a spec the bounds cut off, and advice when a spec was likely
//! misread (`lognormal:400:100:…` read as mean:std in tokens).

use crate::DistSpec;
use crate::sampler::{Bound, Sampler};

/// How many draws [`DistSpec::clamp_check`] makes.
pub const CLAMP_CHECK_SAMPLES: u64 = 10_000;

/// The fixed seed of [`DistSpec::clamp_check`], so the same spec always gets the same report.
pub const CLAMP_CHECK_SEED: u64 = 0x636c_616d_702d_6368;

/// [`ClampReport::advice`] speaks up when more than this share of draws (2 %) is clamped to
/// `min` or `max`, both bounds together.
pub const CLAMP_ADVICE_THRESHOLD: f64 = 0.02;

/// [`ClampReport::advice`] also speaks up when more than this share of draws (50 %) falls
/// outside `[min, max]` and is redrawn: the values drawn then follow the bounds more than
/// the spec's shape, even where no draw is clamped.
pub const REDRAW_ADVICE_THRESHOLD: f64 = 0.5;

/// A log-normal `mu` above this (median `e^20` ≈ 4.9e8 tokens) is taken for a token count,
/// and [`ClampReport::advice`] suggests the spec that was most likely meant.
pub const TOKEN_LIKE_MU: f64 = 20.0;

impl DistSpec {
    /// Draws [`CLAMP_CHECK_SAMPLES`] values with the fixed seed [`CLAMP_CHECK_SEED`],
    /// through the same code as [`Sampler::sample`], and counts how many were redrawn and how
    /// many were clamped to `min` or `max` after [`MAX_RESAMPLES`](crate::MAX_RESAMPLES)
    /// redraws. A run uses its own seed, so the shares are estimates of what the run will see
    /// (standard error at most 0.5 percentage points at 10,000 draws); fixed and uniform specs
    /// never redraw or clamp.
    ///
    /// ```
    /// use loadtest_dist::DistSpec;
    ///
    /// // mu is 400, so the median is e^400 tokens: every draw ends up clamped to 4096.
    /// let misread: DistSpec = "lognormal:400:100:128:4096".parse()?;
    /// let report = misread.clamp_check();
    /// assert!(report.share_clamped_at_max() > 0.99);
    /// let advice = report.advice().unwrap_or_default();
    /// assert!(advice.contains("lognormal:5.99:0.25:128:4096"));
    ///
    /// let meant: DistSpec = "lognormal:5.99:0.25:128:4096".parse()?;
    /// assert_eq!(meant.clamp_check().advice(), None);
    /// # Ok::<(), loadtest_dist::SpecError>(())
    /// ```
    pub fn clamp_check(&self) -> ClampReport {
        let sampler = Sampler::new(*self, CLAMP_CHECK_SEED);
        let mut report = ClampReport {
            spec: *self,
            samples: CLAMP_CHECK_SAMPLES,
            redrawn: 0,
            clamped_at_min: 0,
            clamped_at_max: 0,
        };
        for index in 0..CLAMP_CHECK_SAMPLES {
            let draw = sampler.draw(index);
            report.redrawn += u64::from(draw.redrawn);
            match draw.clamped {
                Some(Bound::Min) => report.clamped_at_min += 1,
                Some(Bound::Max) => report.clamped_at_max += 1,
                None => {}
            }
        }
        report
    }
}

/// What [`DistSpec::clamp_check`] saw: how many of its draws were redrawn, and how many
/// were clamped to each bound.
///
/// A value that lands on `min` or `max` by itself is not a clamp; only a draw whose
/// `1 + MAX_RESAMPLES` tries all fell outside `[min, max]` is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClampReport {
    spec: DistSpec,
    samples: u64,
    redrawn: u64,
    clamped_at_min: u64,
    clamped_at_max: u64,
}

impl ClampReport {
    /// The spec that was checked.
    pub fn spec(&self) -> &DistSpec {
        &self.spec
    }

    /// How many draws were made ([`CLAMP_CHECK_SAMPLES`]).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Draws whose first try fell outside `[min, max]` and were redrawn (clamped ones
    /// included).
    pub fn redrawn(&self) -> u64 {
        self.redrawn
    }

    /// Draws clamped to `min`.
    pub fn clamped_at_min(&self) -> u64 {
        self.clamped_at_min
    }

    /// Draws clamped to `max`.
    pub fn clamped_at_max(&self) -> u64 {
        self.clamped_at_max
    }

    /// Share of draws redrawn, in `[0, 1]`: an estimate of how much of the spec's
    /// distribution lies outside `[min, max]`.
    pub fn share_redrawn(&self) -> f64 {
        self.share(self.redrawn)
    }

    /// Share of draws clamped to `min`, in `[0, 1]`.
    pub fn share_clamped_at_min(&self) -> f64 {
        self.share(self.clamped_at_min)
    }

    /// Share of draws clamped to `max`, in `[0, 1]`.
    pub fn share_clamped_at_max(&self) -> f64 {
        self.share(self.clamped_at_max)
    }

    /// Share of draws clamped to either bound, in `[0, 1]`.
    pub fn share_clamped(&self) -> f64 {
        self.share(self.clamped_at_min + self.clamped_at_max)
    }

    /// Whether [`advice`](Self::advice) has something to say: more than
    /// [`CLAMP_ADVICE_THRESHOLD`] of draws clamped, or more than
    /// [`REDRAW_ADVICE_THRESHOLD`] redrawn.
    pub fn needs_advice(&self) -> bool {
        self.share_clamped() > CLAMP_ADVICE_THRESHOLD
            || self.share_redrawn() > REDRAW_ADVICE_THRESHOLD
    }

    /// One paragraph for the user when [`needs_advice`](Self::needs_advice), else `None`.
    ///
    /// It gives the shares redrawn and clamped at each bound, then what the spec's numbers
    /// mean. For `normal` that is the mean and std in tokens. For `lognormal` it says that
    /// `mu` and `sigma` belong to the underlying normal, with median `e^mu`; when `mu` is
    /// above [`TOKEN_LIKE_MU`] and so was likely meant as a token count `N` with `sigma` its
    /// std `S`, it suggests `lognormal:<ln N>:<sigma'>:<min>:<max>` with
    ///
    /// - `mu' = ln N`, so the median is `N`;
    /// - `sigma' = sqrt(ln(1 + (S/N)²))`, so the std is `S/N` of the mean as written: a
    ///   log-normal's std-to-mean ratio is `sqrt(e^(sigma²) − 1)`, whatever `mu`. Its mean is
    ///   `N·e^(sigma'²/2)`, 3 % above `N` for `S = N/4`.
    ///
    /// `mu'` is written with 2 decimals, `sigma'` with 2 (or 2 significant digits below 0.1).
    /// `lognormal:400:100:128:4096` gets `lognormal:5.99:0.25:128:4096`.
    pub fn advice(&self) -> Option<String> {
        if !self.needs_advice() {
            return None;
        }
        let (min, max) = self.spec.bounds();
        let mut text = format!(
            "{}: {} of draws fall outside [{min}, {max}] and are redrawn",
            self.spec,
            percent(self.share_redrawn())
        );
        let at_min = format!("{} at min {min}", percent(self.share_clamped_at_min()));
        let at_max = format!("{} at max {max}", percent(self.share_clamped_at_max()));
        let clamps = match (self.clamped_at_min > 0, self.clamped_at_max > 0) {
            (true, true) => Some(format!("{at_min} and {at_max}")),
            (true, false) => Some(at_min),
            (false, true) => Some(at_max),
            (false, false) => None,
        };
        if let Some(clamps) = clamps {
            text.push_str(&format!(
                "; still outside after {} redraws, these are clamped: {clamps}",
                crate::MAX_RESAMPLES
            ));
        }
        text.push_str(". ");
        match self.spec {
            DistSpec::Normal { mean, std, .. } => text.push_str(&format!(
                "In normal:<mean>:<std>:<min>:<max>, mean {mean} and std {std} are token \
                 counts, and only the part of that normal inside [{min}, {max}] is drawn: move \
                 the mean inside the bounds, narrow the std, or widen the bounds."
            )),
            DistSpec::LogNormal { mu, sigma, .. } => {
                text.push_str(&format!(
                    "In lognormal:<mu>:<sigma>:<min>:<max>, mu and sigma are the mean and std \
                     of the underlying normal, not token counts: the median is e^mu ≈ {} tokens.",
                    approx(mu.exp())
                ));
                if mu > TOKEN_LIKE_MU {
                    text.push(' ');
                    text.push_str(&token_reading(mu, sigma, min, max));
                }
            }
            // Neither redraws nor clamps, so never reached; the shares above say it all.
            DistSpec::Fixed(_) | DistSpec::Uniform { .. } => {}
        }
        Some(text.trim_end().to_owned())
    }

    fn share(&self, count: u64) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            count as f64 / self.samples as f64
        }
    }
}

/// The suggestion for a log-normal whose `mu` and `sigma` were written as tokens.
fn token_reading(median: f64, std: f64, min: u64, max: u64) -> String {
    let mu = median.ln();
    let ratio = std / median;
    let sigma = (1.0 + ratio * ratio).ln().sqrt();
    let suggestion = format!("lognormal:{mu:.2}:{}:{min}:{max}", decimals(sigma));
    let mut text = format!(
        "If {median} tokens with std {std} was meant, use {suggestion}: mu = ln({median}) ≈ \
         {mu:.2} puts the median at {median}, and sigma = sqrt(ln(1 + ({std}/{median})²)) ≈ {} \
         keeps the std at {} of the mean.",
        decimals(sigma),
        percent(ratio)
    );
    if median < min as f64 || median > max as f64 {
        text.push_str(&format!(
            " {median} is itself outside [{min}, {max}]: check the bounds too."
        ));
    }
    text
}

/// `0.8414` → `"84.1 %"`; a share too small to show, but not 0, is `"< 0.1 %"`.
fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.0005 {
        "< 0.1 %".to_owned()
    } else {
        format!("{:.1} %", share * 100.0)
    }
}

/// A positive value for a sentence: whole numbers up to a million, scientific beyond,
/// a few digits below 10, and words past `f64`'s range.
fn approx(value: f64) -> String {
    if !value.is_finite() {
        "more than 1e308".to_owned()
    } else if value >= 1e6 {
        format!("{value:.1e}")
    } else if value >= 10.0 {
        format!("{value:.0}")
    } else if value >= 0.01 {
        format!("{value:.2}")
    } else {
        format!("{value:.1e}")
    }
}

/// A sigma for a spec: 2 decimals, or 2 significant digits below 0.1, `0` for 0.
fn decimals(value: f64) -> String {
    if value >= 0.1 {
        format!("{value:.2}")
    } else if value > 0.0 {
        let places = (1.0 - value.log10().floor()).clamp(2.0, 17.0) as usize;
        format!("{value:.places$}")
    } else {
        "0".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(spec: &str, redrawn: u64, clamped_at_min: u64, clamped_at_max: u64) -> ClampReport {
        ClampReport {
            spec: spec.parse().unwrap(),
            samples: 10_000,
            redrawn,
            clamped_at_min,
            clamped_at_max,
        }
    }

    #[test]
    fn clamp_threshold_is_more_than_two_percent_of_both_bounds() {
        assert_eq!(report("normal:1:1:1:9", 200, 100, 100).advice(), None);
        let advice = report("normal:1:1:1:9", 201, 100, 101).advice();
        let advice = advice.unwrap_or_default();
        assert!(
            advice.contains("these are clamped: 1.0 % at min 1 and 1.0 % at max 9"),
            "{advice}"
        );
    }

    #[test]
    fn redraw_threshold_is_more_than_half() {
        assert!(!report("normal:1:1:1:9", 5_000, 0, 0).needs_advice());
        assert!(report("normal:1:1:1:9", 5_001, 0, 0).needs_advice());
    }

    #[test]
    fn no_samples_is_no_share() {
        let empty = ClampReport {
            samples: 0,
            ..report("normal:1:1:1:9", 0, 0, 0)
        };
        assert_eq!(empty.share_clamped(), 0.0);
        assert_eq!(empty.advice(), None);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(percent(0.84148), "84.1 %");
        assert_eq!(percent(0.0001), "< 0.1 %");
        assert_eq!(percent(0.0005), "0.1 %");
        assert_eq!(percent(0.0), "0.0 %");
        assert_eq!(approx(f64::INFINITY), "more than 1e308");
        assert_eq!(approx(400f64.exp()), "5.2e173");
        assert_eq!(approx(403.43), "403");
        assert_eq!(approx(2.5), "2.50");
        assert_eq!(approx(4.54e-5), "4.5e-5");
        assert_eq!(decimals(0.2462), "0.25");
        assert_eq!(decimals(0.039984), "0.040");
        assert_eq!(decimals(0.0025), "0.0025");
        assert_eq!(decimals(0.0), "0");
    }
}

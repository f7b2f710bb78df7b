//! `--think-time-s`: how long a user waits after an answer before the next turn, a
//! distribution in seconds written like the token-count specs (`loadtest-dist`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use loadtest_dist::{DistSpec, Sampler, derive_seed};

/// The longest think time a spec may give: one hour.
pub const MAX_THINK_TIME_S: f64 = 3600.0;

/// A think-time distribution in seconds: `S` (a fixed time, `0` for none), `uniform:MIN:MAX`,
/// `normal:MEAN:STD:MIN:MAX` or `lognormal:MU:SIGMA:MIN:MAX` (mu and sigma of the underlying
/// normal of the time in seconds), every value a number of seconds ≥ 0 (fractions allowed),
/// at most [`MAX_THINK_TIME_S`]. Drawn with millisecond resolution.
///
/// ```
/// use loadtest_sweep::conversation::ThinkTime;
///
/// let t: ThinkTime = "uniform:0.5:2".parse().unwrap();
/// assert_eq!(t.to_string(), "uniform:0.5:2");
/// assert!("normal:1:x:0:2".parse::<ThinkTime>().is_err());
/// assert!(ThinkTime::NONE.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ThinkTime {
    text: String,
    /// The same distribution over milliseconds.
    ms: DistSpec,
}

/// Why a think-time spec was refused; the message names the value and the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ThinkTimeError(String);

impl ThinkTime {
    /// No think time: the next turn is sent as soon as the answer has ended.
    pub const NONE: ThinkTime = ThinkTime {
        text: String::new(),
        ms: DistSpec::Fixed(0),
    };

    /// True when every draw is 0.
    pub fn is_none(&self) -> bool {
        self.ms == DistSpec::Fixed(0)
    }

    /// A sampler of milliseconds for the run `seed`.
    pub(crate) fn sampler(&self, seed: u64) -> Sampler {
        Sampler::new(self.ms, derive_seed(seed, "think-time"))
    }

    /// The think time before request `id`, from `sampler` (see [`ThinkTime::sampler`]).
    pub(crate) fn draw(sampler: &Sampler, id: u64) -> Duration {
        Duration::from_millis(sampler.sample(id))
    }
}

impl fmt::Display for ThinkTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            f.write_str("0")
        } else {
            f.write_str(&self.text)
        }
    }
}

impl FromStr for ThinkTime {
    type Err = ThinkTimeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let form = |kind: &str| -> ThinkTimeError {
            let expected = match kind {
                "uniform" => "uniform:<min>:<max>",
                "normal" => "normal:<mean>:<std>:<min>:<max>",
                "lognormal" => "lognormal:<mu>:<sigma>:<min>:<max>",
                _ => "seconds >= 0, or uniform:…, normal:…, lognormal:…",
            };
            ThinkTimeError(format!("{text:?}: expected {expected} (seconds)"))
        };
        let parts: Vec<&str> = text.split(':').collect();
        let kind = if parts.len() == 1 { "" } else { parts[0] };
        let number = |s: &str, what: &str, max: f64| -> Result<f64, ThinkTimeError> {
            match s.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && (0.0..=max).contains(&v) => Ok(v),
                _ => Err(ThinkTimeError(format!(
                    "{text:?}: {what} {s:?} is not a number of seconds between 0 and {max}"
                ))),
            }
        };
        let ms = |s: f64| (s * 1000.0).round() as u64;
        let bounds = |min: &str, max: &str| -> Result<(u64, u64), ThinkTimeError> {
            let (min, max) = (
                number(min, "min", MAX_THINK_TIME_S)?,
                number(max, "max", MAX_THINK_TIME_S)?,
            );
            if min > max {
                return Err(ThinkTimeError(format!("{text:?}: min is above max")));
            }
            Ok((ms(min), ms(max)))
        };
        let spec = match (kind, parts.as_slice()) {
            ("", [s]) => DistSpec::Fixed(ms(number(s, "the time", MAX_THINK_TIME_S)?)),
            ("uniform", [_, min, max]) => {
                let (min, max) = bounds(min, max)?;
                DistSpec::Uniform { min, max }
            }
            ("normal", [_, mean, std, min, max]) => {
                let (mean, std) = (
                    number(mean, "mean", MAX_THINK_TIME_S)?,
                    number(std, "std", MAX_THINK_TIME_S)?,
                );
                let (min, max) = bounds(min, max)?;
                DistSpec::Normal {
                    mean: mean * 1000.0,
                    std: std * 1000.0,
                    min,
                    max,
                }
            }
            ("lognormal", [_, mu, sigma, min, max]) => {
                let mu = match mu.trim().parse::<f64>() {
                    Ok(v) if v.is_finite() && v.abs() <= 20.0 => v,
                    _ => {
                        return Err(ThinkTimeError(format!(
                            "{text:?}: mu {mu:?} is not a number between -20 and 20"
                        )));
                    }
                };
                let sigma = number(sigma, "sigma", 10.0)?;
                let (min, max) = bounds(min, max)?;
                DistSpec::LogNormal {
                    // The time in ms is 1000 × the time in s: its log is shifted by ln 1000.
                    mu: mu + 1000f64.ln(),
                    sigma,
                    min,
                    max,
                }
            }
            _ => return Err(form(kind)),
        };
        Ok(ThinkTime {
            text: text.to_owned(),
            ms: spec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_in_seconds_and_draw_in_milliseconds() {
        let fixed: ThinkTime = "0.05".parse().unwrap();
        assert_eq!(
            ThinkTime::draw(&fixed.sampler(1), 9),
            Duration::from_millis(50)
        );
        let zero: ThinkTime = "0".parse().unwrap();
        assert!(zero.is_none());
        let uniform: ThinkTime = "uniform:0.5:1.5".parse().unwrap();
        let sampler = uniform.sampler(3);
        for id in 0..200 {
            let d = ThinkTime::draw(&sampler, id);
            assert!((500..=1500).contains(&(d.as_millis() as u64)), "{d:?}");
            assert_eq!(d, ThinkTime::draw(&uniform.sampler(3), id));
        }
        let lognormal: ThinkTime = "lognormal:0:0.1:0.5:2".parse().unwrap();
        let median = ThinkTime::draw(&lognormal.sampler(0), 1).as_secs_f64();
        assert!((0.5..=2.0).contains(&median), "{median}");
        for bad in [
            "-1",
            "x",
            "uniform:2:1",
            "normal:1:1:0",
            "normal:1:-1:0:2",
            "gamma:1",
            "1e9",
            "inf",
        ] {
            let err = bad.parse::<ThinkTime>().unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }
}

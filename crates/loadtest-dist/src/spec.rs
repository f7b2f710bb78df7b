//! The textual spec: parsing, validation and `Display`.

use std::fmt;
use std::str::FromStr;

/// A distribution of positive integer token counts.
///
/// Parse it with [`str::parse`]; [`Display`](fmt::Display) writes it back in the same form, so
/// `spec.to_string().parse() == Ok(spec)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DistSpec {
    /// Always the same value.
    Fixed(u64),
    /// Normal with `mean` and `std`, rounded, truncated to `[min, max]`.
    Normal {
        /// Mean of the normal.
        mean: f64,
        /// Standard deviation (≥ 0).
        std: f64,
        /// Smallest value drawn (≥ 1).
        min: u64,
        /// Largest value drawn.
        max: u64,
    },
    /// Log-normal: `exp(N(mu, sigma))`, rounded, truncated to `[min, max]`.
    LogNormal {
        /// Mean of the underlying normal (the median is `e^mu`).
        mu: f64,
        /// Standard deviation of the underlying normal (≥ 0).
        sigma: f64,
        /// Smallest value drawn (≥ 1).
        min: u64,
        /// Largest value drawn.
        max: u64,
    },
    /// Uniform integers in `[min, max]`, both included.
    Uniform {
        /// Smallest value drawn (≥ 1).
        min: u64,
        /// Largest value drawn.
        max: u64,
    },
}

impl DistSpec {
    /// The smallest and largest value this spec can produce.
    pub fn bounds(&self) -> (u64, u64) {
        match *self {
            DistSpec::Fixed(v) => (v, v),
            DistSpec::Normal { min, max, .. }
            | DistSpec::LogNormal { min, max, .. }
            | DistSpec::Uniform { min, max } => (min, max),
        }
    }

    /// The form this kind of spec is written in, for error messages.
    fn expected_form(kind: Kind) -> &'static str {
        match kind {
            Kind::Fixed => "a whole number >= 1, or normal:…, lognormal:…, uniform:…",
            Kind::Normal => "normal:<mean>:<std>:<min>:<max>",
            Kind::LogNormal => "lognormal:<mu>:<sigma>:<min>:<max>",
            Kind::Uniform => "uniform:<min>:<max>",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Fixed,
    Normal,
    LogNormal,
    Uniform,
}

/// Why a spec was rejected. Every message names the offending field and the expected form.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// The spec was empty.
    #[error("empty spec (expected a whole number >= 1, or normal:…, lognormal:…, uniform:…)")]
    Empty,
    /// The part before the first `:` is not a known kind.
    #[error(
        "unknown distribution {kind:?} (expected a whole number >= 1, normal:<mean>:<std>:<min>:<max>, lognormal:<mu>:<sigma>:<min>:<max> or uniform:<min>:<max>)"
    )]
    UnknownKind {
        /// What was given.
        kind: String,
    },
    /// Too few or too many `:`-separated parameters.
    #[error("{kind} takes {expected} parameters, got {got} (expected {form})")]
    WrongArity {
        /// The distribution kind.
        kind: &'static str,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        got: usize,
        /// The expected form.
        form: &'static str,
    },
    /// A parameter is not a number at all.
    #[error("{field} {value:?} is not a number (expected {form})")]
    NotANumber {
        /// The parameter's name.
        field: &'static str,
        /// What was given.
        value: String,
        /// The expected form.
        form: &'static str,
    },
    /// A parameter is NaN or infinite (for example `1e400`).
    #[error("{field} {value:?} is not a finite number (expected {form})")]
    NotFinite {
        /// The parameter's name.
        field: &'static str,
        /// What was given.
        value: String,
        /// The expected form.
        form: &'static str,
    },
    /// A bound or fixed value is not a whole number.
    #[error("{field} {value:?} is not a whole number (expected {form})")]
    NotWhole {
        /// The parameter's name.
        field: &'static str,
        /// What was given.
        value: String,
        /// The expected form.
        form: &'static str,
    },
    /// A standard deviation or sigma is negative.
    #[error("{field} {value} is negative (expected {form} with {field} >= 0)")]
    Negative {
        /// The parameter's name.
        field: &'static str,
        /// The value.
        value: f64,
        /// The expected form.
        form: &'static str,
    },
    /// A token count bound (or the fixed value) is 0.
    #[error("{field} is 0, but token counts start at 1 (expected {form})")]
    BelowOne {
        /// The parameter's name.
        field: &'static str,
        /// The expected form.
        form: &'static str,
    },
    /// `min > max`.
    #[error("min {min} is greater than max {max} (expected {form} with min <= max)")]
    MinAboveMax {
        /// The lower bound given.
        min: u64,
        /// The upper bound given.
        max: u64,
        /// The expected form.
        form: &'static str,
    },
}

impl FromStr for DistSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SpecError::Empty);
        }
        let mut parts = s.split(':');
        let head = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        let kind = match head {
            "normal" => Kind::Normal,
            "lognormal" => Kind::LogNormal,
            "uniform" => Kind::Uniform,
            _ if params.is_empty() && looks_numeric(head) => Kind::Fixed,
            _ => {
                return Err(SpecError::UnknownKind {
                    kind: head.to_owned(),
                });
            }
        };
        let form = DistSpec::expected_form(kind);
        let spec = match kind {
            Kind::Fixed => {
                let value = parse_count("value", head, form)?;
                DistSpec::Fixed(value)
            }
            Kind::Normal => {
                let [mean, std, min, max] = arity::<4>("normal", &params, form)?;
                DistSpec::Normal {
                    mean: parse_real("mean", mean, form)?,
                    std: parse_non_negative("std", std, form)?,
                    min: parse_count("min", min, form)?,
                    max: parse_count("max", max, form)?,
                }
            }
            Kind::LogNormal => {
                let [mu, sigma, min, max] = arity::<4>("lognormal", &params, form)?;
                DistSpec::LogNormal {
                    mu: parse_real("mu", mu, form)?,
                    sigma: parse_non_negative("sigma", sigma, form)?,
                    min: parse_count("min", min, form)?,
                    max: parse_count("max", max, form)?,
                }
            }
            Kind::Uniform => {
                let [min, max] = arity::<2>("uniform", &params, form)?;
                DistSpec::Uniform {
                    min: parse_count("min", min, form)?,
                    max: parse_count("max", max, form)?,
                }
            }
        };
        let (min, max) = spec.bounds();
        if min > max {
            return Err(SpecError::MinAboveMax { min, max, form });
        }
        Ok(spec)
    }
}

fn looks_numeric(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

fn arity<'a, const N: usize>(
    kind: &'static str,
    params: &[&'a str],
    form: &'static str,
) -> Result<[&'a str; N], SpecError> {
    <[&str; N]>::try_from(params).map_err(|_| SpecError::WrongArity {
        kind,
        expected: N,
        got: params.len(),
        form,
    })
}

fn parse_real(field: &'static str, value: &str, form: &'static str) -> Result<f64, SpecError> {
    let parsed: f64 = value.parse().map_err(|_| SpecError::NotANumber {
        field,
        value: value.to_owned(),
        form,
    })?;
    if !parsed.is_finite() {
        return Err(SpecError::NotFinite {
            field,
            value: value.to_owned(),
            form,
        });
    }
    Ok(parsed)
}

fn parse_non_negative(
    field: &'static str,
    value: &str,
    form: &'static str,
) -> Result<f64, SpecError> {
    let parsed = parse_real(field, value, form)?;
    if parsed < 0.0 {
        return Err(SpecError::Negative {
            field,
            value: parsed,
            form,
        });
    }
    Ok(parsed)
}

fn parse_count(field: &'static str, value: &str, form: &'static str) -> Result<u64, SpecError> {
    if let Ok(count) = value.parse::<u64>() {
        return if count == 0 {
            Err(SpecError::BelowOne { field, form })
        } else {
            Ok(count)
        };
    }
    let real = parse_real(field, value, form)?;
    if real < 1.0 && real.fract() == 0.0 {
        return Err(SpecError::BelowOne { field, form });
    }
    Err(SpecError::NotWhole {
        field,
        value: value.to_owned(),
        form,
    })
}

impl fmt::Display for DistSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DistSpec::Fixed(v) => write!(f, "{v}"),
            DistSpec::Normal {
                mean,
                std,
                min,
                max,
            } => write!(f, "normal:{mean}:{std}:{min}:{max}"),
            DistSpec::LogNormal {
                mu,
                sigma,
                min,
                max,
            } => write!(f, "lognormal:{mu}:{sigma}:{min}:{max}"),
            DistSpec::Uniform { min, max } => write!(f, "uniform:{min}:{max}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        match s.parse::<DistSpec>() {
            Ok(spec) => panic!("{s:?} parsed as {spec:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn parses_every_kind() {
        assert_eq!("128".parse(), Ok(DistSpec::Fixed(128)));
        assert_eq!(
            "normal:256:64:32:1024".parse(),
            Ok(DistSpec::Normal {
                mean: 256.0,
                std: 64.0,
                min: 32,
                max: 1024
            })
        );
        assert_eq!(
            "lognormal:6.0:0.5:128:4096".parse(),
            Ok(DistSpec::LogNormal {
                mu: 6.0,
                sigma: 0.5,
                min: 128,
                max: 4096
            })
        );
        assert_eq!(
            "uniform:1:10".parse(),
            Ok(DistSpec::Uniform { min: 1, max: 10 })
        );
        assert_eq!(" 7 ".parse(), Ok(DistSpec::Fixed(7)));
    }

    #[test]
    fn each_malformed_spec_gets_its_own_message() {
        assert_eq!(
            err("normal:1:2:3"),
            "normal takes 4 parameters, got 3 (expected normal:<mean>:<std>:<min>:<max>)"
        );
        assert_eq!(
            err("normal:a:1:1:5"),
            "mean \"a\" is not a number (expected normal:<mean>:<std>:<min>:<max>)"
        );
        assert_eq!(
            err("normal:10:x:1:5"),
            "std \"x\" is not a number (expected normal:<mean>:<std>:<min>:<max>)"
        );
        assert_eq!(
            err("normal:10:-1:1:5"),
            "std -1 is negative (expected normal:<mean>:<std>:<min>:<max> with std >= 0)"
        );
        assert_eq!(
            err("uniform:9:3"),
            "min 9 is greater than max 3 (expected uniform:<min>:<max> with min <= max)"
        );
        assert_eq!(
            err("lognormal:6:0.5:0:10"),
            "min is 0, but token counts start at 1 (expected lognormal:<mu>:<sigma>:<min>:<max>)"
        );
        assert_eq!(
            err(""),
            "empty spec (expected a whole number >= 1, or normal:…, lognormal:…, uniform:…)"
        );
        assert!(err("fixed").starts_with("unknown distribution \"fixed\" (expected"));
        assert_eq!(
            err("1e400"),
            "value \"1e400\" is not a finite number (expected a whole number >= 1, or normal:…, lognormal:…, uniform:…)"
        );
        assert_eq!(
            err("12.5"),
            "value \"12.5\" is not a whole number (expected a whole number >= 1, or normal:…, lognormal:…, uniform:…)"
        );
        assert!(err("0").starts_with("value is 0, but token counts start at 1"));
        assert!(err("normal:nan:1:1:5").starts_with("mean \"nan\" is not a finite number"));
        assert!(err("uniform:1:2:3").starts_with("uniform takes 2 parameters, got 3"));
        assert!(err("lognormal:6:-0.5:1:10").starts_with("sigma -0.5 is negative"));
        assert!(err("uniform:1:x").starts_with("max \"x\" is not a number"));
    }
}

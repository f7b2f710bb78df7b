//! Open-loop arrivals (`--load-mode rate`): when each request is due. Inter-arrival gaps are
//! drawn from the seed with mean 1 and scaled by the current rate, so the schedule is a pure
//! function of (seed, step plan).
//!
//! The schedule is lazy: `Arrivals` yields one offset at a time and holds no list, so its
//! memory is constant whatever the step length. Its pace is bounded too: gamma burstiness is
//! clamped to [`Arrival::MIN_BURSTINESS`]..=[`Arrival::MAX_BURSTINESS`] (validation refuses
//! values outside), and no gamma gap is shorter than `MIN_UNIT_GAP` mean gaps, so a window
//! of `T` seconds at `r` requests/s holds at most `r·T / MIN_UNIT_GAP + 1` arrivals — a burst
//! can never schedule an unbounded count in one instant.

use std::time::Duration;

use loadtest_run::Arrival;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp1, Gamma};

use crate::timeline::Timeline;

use loadtest_run::Phase;

/// `--arrival`: a drawn arrival process, or a trace's own schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalSpec {
    /// `poisson`, `constant` or `gamma:B`.
    Process(Arrival),
    /// `trace:[mooncake:|burstgpt:]PATH`.
    Trace(crate::trace::TraceSpec),
}

impl std::str::FromStr for ArrivalSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix("trace:") {
            Some(rest) => rest.parse().map(ArrivalSpec::Trace),
            None if s == "trace" => Err(
                "no trace file (expected trace:PATH, trace:mooncake:PATH or trace:burstgpt:PATH)"
                    .to_owned(),
            ),
            None => s.parse().map(ArrivalSpec::Process).map_err(|e: String| {
                if e.starts_with("expected poisson") {
                    format!("{e}, or trace:PATH")
                } else {
                    e
                }
            }),
        }
    }
}

/// Yields arrival offsets (from the sweep start) in order until the timeline ends.
pub(crate) struct Arrivals {
    timeline: Timeline,
    rng: StdRng,
    gap: GapDist,
    next: Duration,
}

enum GapDist {
    Exp,
    Constant,
    Gamma(Gamma<f64>),
}

/// The shortest gamma gap, in mean gaps: at most 1000 × the rate in any instant. (A tiny
/// burstiness draws most gaps as ~0; this spreads such a burst over a few milliseconds at most
/// and moves the mean gap by under 0.1%.)
pub(crate) const MIN_UNIT_GAP: f64 = 1e-3;

/// During a rate-0 stretch (or a ramp starting at 0) the clock moves on in steps this long.
const IDLE_STEP: Duration = Duration::from_millis(10);

impl Arrivals {
    pub(crate) fn new(timeline: Timeline, arrival: Arrival, seed: u64) -> Self {
        let gap = match arrival {
            // A trace's arrivals are its rows (`trace::TraceArrivals`), never drawn; Poisson
            // stands in should one be asked for.
            Arrival::Poisson | Arrival::Trace => GapDist::Exp,
            Arrival::Constant => GapDist::Constant,
            Arrival::Gamma { burstiness } => {
                // Validated already; clamped again so that no config reaches a degenerate
                // shape (a NaN fails `Gamma::new` and falls back to Poisson).
                let b = burstiness.clamp(Arrival::MIN_BURSTINESS, Arrival::MAX_BURSTINESS);
                match Gamma::new(b, 1.0 / b) {
                    Ok(g) => GapDist::Gamma(g),
                    Err(_) => GapDist::Exp,
                }
            }
        };
        Arrivals {
            timeline,
            rng: StdRng::seed_from_u64(loadtest_dist::derive_seed(seed, "arrivals")),
            gap,
            next: Duration::ZERO,
        }
    }

    fn unit_gap(&mut self) -> f64 {
        match &self.gap {
            GapDist::Exp => Exp1.sample(&mut self.rng),
            GapDist::Constant => 1.0,
            GapDist::Gamma(g) => g.sample(&mut self.rng).max(MIN_UNIT_GAP),
        }
    }
}

impl Iterator for Arrivals {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let end = self.timeline.end();
        // The first arrival is at the start of the first moment with a positive rate; every
        // later one a (seeded) gap after the previous, at the rate in force then.
        loop {
            if self.next >= end {
                return None;
            }
            let pos = self.timeline.at(self.next);
            if pos.phase == Phase::Drain {
                return None;
            }
            if pos.target <= 0.0 {
                let skip = match (pos.phase, pos.phase_end) {
                    (Phase::Ramp, _) => IDLE_STEP,
                    (_, Some(phase_end)) => phase_end.saturating_sub(self.next).max(IDLE_STEP),
                    (_, None) => return None,
                };
                self.next += skip;
                continue;
            }
            let at = self.next;
            let gap_s = self.unit_gap() / pos.target;
            self.next = at + Duration::from_secs_f64(gap_s.clamp(0.0, 3600.0));
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(arrival: Arrival, rate: f64) -> Vec<f64> {
        let timeline = Timeline::new(
            &[rate],
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_secs(100),
            Duration::ZERO,
        );
        let times: Vec<f64> = Arrivals::new(timeline, arrival, 7)
            .map(|d| d.as_secs_f64())
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn cv(xs: &[f64]) -> f64 {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        var.sqrt() / m
    }

    #[test]
    fn rates_and_burstiness() {
        let p = gaps(Arrival::Poisson, 100.0);
        assert!((p.len() as f64 - 10_000.0).abs() < 300.0, "{}", p.len());
        assert!((cv(&p) - 1.0).abs() < 0.05, "poisson cv {}", cv(&p));
        let c = gaps(Arrival::Constant, 100.0);
        assert!(cv(&c) < 1e-6);
        let g = gaps(Arrival::Gamma { burstiness: 0.5 }, 100.0);
        assert!((cv(&g) - 2f64.sqrt()).abs() < 0.08, "gamma cv {}", cv(&g));
    }

    #[test]
    fn cooldown_has_no_arrivals_and_schedule_is_seeded() {
        let timeline = Timeline::new(
            &[10.0, 20.0],
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_secs(1),
        );
        let a: Vec<Duration> = Arrivals::new(timeline.clone(), Arrival::Poisson, 1).collect();
        let b: Vec<Duration> = Arrivals::new(timeline, Arrival::Poisson, 1).collect();
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|t| !(*t >= Duration::from_secs(2) && *t < Duration::from_secs(3)))
        );
        assert!(a.iter().any(|t| *t >= Duration::from_secs(3)));
    }

    #[test]
    fn arrival_specs_include_traces() {
        use crate::trace::TraceFormat;
        assert_eq!(
            "gamma:2".parse::<ArrivalSpec>(),
            Ok(ArrivalSpec::Process(Arrival::Gamma { burstiness: 2.0 }))
        );
        let Ok(ArrivalSpec::Trace(spec)) = "trace:burstgpt:x.log".parse::<ArrivalSpec>() else {
            panic!("not a trace");
        };
        assert_eq!(spec.format, TraceFormat::BurstGpt);
        let Ok(ArrivalSpec::Trace(spec)) = "trace:a/b.jsonl".parse::<ArrivalSpec>() else {
            panic!("not a trace");
        };
        assert_eq!(spec.format, TraceFormat::Mooncake);
        assert!(
            "trace"
                .parse::<ArrivalSpec>()
                .unwrap_err()
                .contains("trace:PATH")
        );
        assert!(
            "trace:x.bin"
                .parse::<ArrivalSpec>()
                .unwrap_err()
                .contains("trace:PATH")
        );
        assert!(
            "bursty"
                .parse::<ArrivalSpec>()
                .unwrap_err()
                .ends_with("or trace:PATH")
        );
    }

    #[test]
    fn parses_arrival_specs() {
        assert_eq!("poisson".parse(), Ok(Arrival::Poisson));
        assert_eq!("gamma:0.5".parse(), Ok(Arrival::Gamma { burstiness: 0.5 }));
        assert!("gamma:0".parse::<Arrival>().is_err());
        assert_eq!(
            "gamma:0.01".parse(),
            Ok(Arrival::Gamma { burstiness: 0.01 })
        );
        assert_eq!(
            "gamma:1000".parse(),
            Ok(Arrival::Gamma { burstiness: 1000.0 })
        );
        for bad in ["gamma:1e-12", "gamma:0.0099", "gamma:1000.5", "gamma:1e300"] {
            let err = bad.parse::<Arrival>().unwrap_err();
            assert!(err.contains("outside 0.01..=1000"), "{bad}: {err}");
        }
        assert!(
            "gamma:1e-12"
                .parse::<Arrival>()
                .unwrap_err()
                .starts_with("burstiness 1e-12 is outside")
        );
        for bad in ["gamma:nan", "gamma:inf", "gamma:x"] {
            let err = bad.parse::<Arrival>().unwrap_err();
            assert!(err.contains("not a number"), "{bad}: {err}");
        }
        assert!("bursty".parse::<Arrival>().is_err());
        assert_eq!(Arrival::Gamma { burstiness: 2.0 }.to_string(), "gamma:2");
        assert_eq!(
            Arrival::Gamma { burstiness: 0.01 }.to_string(),
            "gamma:0.01"
        );
        // Out of range, short and still parseable text.
        assert_eq!(
            Arrival::Gamma { burstiness: 1e-12 }.to_string(),
            "gamma:1e-12"
        );
        assert_eq!(
            Arrival::Gamma { burstiness: 1e300 }.to_string(),
            "gamma:1e300"
        );
    }

    fn count(arrival: Arrival, rate: f64, step: Duration, seed: u64) -> Vec<Duration> {
        let timeline = Timeline::new(
            &[rate],
            Duration::ZERO,
            Duration::ZERO,
            step,
            Duration::ZERO,
        );
        Arrivals::new(timeline, arrival, seed).collect()
    }

    #[test]
    fn the_burstiest_schedule_stays_bounded() {
        // rate × duration = 10. A step starts with a burst (~2% of draws at this shape are a
        // gap longer than the step), so a short step holds more than 10 on average, but never
        // more than 50× that: that takes ~500 draws in a row below 1 mean gap (P < 1e-8).
        let (rate, step) = (5.0, Duration::from_secs(2));
        let burstiest = Arrival::Gamma {
            burstiness: Arrival::MIN_BURSTINESS,
        };
        for seed in 0..200 {
            let times = count(burstiest, rate, step, seed);
            assert!(times.len() <= 500, "seed {seed}: {} arrivals", times.len());
            // No two arrivals closer than the floor (less the nanosecond rounding).
            let floor = Duration::from_secs_f64(MIN_UNIT_GAP / rate) - Duration::from_nanos(1);
            assert!(
                times.windows(2).all(|w| w[1] - w[0] >= floor),
                "seed {seed}"
            );
        }
        // Over a long step, still the rate (the floor moves the mean gap by under 0.1%).
        let n = count(burstiest, 1000.0, Duration::from_secs(100), 3).len() as f64;
        assert!(
            (n / 100_000.0 - 1.0).abs() < 0.15,
            "{n} arrivals, 100000 expected"
        );
    }

    #[test]
    fn an_unvalidated_burstiness_is_clamped_not_unbounded() {
        // gamma:1e-12 sent ~90,000 requests in a 5 req/s step; bypassing validation it now
        // schedules at most the hard bound r·T / MIN_UNIT_GAP + 1.
        let (rate, step) = (5.0, Duration::from_secs(10));
        let hard = (rate * step.as_secs_f64() / MIN_UNIT_GAP) as usize + 1;
        for burstiness in [1e-12, 0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            for seed in 0..20 {
                let n = count(Arrival::Gamma { burstiness }, rate, step, seed).len();
                assert!(n <= hard, "{burstiness}: {n}");
                assert!(n <= 50 * 50, "{burstiness} seed {seed}: {n} arrivals");
            }
        }
    }
}

//! Open-loop arrivals (`--load-mode rate`): when each request is due. Inter-arrival gaps are
//! drawn from the seed with mean 1 and scaled by the current rate, so the schedule is a pure
//! function of (seed, step plan).

use std::time::Duration;

use loadtest_run::Arrival;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp1, Gamma};

use crate::timeline::Timeline;

use loadtest_run::Phase;

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

/// During a rate-0 stretch (or a ramp starting at 0) the clock moves on in steps this long.
const IDLE_STEP: Duration = Duration::from_millis(10);

impl Arrivals {
    pub(crate) fn new(timeline: Timeline, arrival: Arrival, seed: u64) -> Self {
        let gap = match arrival {
            Arrival::Poisson => GapDist::Exp,
            Arrival::Constant => GapDist::Constant,
            Arrival::Gamma { burstiness } => match Gamma::new(burstiness, 1.0 / burstiness) {
                Ok(g) => GapDist::Gamma(g),
                Err(_) => GapDist::Exp,
            },
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
            GapDist::Gamma(g) => g.sample(&mut self.rng),
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
    fn parses_arrival_specs() {
        assert_eq!("poisson".parse(), Ok(Arrival::Poisson));
        assert_eq!("gamma:0.5".parse(), Ok(Arrival::Gamma { burstiness: 0.5 }));
        assert!("gamma:0".parse::<Arrival>().is_err());
        assert!("bursty".parse::<Arrival>().is_err());
        assert_eq!(Arrival::Gamma { burstiness: 2.0 }.to_string(), "gamma:2");
    }
}

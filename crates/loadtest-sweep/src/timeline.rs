//! The sweep's schedule: warmup, then for each step ramp → measure → cooldown, as offsets
//! from the sweep's start on its one monotonic clock.

use std::time::Duration;

use loadtest_run::Phase;

/// One step's boundaries, as offsets from the sweep start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWindow {
    /// Index in the step list.
    pub index: usize,
    /// The step's load level (concurrency, or requests/s in rate mode).
    pub load: f64,
    /// The load level before this step (for the ramp).
    pub previous_load: f64,
    /// Ramp start.
    pub ramp_start: Duration,
    /// Measure window start (= ramp end).
    pub measure_start: Duration,
    /// Measure window end (= cooldown start).
    pub measure_end: Duration,
    /// Cooldown end (= next step's ramp start).
    pub cooldown_end: Duration,
}

impl StepWindow {
    /// The measure window's length.
    pub fn measure_len(&self) -> Duration {
        self.measure_end.saturating_sub(self.measure_start)
    }

    /// The ramp's length (before the measure window).
    pub fn ramp_len(&self) -> Duration {
        self.measure_start.saturating_sub(self.ramp_start)
    }
}

/// Where the sweep is at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Step index (warmup belongs to step 0; drain to the last step).
    pub step: usize,
    /// Phase.
    pub phase: Phase,
    /// The load the dispatcher should hold now (0 in cooldown and drain).
    pub target: f64,
    /// When the phase ends (`None` in drain).
    pub phase_end: Option<Duration>,
}

/// The whole schedule.
#[derive(Debug, Clone)]
pub struct Timeline {
    warmup: Duration,
    steps: Vec<StepWindow>,
}

impl Timeline {
    /// Lays the steps out one after another. `loads` must be non-empty (validated upstream);
    /// an empty list gives a timeline that is in drain from the start.
    pub fn new(
        loads: &[f64],
        warmup: Duration,
        ramp: Duration,
        measure: Duration,
        cooldown: Duration,
    ) -> Self {
        Self::layout(loads, warmup, measure, cooldown, |_| ramp)
    }

    /// Like [`Timeline::new`] for the closed loop, where each concurrency slot opens its
    /// connection once, when it is first active, at most `connect_rate_per_s` a second: no
    /// measure window starts before the step's level can have been reached. A step's ramp is
    /// `ramp`, or longer where its new slots (its load above the most any earlier phase
    /// held) need longer to connect; step 0's slots also connect during the warmup, which
    /// counts toward that time. See [`StepWindow::ramp_len`].
    pub fn with_connect_rate(
        loads: &[f64],
        warmup: Duration,
        ramp: Duration,
        measure: Duration,
        cooldown: Duration,
        connect_rate_per_s: f64,
    ) -> Self {
        let mut opened = 0.0_f64;
        let needed: Vec<Duration> = loads
            .iter()
            .enumerate()
            .map(|(i, &load)| {
                let slots = load.ceil();
                let new = (slots - opened).max(0.0);
                opened = opened.max(slots);
                let secs = new / connect_rate_per_s;
                let secs = if i == 0 {
                    secs - warmup.as_secs_f64()
                } else {
                    secs
                };
                // A non-finite or negative need (no rate, nothing new) leaves the ramp as given.
                Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO)
            })
            .collect();
        Self::layout(loads, warmup, measure, cooldown, |i| {
            needed.get(i).map_or(ramp, |n| ramp.max(*n))
        })
    }

    fn layout(
        loads: &[f64],
        warmup: Duration,
        measure: Duration,
        cooldown: Duration,
        ramp_of: impl Fn(usize) -> Duration,
    ) -> Self {
        let mut steps = Vec::with_capacity(loads.len());
        let mut t = warmup;
        let mut previous = if warmup.is_zero() {
            0.0
        } else {
            loads.first().copied().unwrap_or(0.0)
        };
        for (index, &load) in loads.iter().enumerate() {
            let ramp_start = t;
            let measure_start = ramp_start + ramp_of(index);
            let measure_end = measure_start + measure;
            let cooldown_end = measure_end + cooldown;
            steps.push(StepWindow {
                index,
                load,
                previous_load: previous,
                ramp_start,
                measure_start,
                measure_end,
                cooldown_end,
            });
            previous = load;
            t = cooldown_end;
        }
        Timeline { warmup, steps }
    }

    /// The same windows with other step loads (a shard's share of each step): the phases
    /// stay where they are, so every shard of a run keeps the same schedule. `loads` gives
    /// one load per step; missing ones leave a step as it is.
    #[must_use]
    pub fn with_loads(mut self, loads: &[f64]) -> Self {
        let mut previous = if self.warmup.is_zero() {
            0.0
        } else {
            loads.first().copied().unwrap_or(0.0)
        };
        for (step, &load) in self.steps.iter_mut().zip(loads) {
            step.load = load;
            step.previous_load = previous;
            previous = load;
        }
        self
    }

    /// The steps in order.
    pub fn steps(&self) -> &[StepWindow] {
        &self.steps
    }

    /// The warmup length.
    pub fn warmup(&self) -> Duration {
        self.warmup
    }

    /// When the last step's cooldown ends and drain begins.
    pub fn end(&self) -> Duration {
        self.steps.last().map_or(self.warmup, |s| s.cooldown_end)
    }

    /// The largest load of any step.
    pub fn max_load(&self) -> f64 {
        self.steps.iter().map(|s| s.load).fold(0.0, f64::max)
    }

    /// Where the sweep is at `elapsed`.
    pub fn at(&self, elapsed: Duration) -> Position {
        let Some(first) = self.steps.first() else {
            return drain(0);
        };
        if elapsed < self.warmup {
            return Position {
                step: 0,
                phase: Phase::Warmup,
                target: first.load,
                phase_end: Some(self.warmup),
            };
        }
        for s in &self.steps {
            if elapsed < s.measure_start {
                let span = s.measure_start.saturating_sub(s.ramp_start).as_secs_f64();
                let done = elapsed.saturating_sub(s.ramp_start).as_secs_f64();
                let frac = if span > 0.0 { done / span } else { 1.0 };
                return Position {
                    step: s.index,
                    phase: Phase::Ramp,
                    target: s.previous_load + (s.load - s.previous_load) * frac,
                    phase_end: Some(s.measure_start),
                };
            }
            if elapsed < s.measure_end {
                return Position {
                    step: s.index,
                    phase: Phase::Measure,
                    target: s.load,
                    phase_end: Some(s.measure_end),
                };
            }
            if elapsed < s.cooldown_end {
                return Position {
                    step: s.index,
                    phase: Phase::Cooldown,
                    target: 0.0,
                    phase_end: Some(s.cooldown_end),
                };
            }
        }
        drain(self.steps.len() - 1)
    }

    /// The step whose measure window contains `elapsed`, if any (for completions).
    pub fn measure_step_at(&self, elapsed: Duration) -> Option<usize> {
        self.steps
            .iter()
            .find(|s| elapsed >= s.measure_start && elapsed <= s.measure_end)
            .map(|s| s.index)
    }
}

fn drain(step: usize) -> Position {
    Position {
        step,
        phase: Phase::Drain,
        target: 0.0,
        phase_end: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn phases_in_order() {
        let t = Timeline::new(&[2.0, 10.0], S(5), S(4), S(10), S(1));
        let at = |s: f64| t.at(Duration::from_secs_f64(s));
        assert_eq!(at(0.0).phase, Phase::Warmup);
        assert_eq!(at(0.0).target, 2.0);
        assert_eq!(at(5.0).phase, Phase::Ramp);
        assert_eq!(at(5.0).target, 2.0); // ramp from the warmup level
        assert_eq!((at(9.5).phase, at(9.5).target), (Phase::Measure, 2.0));
        assert_eq!(at(19.5).phase, Phase::Cooldown);
        assert_eq!(at(19.5).target, 0.0);
        let mid_ramp = at(22.0);
        assert_eq!((mid_ramp.step, mid_ramp.phase), (1, Phase::Ramp));
        assert!((mid_ramp.target - 6.0).abs() < 1e-9, "{}", mid_ramp.target);
        assert_eq!(at(30.0).phase, Phase::Measure);
        assert_eq!(at(40.5).phase, Phase::Drain);
        assert_eq!(t.end(), S(35));
        assert_eq!(t.measure_step_at(S(12)), Some(0));
        assert_eq!(t.measure_step_at(S(20)), None);
    }

    #[test]
    fn ramps_last_until_the_new_connections_can_have_opened() {
        // 2,000 connections/s: 1,000 slots take 0.5 s, 19,900 take 9.95 s.
        let t = Timeline::with_connect_rate(
            &[1000.0, 19_900.0, 64.0, 20_000.0],
            S(0),
            S(1),
            S(10),
            S(0),
            2000.0,
        );
        let ramps: Vec<f64> = t
            .steps()
            .iter()
            .map(|s| s.ramp_len().as_secs_f64())
            .collect();
        // Step 0: 0.5 s < the 1 s ramp; step 1: 18,900 new slots = 9.45 s; step 2: none new;
        // step 3: 100 new slots above the 19,900 already open.
        assert_eq!(ramps, [1.0, 9.45, 1.0, 1.0]);
        // A warmup counts for step 0's slots: 2 s of warmup, 19,900 slots need 9.95 s.
        let t = Timeline::with_connect_rate(&[19_900.0], S(2), S(0), S(10), S(0), 2000.0);
        assert!((t.steps()[0].ramp_len().as_secs_f64() - 7.95).abs() < 1e-9);
        assert_eq!(t.at(Duration::from_secs_f64(9.9)).phase, Phase::Ramp);
        assert_eq!(t.at(Duration::from_secs_f64(9.96)).phase, Phase::Measure);
        // A fast enough rate changes nothing.
        let fast = Timeline::with_connect_rate(&[2.0, 10.0], S(5), S(4), S(10), S(1), 1e6);
        let plain = Timeline::new(&[2.0, 10.0], S(5), S(4), S(10), S(1));
        assert_eq!(fast.steps(), plain.steps());
    }

    #[test]
    fn no_warmup_ramps_from_zero() {
        let t = Timeline::new(&[8.0], S(0), S(4), S(10), S(0));
        assert!((t.at(S(1)).target - 2.0).abs() < 1e-9);
        assert_eq!(t.at(S(4)).phase, Phase::Measure);
    }
}

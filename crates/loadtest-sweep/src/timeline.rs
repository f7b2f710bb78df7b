//! The sweep's schedule: warmup, then for each step ramp → measure → cooldown, as offsets
//! from the sweep's start on its one monotonic clock.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use loadtest_run::Phase;
use tokio::sync::watch;

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

/// An edge not yet known: a count step's end (and every edge after it) until its requests have
/// all finished. Far beyond any run (about 31 years), so comparisons and additions need no
/// special case.
pub const OPEN: Duration = Duration::from_secs(1_000_000_000);

/// The whole schedule. Cheap to clone; clones share it, so edges that become known during a
/// run (the ends of `--num-prompts` steps, see [`Timeline::counted`]) are seen by every
/// holder at once.
#[derive(Debug, Clone)]
pub struct Timeline {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    layout: RwLock<Layout>,
    /// Bumped whenever an edge becomes known.
    changed: watch::Sender<u64>,
}

#[derive(Debug, Clone)]
struct Layout {
    warmup: Duration,
    steps: Vec<StepWindow>,
    counts: Option<Counts>,
}

/// The plan of a timeline whose steps end by count.
#[derive(Debug, Clone)]
struct Counts {
    num_prompts: u64,
    warmup_requests: u64,
    /// The time warmup when `warmup_requests` is 0.
    warmup: Duration,
    cooldown: Duration,
    warmup_end: Option<Duration>,
    ends: Vec<Option<Duration>>,
}

impl Counts {
    /// Places every edge from what is known: an unknown end makes every later edge [`OPEN`].
    fn layout(&self, loads: &[f64]) -> Layout {
        let mut t = if self.warmup_requests > 0 {
            self.warmup_end.unwrap_or(OPEN)
        } else {
            self.warmup
        };
        let warmup = t;
        let mut previous = if warmup.is_zero() {
            0.0
        } else {
            loads.first().copied().unwrap_or(0.0)
        };
        let mut steps = Vec::with_capacity(loads.len());
        for (index, &load) in loads.iter().enumerate() {
            let start = t.min(OPEN);
            let end = match self.ends.get(index).copied().flatten() {
                Some(end) if start < OPEN => end.max(start),
                _ => OPEN,
            };
            let cooldown_end = if end >= OPEN {
                OPEN
            } else {
                end + self.cooldown
            };
            steps.push(StepWindow {
                index,
                load,
                previous_load: previous,
                ramp_start: start,
                measure_start: start,
                measure_end: end,
                cooldown_end,
            });
            previous = load;
            t = cooldown_end;
        }
        Layout {
            warmup,
            steps,
            counts: Some(self.clone()),
        }
    }
}

impl Timeline {
    fn from_layout(layout: Layout) -> Self {
        Timeline {
            shared: Arc::new(Shared {
                layout: RwLock::new(layout),
                changed: watch::Sender::new(0),
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Layout> {
        self.shared
            .layout
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

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

    /// Steps that end by count (`--num-prompts`): each step's window opens when the one
    /// before it (and its cooldown) is over and closes when its requests have all finished
    /// ([`Timeline::close_step`]); until then its end, and every edge after it, is [`OPEN`].
    /// There is no ramp. The warmup is `warmup_requests` requests that all finish before step
    /// 0 ([`Timeline::close_warmup`]), or, with 0, the time `warmup`.
    pub fn counted(
        loads: &[f64],
        num_prompts: u64,
        warmup_requests: u64,
        warmup: Duration,
        cooldown: Duration,
    ) -> Self {
        let counts = Counts {
            num_prompts,
            warmup_requests,
            warmup,
            cooldown,
            warmup_end: None,
            ends: vec![None; loads.len()],
        };
        Self::from_layout(counts.layout(loads))
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
        Self::from_layout(Layout {
            warmup,
            steps,
            counts: None,
        })
    }

    /// The same windows with other step loads (a shard's share of each step): the phases
    /// stay where they are, so every shard of a run keeps the same schedule. `loads` gives
    /// one load per step; missing ones leave a step as it is.
    #[must_use]
    pub fn with_loads(self, loads: &[f64]) -> Self {
        {
            let mut layout = self
                .shared
                .layout
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut previous = if layout.warmup.is_zero() {
                0.0
            } else {
                loads.first().copied().unwrap_or(0.0)
            };
            for (step, &load) in layout.steps.iter_mut().zip(loads) {
                step.load = load;
                step.previous_load = previous;
                previous = load;
            }
        }
        self
    }

    /// The steps in order, as known now (a count step's unknown edges are [`OPEN`]).
    pub fn steps(&self) -> Vec<StepWindow> {
        self.read().steps.clone()
    }

    /// Step `index` as known now.
    pub fn step(&self, index: usize) -> Option<StepWindow> {
        self.read().steps.get(index).copied()
    }

    /// How many steps.
    pub fn len(&self) -> usize {
        self.read().steps.len()
    }

    /// No steps at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The warmup's end (its length, as it starts at 0); [`OPEN`] while a count warmup runs.
    pub fn warmup(&self) -> Duration {
        self.read().warmup
    }

    /// When the last step's cooldown ends and drain begins ([`OPEN`] while unknown).
    pub fn end(&self) -> Duration {
        let layout = self.read();
        layout
            .steps
            .last()
            .map_or(layout.warmup, |s| s.cooldown_end)
    }

    /// The largest load of any step.
    pub fn max_load(&self) -> f64 {
        self.read().steps.iter().map(|s| s.load).fold(0.0, f64::max)
    }

    /// `--num-prompts`: the requests of each count step (this process's share is the
    /// dispatcher's business); `None` for time windows.
    pub fn num_prompts(&self) -> Option<u64> {
        self.read().counts.as_ref().map(|c| c.num_prompts)
    }

    /// `--warmup-requests` of a count timeline (0: a time warmup, or none).
    pub fn warmup_requests(&self) -> u64 {
        self.read().counts.as_ref().map_or(0, |c| c.warmup_requests)
    }

    /// Steps end by count ([`Timeline::counted`]).
    pub fn is_counted(&self) -> bool {
        self.read().counts.is_some()
    }

    /// A count warmup's requests have all finished at `at`: step 0 starts then. Ignored on
    /// a time timeline or once known.
    pub fn close_warmup(&self, at: Duration) {
        self.update(|counts| {
            if counts.warmup_requests == 0 || counts.warmup_end.is_some() {
                return false;
            }
            counts.warmup_end = Some(at);
            true
        });
    }

    /// Count step `index`'s requests have all finished at `at`: its window ends then (and
    /// the next step starts after the cooldown). Ignored on a time timeline or once known.
    pub fn close_step(&self, index: usize, at: Duration) {
        self.update(|counts| match counts.ends.get_mut(index) {
            Some(end @ None) => {
                *end = Some(at);
                true
            }
            _ => false,
        });
    }

    fn update(&self, change: impl FnOnce(&mut Counts) -> bool) {
        let changed = {
            let mut layout = self
                .shared
                .layout
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let loads: Vec<f64> = layout.steps.iter().map(|s| s.load).collect();
            let Some(mut counts) = layout.counts.clone() else {
                return;
            };
            if !change(&mut counts) {
                return;
            }
            *layout = counts.layout(&loads);
            true
        };
        if changed {
            self.shared
                .changed
                .send_modify(|generation| *generation += 1);
        }
    }

    /// Sleeps until `run_start + offset_of(self)`, following edges that become known
    /// meanwhile (an [`OPEN`] offset waits for one). On a time timeline, a plain sleep.
    pub async fn sleep_until(
        &self,
        run_start: std::time::Instant,
        offset_of: impl Fn(&Timeline) -> Duration,
    ) {
        let mut changes = self.shared.changed.subscribe();
        loop {
            let offset = offset_of(self);
            if offset >= OPEN {
                if changes.changed().await.is_err() {
                    return;
                }
                continue;
            }
            let at = run_start + offset;
            tokio::select! {
                () = tokio::time::sleep_until(at.into()) => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep_until(at.into()).await;
                        return;
                    }
                }
            }
        }
    }

    /// Where the sweep is at `elapsed`.
    pub fn at(&self, elapsed: Duration) -> Position {
        let layout = self.read();
        let Some(first) = layout.steps.first() else {
            return drain(0);
        };
        if elapsed < layout.warmup {
            return Position {
                step: 0,
                phase: Phase::Warmup,
                target: first.load,
                phase_end: Some(layout.warmup),
            };
        }
        for s in &layout.steps {
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
        drain(layout.steps.len() - 1)
    }

    /// The step whose measure window contains `elapsed`, if any (for completions).
    pub fn measure_step_at(&self, elapsed: Duration) -> Option<usize> {
        self.read()
            .steps
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
mod tests;

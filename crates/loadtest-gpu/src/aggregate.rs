//! Per-step, per-GPU statistics over a time window, including energy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use loadtest_run::GpuStepStats;

use crate::sample::{GpuSample, signed_secs};

#[derive(Debug, Default, Clone, Copy)]
struct MeanMax {
    sum: f64,
    n: u64,
    max: Option<f64>,
}

impl MeanMax {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.sum += v;
            self.n += 1;
            self.max = Some(self.max.map_or(v, |m| m.max(v)));
        }
    }

    fn mean(&self) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

#[derive(Debug, Clone, Copy)]
struct PowerPoint {
    x_s: f64,
    power_w: Option<f64>,
    child_run: u32,
}

#[derive(Debug, Default)]
struct GpuAccumulator {
    uuid: Option<String>,
    name: Option<String>,
    samples: u64,
    util_gpu: MeanMax,
    util_mem: MeanMax,
    mem_used: MeanMax,
    mem_total_mib: Option<f64>,
    power: MeanMax,
    temp: MeanMax,
    sm_clock: MeanMax,
    energy_j: f64,
    covered_s: f64,
    prev: Option<PowerPoint>,
    closed: bool,
}

/// Accumulates samples into [`GpuStepStats`] for the window `[start, end]`, one per GPU.
///
/// Feed it every sample in arrival order, including a few before and after the window: the
/// sample just before `start` and the first after `end` are used only to interpolate power at
/// the window's edges, so the energy covers the whole window. Memory is constant per GPU.
///
/// Energy is the trapezoidal integral of power between consecutive samples of the same GPU,
/// clipped to the window (power linearly interpolated at the clip points). A segment is not
/// integrated, and so leaves a visible hole in `energy_covered_s`, when either end lacks
/// power, when the two samples come from different nvidia-smi children (a restart gap), or when
/// they are further apart than the `max_gap` set with [`StepAggregator::with_max_gap`].
#[derive(Debug)]
pub struct StepAggregator {
    start: Instant,
    window_s: f64,
    max_gap_s: Option<f64>,
    gpus: BTreeMap<u32, GpuAccumulator>,
}

impl StepAggregator {
    /// A window from `start` to `end` (an `end` before `start` gives an empty window).
    #[must_use]
    pub fn new(start: Instant, end: Instant) -> Self {
        Self {
            start,
            window_s: end.saturating_duration_since(start).as_secs_f64(),
            max_gap_s: None,
            gpus: BTreeMap::new(),
        }
    }

    /// Do not integrate power across two samples further apart than `max_gap` (suggested:
    /// three poll intervals). Without it only restarts and missing power break the integral.
    #[must_use]
    pub fn with_max_gap(mut self, max_gap: Duration) -> Self {
        self.max_gap_s = Some(max_gap.as_secs_f64());
        self
    }

    /// Adds one sample.
    pub fn push(&mut self, sample: &GpuSample) {
        let window_s = self.window_s;
        let max_gap_s = self.max_gap_s;
        let x_s = signed_secs(self.start, sample.at);
        let acc = self.gpus.entry(sample.reading.gpu).or_default();
        if acc.closed {
            return;
        }
        let r = &sample.reading;
        let cur = PowerPoint {
            x_s,
            power_w: r.power_w,
            child_run: sample.child_run,
        };
        if let Some(prev) = acc.prev
            && let Some((energy_j, covered_s)) = segment_energy(prev, cur, window_s, max_gap_s)
        {
            acc.energy_j += energy_j;
            acc.covered_s += covered_s;
        }
        acc.prev = Some(cur);
        if x_s > window_s {
            acc.closed = true;
            return;
        }
        if x_s < 0.0 {
            return;
        }
        acc.samples += 1;
        if r.uuid.is_some() {
            acc.uuid.clone_from(&r.uuid);
        }
        if r.name.is_some() {
            acc.name.clone_from(&r.name);
        }
        acc.util_gpu.add(r.util_gpu_pct);
        acc.util_mem.add(r.util_mem_pct);
        acc.mem_used.add(r.mem_used_mib);
        if r.mem_total_mib.is_some() {
            acc.mem_total_mib = r.mem_total_mib;
        }
        acc.power.add(r.power_w);
        acc.temp.add(r.temp_c);
        acc.sm_clock.add(r.sm_clock_mhz);
    }

    /// The statistics so far, one entry per GPU seen (also GPUs seen only outside the window,
    /// with `samples: 0`), in index order.
    #[must_use]
    pub fn finish(&self) -> Vec<GpuStepStats> {
        self.gpus
            .iter()
            .map(|(&gpu, a)| GpuStepStats {
                gpu,
                uuid: a.uuid.clone(),
                name: a.name.clone(),
                samples: a.samples,
                util_gpu_mean_pct: a.util_gpu.mean(),
                util_gpu_max_pct: a.util_gpu.max,
                util_mem_mean_pct: a.util_mem.mean(),
                mem_used_max_mib: a.mem_used.max,
                mem_total_mib: a.mem_total_mib,
                power_mean_w: a.power.mean(),
                power_max_w: a.power.max,
                energy_j: (a.covered_s > 0.0).then_some(a.energy_j),
                energy_covered_s: a.covered_s,
                window_s: self.window_s,
                temp_max_c: a.temp.max,
                sm_clock_mean_mhz: a.sm_clock.mean(),
            })
            .collect()
    }
}

/// Energy (J) and covered seconds of the segment `prev → cur` clipped to `[0, window_s]`.
fn segment_energy(
    prev: PowerPoint,
    cur: PowerPoint,
    window_s: f64,
    max_gap_s: Option<f64>,
) -> Option<(f64, f64)> {
    let (p0, p1) = (prev.power_w?, cur.power_w?);
    let dt = cur.x_s - prev.x_s;
    if prev.child_run != cur.child_run || dt <= 0.0 || max_gap_s.is_some_and(|g| dt > g) {
        return None;
    }
    let a = prev.x_s.max(0.0);
    let b = cur.x_s.min(window_s);
    if b <= a {
        return None;
    }
    let at = |x: f64| p0 + (p1 - p0) * (x - prev.x_s) / dt;
    Some(((at(a) + at(b)) / 2.0 * (b - a), b - a))
}

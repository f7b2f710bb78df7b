//! Per step: the shards' rows folded by the engine's own rule as they are streamed, their
//! histograms added, and what only a process could observe (in flight, client health,
//! server, GPUs) combined.

use std::time::Duration;

use hdrhistogram::Histogram;
use loadtest_run::{
    ClientHealth, ClientVerdict, InflightStats, RequestRow, StepSummary, StoredHistogram,
};

use super::MergeError;
use super::inputs::ShardRun;
use crate::recorder::{MeasureWindows, StepAccumulator, fold};
use crate::stats::{new_us_histogram, restore_histogram_us};
use crate::summarize::{StepParts, build_step_summary, step_histograms};

/// Shards' window edges (compared as wall-clock instants) further apart than this get a
/// warning: their steps did not cover the same time.
pub const EDGE_TOLERANCE_S: f64 = 0.25;

/// The measure windows a shard recorded in its step_summary.json, on its own clock.
struct RecordedWindows(Vec<(usize, Duration, Duration)>);

impl RecordedWindows {
    fn of(shard: &ShardRun) -> Self {
        let at = |s: f64| Duration::try_from_secs_f64(s.max(0.0)).unwrap_or_default();
        RecordedWindows(
            shard
                .summary
                .steps
                .iter()
                .map(|s| (s.step, at(s.window_start_s), at(s.window_end_s)))
                .collect(),
        )
    }
}

impl MeasureWindows for RecordedWindows {
    fn measure_step_at(&self, at: Duration) -> Option<usize> {
        self.0
            .iter()
            .find(|(_, start, end)| at >= *start && at <= *end)
            .map(|(step, _, _)| *step)
    }
}

/// The merged steps, their histograms as stored, and the warnings of the merge.
pub(crate) struct MergedSteps {
    pub summaries: Vec<StepSummary>,
    pub histograms: Vec<loadtest_run::StepHistograms>,
    pub warnings: Vec<String>,
}

/// Which shard's telemetry the merged steps take.
pub(crate) struct Sources {
    /// Index into the shards of the one whose server blocks are taken.
    pub server: Option<usize>,
    /// Index into the shards of the one whose GPU blocks are taken.
    pub gpu: Option<usize>,
    /// Every shard is there.
    pub complete: bool,
}

/// One step's pooled histograms: inter-token gaps, and (rate mode) dispatch lateness.
#[derive(Default)]
struct PooledHistograms {
    itl: Option<Histogram<u64>>,
    lag: Option<Histogram<u64>>,
}

/// The merge of the steps of `shards` (in index order), in three moves: [`prepare`](Self::prepare)
/// adds the shards' histograms (refusing a missing or foreign one before anything is written),
/// [`fold`](Self::fold) takes every row of every shard once, as the merge streams them, into
/// the engine's accumulators, and [`finish`](Self::finish) builds the steps' summaries. What it
/// holds is the engine's per-step accumulators (counts, and the values of the exact
/// percentiles: 8 bytes per value) and the histograms, never a row.
pub(crate) struct StepsMerge<'a> {
    shards: &'a [ShardRun],
    /// The highest step any shard ran; `None` when none ran one.
    last_step: Option<usize>,
    /// One per step of the run.
    accs: Vec<StepAccumulator>,
    /// Per shard (position in `shards`): its recorded measure windows.
    windows: Vec<RecordedWindows>,
    /// Per step, `0..=last_step`.
    histograms: Vec<PooledHistograms>,
    counted: bool,
}

impl<'a> StepsMerge<'a> {
    /// Adds the shards' histograms and readies the accumulators.
    pub fn prepare(shards: &'a [ShardRun]) -> Result<Self, MergeError> {
        let Some(reference) = shards.first() else {
            return Err(MergeError::NoInputs);
        };
        let settings = &reference.facts.settings;
        let counted = settings
            .token_counting
            .as_ref()
            .is_some_and(|t| t.method == "tokenizer");
        let last_step = shards
            .iter()
            .flat_map(|s| s.summary.steps.iter().map(|st| st.step))
            .max();
        let n_steps = last_step.map_or(0, |last| settings.steps.len().max(last + 1));
        let mut accs: Vec<StepAccumulator> =
            (0..n_steps).map(|_| StepAccumulator::default()).collect();
        for shard in shards {
            for step in &shard.summary.steps {
                if let Some(acc) = accs.get_mut(step.step) {
                    acc.rows_not_written += step.rows_not_written;
                }
            }
        }
        let rate_mode = settings.load_mode == loadtest_run::LoadMode::Rate;
        let mut histograms = Vec::new();
        for index in last_step.map_or(0..0, |last| 0..last + 1) {
            let parts = parts_of(shards, index);
            let itl = add_histograms(
                shards,
                &parts,
                |h| h.itl_us.as_ref(),
                |s| s.itl_s.is_some(),
                "itl_us",
            )?;
            let lag = if rate_mode {
                add_histograms(
                    shards,
                    &parts,
                    |h| h.dispatch_lag_us.as_ref(),
                    |s| s.dispatch_lag_s.is_some(),
                    "dispatch_lag_us",
                )?
            } else {
                None
            };
            histograms.push(PooledHistograms { itl, lag });
        }
        Ok(StepsMerge {
            shards,
            last_step,
            accs,
            windows: shards.iter().map(RecordedWindows::of).collect(),
            histograms,
            counted,
        })
    }

    /// Folds one row of the shard at `pos` (its position in the shards) into the steps, by
    /// the engine's own rule, placed by that shard's recorded windows.
    pub fn fold(&mut self, pos: usize, row: &RequestRow) {
        let (Some(windows), Some(reference)) = (self.windows.get(pos), self.shards.first()) else {
            return;
        };
        let slo = reference.facts.settings.slo.as_ref();
        fold(&mut self.accs, windows, row, slo, self.counted);
    }

    /// The merged steps, from the rows folded.
    pub fn finish(self, sources: &Sources) -> MergedSteps {
        let shards = self.shards;
        let mut out = MergedSteps {
            summaries: Vec::new(),
            histograms: Vec::new(),
            warnings: Vec::new(),
        };
        let (Some(reference), Some(last_step)) = (shards.first(), self.last_step) else {
            return out;
        };
        let settings = &reference.facts.settings;
        let mut worst_edge: Vec<(f64, usize)> = vec![(0.0, 0); shards.len()];
        let steps = self.accs.iter().zip(&self.histograms);
        for (index, (acc, pooled)) in steps.enumerate().take(last_step + 1) {
            // (position in `shards`, the shard's summary of this step)
            let parts = parts_of(shards, index);
            let Some(&(ref_pos, ref_step)) = parts.first() else {
                continue;
            };
            let all_shards = parts.len() == shards.len();
            if !all_shards {
                let ran: Vec<String> = parts
                    .iter()
                    .map(|(i, _)| shards[*i].index().to_string())
                    .collect();
                out.warnings.push(format!(
                    "step {index}: only shard(s) {} ran it; the merged step holds their requests only",
                    ran.join(", ")
                ));
            }
            let load = match settings.steps.get(index) {
                Some(&level) if all_shards && sources.complete => level,
                _ => parts.iter().map(|(_, s)| s.load).sum(),
            };
            let (client, client_pos) = worst_client(&parts);
            if !client.verdict.is_ok() {
                out.warnings.push(format!(
                    "step {index} (load {load}): shard {} was {}: the merged step's client verdict is that shard's (one shard's untrustworthy timings taint the step)",
                    shards[client_pos].index(),
                    client.verdict.label()
                ));
            }
            let from = |pos: Option<usize>| {
                pos.and_then(|p| parts.iter().find(|(i, _)| *i == p))
                    .map(|(_, s)| *s)
            };
            let server = from(sources.server).and_then(|s| s.server.clone());
            let gpu = from(sources.gpu).map(|s| s.gpu.clone()).unwrap_or_default();
            let unfinished = parts
                .iter()
                .filter_map(|(_, s)| s.unfinished_at_window_end)
                .reduce(|a, b| a + b);
            // A count step (`--num-prompts`) ends on each shard when its share has finished,
            // and the next one starts then: only the first step's start is common. Its merged
            // window is the union of the shards' (as wall-clock instants, on the reference
            // shard's clock), so every shard's completions fall inside it.
            let counted = settings.num_prompts.is_some();
            let (window_start_s, window_end_s) = if counted {
                union_window(shards, ref_pos, &parts)
            } else {
                (ref_step.window_start_s, ref_step.window_end_s)
            };
            for &(pos, step) in &parts[1..] {
                if counted && index > 0 {
                    continue;
                }
                let edge = edge_difference_s(&shards[ref_pos], ref_step, &shards[pos], step)
                    .map(|(start, end)| if counted { start } else { start.max(end) });
                if let Some(d) = edge
                    && d > worst_edge[pos].0
                {
                    worst_edge[pos] = (d, index);
                }
            }
            let (itl, lag) = (pooled.itl.as_ref(), pooled.lag.as_ref());
            let summary = build_step_summary(
                settings,
                StepParts {
                    index,
                    load,
                    window_start_s,
                    window_end_s,
                    window_s: if counted {
                        (window_end_s - window_start_s).max(0.0)
                    } else {
                        ref_step.window_s
                    },
                    partial: parts.iter().any(|(_, s)| s.partial),
                    acc,
                    itl,
                    dispatch_lag: lag,
                    inflight: sum_inflight(&parts),
                    client,
                    server,
                    gpu,
                    unfinished_at_window_end: unfinished,
                    unsent_arrivals: parts.iter().map(|(_, s)| s.unsent_arrivals).sum(),
                },
            );
            out.histograms.push(step_histograms(index, itl, lag));
            out.summaries.push(summary);
        }
        for (pos, (d, step)) in worst_edge.iter().enumerate() {
            if *d > EDGE_TOLERANCE_S {
                out.warnings.push(format!(
                    "shard {}'s step edges differ from shard {}'s by up to {d:.3} s (step {step}; tolerance {EDGE_TOLERANCE_S} s): the shards did not start together (use --start-at) or their clocks disagree (NTP); the merged windows are shard {}'s",
                    shards[pos].index(),
                    reference.index(),
                    reference.index()
                ));
            }
        }
        out
    }
}

/// The shards that ran step `index`: (position in `shards`, the shard's summary of it).
fn parts_of(shards: &[ShardRun], index: usize) -> Vec<(usize, &StepSummary)> {
    shards
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((i, s.summary.steps.iter().find(|st| st.step == index)?)))
        .collect()
}

/// The differences, seconds, between two shards' window starts and ends as wall-clock
/// instants (the end difference is 0 when either window was cut short).
fn edge_difference_s(
    a: &ShardRun,
    sa: &StepSummary,
    b: &ShardRun,
    sb: &StepSummary,
) -> Option<(f64, f64)> {
    let (ta, tb) = (a.run_start_unix_s?, b.run_start_unix_s?);
    let start = ((ta + sa.window_start_s) - (tb + sb.window_start_s)).abs();
    let end = ((ta + sa.window_end_s) - (tb + sb.window_end_s)).abs();
    Some((start, if sa.partial || sb.partial { 0.0 } else { end }))
}

/// The union of the shards' windows of one step, on the reference shard's clock: from the
/// earliest start to the latest end as wall-clock instants. A shard without a known run
/// start keeps its own edges (as if its clock were the reference's).
fn union_window(
    shards: &[ShardRun],
    ref_pos: usize,
    parts: &[(usize, &StepSummary)],
) -> (f64, f64) {
    let reference = shards[ref_pos].run_start_unix_s;
    let on_reference_clock = |pos: usize, at_s: f64| match (shards[pos].run_start_unix_s, reference)
    {
        (Some(own), Some(reference)) => at_s + own - reference,
        _ => at_s,
    };
    let start = parts
        .iter()
        .map(|&(pos, s)| on_reference_clock(pos, s.window_start_s))
        .fold(f64::INFINITY, f64::min);
    let end = parts
        .iter()
        .map(|&(pos, s)| on_reference_clock(pos, s.window_end_s))
        .fold(f64::NEG_INFINITY, f64::max);
    (start, end.max(start))
}

/// The sum of the shards' histograms of one step (`None` when no shard recorded any value).
fn add_histograms(
    shards: &[ShardRun],
    parts: &[(usize, &StepSummary)],
    pick: impl Fn(&loadtest_run::StepHistograms) -> Option<&StoredHistogram>,
    has_values: impl Fn(&StepSummary) -> bool,
    name: &'static str,
) -> Result<Option<Histogram<u64>>, MergeError> {
    let mut merged: Option<Histogram<u64>> = None;
    for &(pos, step) in parts {
        let shard = &shards[pos];
        let stored = shard.histograms.step(step.step).and_then(&pick);
        let Some(stored) = stored else {
            if has_values(step) {
                return Err(MergeError::MissingHistogram {
                    dir: shard.dir.clone(),
                    step: step.step,
                    name,
                });
            }
            continue;
        };
        let hist = restore_histogram_us(stored).map_err(|source| MergeError::BadHistogram {
            dir: shard.dir.clone(),
            step: step.step,
            name,
            source,
        })?;
        let total = merged.get_or_insert_with(new_us_histogram);
        total.add(&hist).map_err(|e| MergeError::Internal {
            message: format!("histograms of one layout did not add: {e:?}"),
        })?;
    }
    Ok(merged.filter(|h| !h.is_empty()))
}

/// The worst client block of the shards (client-bound over host-contended over ok; the
/// lowest shard among equals) and the position of its shard.
fn worst_client(parts: &[(usize, &StepSummary)]) -> (ClientHealth, usize) {
    let rank = |v: ClientVerdict| match v {
        ClientVerdict::ClientBound => 2,
        ClientVerdict::HostContended => 1,
        ClientVerdict::Ok => 0,
    };
    let mut worst = parts[0];
    for &part in &parts[1..] {
        if rank(part.1.client.verdict) > rank(worst.1.client.verdict) {
            worst = part;
        }
    }
    (worst.1.client, worst.0)
}

/// In flight across the shards: their sampled means, minimums and maximums added (each shard
/// samples every 100 ms on its own clock, so the sums of min and max bound the whole's).
fn sum_inflight(parts: &[(usize, &StepSummary)]) -> Option<InflightStats> {
    parts
        .iter()
        .filter_map(|(_, s)| s.inflight)
        .reduce(|a, b| InflightStats {
            samples: a.samples.min(b.samples),
            mean: a.mean + b.mean,
            min: a.min + b.min,
            max: a.max + b.max,
        })
}

//! The per-request values behind a comparison: read from `requests.jsonl` one line at a
//! time (only a few numbers per request are kept), grouped by step.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use loadtest_run::{Phase, RequestRow, Status, files};

use super::CompareError;

/// At most this many values of one quantity are kept per step; a larger step keeps every
/// k-th request (k = ⌈n / cap⌉, in file order), so memory and bootstrap time stay bounded.
pub(crate) const MAX_SAMPLES_PER_STEP: usize = 50_000;

/// One step's per-request values: the measure-phase requests that ended `ok`, each list in
/// request start order.
#[derive(Debug, Clone, Default)]
pub(crate) struct StepSamples {
    /// TTFT, seconds.
    pub(crate) ttft: Vec<f64>,
    /// TPOT, seconds (requests with more than one token).
    pub(crate) tpot: Vec<f64>,
    /// Each request's median gap between token events, seconds.
    pub(crate) gap_p50: Vec<f64>,
    /// e2e, seconds.
    pub(crate) e2e: Vec<f64>,
    /// Mean of completion_tokens² (for the variance of output tok/s).
    pub(crate) completion_sq_mean: Option<f64>,
    /// Measure-phase `ok` requests seen (before any thinning).
    pub(crate) ok: u64,
    sq_sum: f64,
    sq_n: u64,
}

/// Every step's samples of one run, by step index.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunSamples {
    pub(crate) steps: BTreeMap<usize, StepSamples>,
    /// `requests.jsonl` was missing: no interval can be computed.
    pub(crate) missing: bool,
}

impl RunSamples {
    /// Reads `dir/requests.jsonl`. A missing file gives empty samples (`missing`); a line
    /// that does not parse is an error naming it.
    pub(crate) fn read(dir: &Path) -> Result<Self, CompareError> {
        let path = dir.join(files::REQUESTS);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(RunSamples {
                    steps: BTreeMap::new(),
                    missing: true,
                });
            }
            Err(source) => {
                return Err(CompareError::Requests {
                    path,
                    source: source.into(),
                });
            }
        };
        let io = |path: &PathBuf, e: std::io::Error| CompareError::Requests {
            path: path.clone(),
            source: e.into(),
        };
        // First pass counts the ok measure rows per step (for the thinning stride); the file
        // is read twice rather than held.
        let mut counts: BTreeMap<usize, u64> = BTreeMap::new();
        for_each_row(std::io::BufReader::new(file), &path, |row| {
            if let Some(step) = measured_ok(row) {
                *counts.entry(step).or_default() += 1;
            }
        })?;
        let file = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
        let mut steps: BTreeMap<usize, StepSamples> = BTreeMap::new();
        let mut seen: BTreeMap<usize, u64> = BTreeMap::new();
        // (start_s, value) per quantity, sorted by start at the end (rows are written as
        // requests finish).
        let mut timed: BTreeMap<usize, [Vec<(f64, f64)>; 4]> = BTreeMap::new();
        for_each_row(std::io::BufReader::new(file), &path, |row| {
            let Some(step) = measured_ok(row) else { return };
            let n = counts.get(&step).copied().unwrap_or(1);
            let stride = n.div_ceil(MAX_SAMPLES_PER_STEP as u64).max(1);
            let index = seen.entry(step).or_default();
            let keep = (*index).is_multiple_of(stride);
            *index += 1;
            let s = steps.entry(step).or_default();
            s.ok += 1;
            if let Some(c) = row.completion_tokens {
                s.sq_sum += (c as f64) * (c as f64);
                s.sq_n += 1;
            }
            if !keep {
                return;
            }
            let at = row.start_s;
            let push = |v: &mut Vec<(f64, f64)>, x: Option<f64>| {
                if let Some(x) = x.filter(|x| x.is_finite()) {
                    v.push((at, x));
                }
            };
            let t = timed.entry(step).or_default();
            push(&mut t[0], row.ttft_s);
            push(&mut t[1], row.tpot_s);
            push(&mut t[2], row.gap_p50_s);
            push(&mut t[3], row.e2e_s);
        })?;
        for (step, s) in steps.iter_mut() {
            s.completion_sq_mean = (s.sq_n > 0).then(|| s.sq_sum / s.sq_n as f64);
            if let Some(lists) = timed.remove(step) {
                let [ttft, tpot, gap, e2e] = lists.map(in_start_order);
                (s.ttft, s.tpot, s.gap_p50, s.e2e) = (ttft, tpot, gap, e2e);
            }
        }
        Ok(RunSamples {
            steps,
            missing: false,
        })
    }
}

fn in_start_order(mut v: Vec<(f64, f64)>) -> Vec<f64> {
    v.sort_by(|x, y| x.0.total_cmp(&y.0));
    v.into_iter().map(|(_, x)| x).collect()
}

/// The step of a measure-phase `ok` row.
fn measured_ok(row: &RequestRow) -> Option<usize> {
    (row.status == Status::Ok && row.phase == Some(Phase::Measure))
        .then_some(row.step)
        .flatten()
        .map(|s| s as usize)
}

fn for_each_row(
    reader: impl BufRead,
    path: &Path,
    mut f: impl FnMut(&RequestRow),
) -> Result<(), CompareError> {
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| CompareError::Requests {
            path: path.to_owned(),
            source: e.into(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let row: RequestRow = serde_json::from_str(&line).map_err(|e| CompareError::Requests {
            path: path.to_owned(),
            source: format!("line {}: {e}", index + 1).into(),
        })?;
        f(&row);
    }
    Ok(())
}

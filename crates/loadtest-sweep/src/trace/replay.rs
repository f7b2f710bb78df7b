//! Loading a trace (one streaming pass: checks, hash, step boundaries) and replaying it (a
//! second streaming pass, one row ahead of the schedule).

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use loadtest_run::{Shard, TraceFacts};

use super::parse::{RowReader, TraceRow};
use super::{MAX_TRACE_STEPS, TraceError, TraceOptions, TraceSpec};
use crate::dataset::read::HashingReader;
use crate::timeline::Timeline;

/// A loaded trace: its facts and where its steps begin, ready to replay.
#[derive(Debug, Clone)]
pub struct TraceReplay {
    spec: TraceSpec,
    options: TraceOptions,
    facts: TraceFacts,
    /// `starts[k]`: the index of step `k`'s first row; rows before `starts[0]` are the
    /// warmup's; `starts[steps]` is the number of rows replayed.
    starts: Vec<u64>,
}

/// Reads the trace of `spec` once (a stream: memory is bounded by the step count), checking
/// every row, and slices it into the warmup and steps of `options`.
///
/// # Errors
///
/// [`TraceError`]: the file cannot be read, a row is broken (its line named), no row falls
/// after the warmup, or the trace needs more than [`MAX_TRACE_STEPS`] steps (cap it with
/// [`TraceOptions::max_steps`]).
pub fn load_trace(spec: &TraceSpec, options: TraceOptions) -> Result<TraceReplay, TraceError> {
    let plan = |reason: String| TraceError::Plan {
        path: spec.path.clone(),
        reason,
    };
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(TraceError::Speed(options.speed));
    }
    if options.step_duration.is_zero() {
        return Err(plan("the step duration is 0".to_owned()));
    }
    let file = open(&spec.path)?;
    let mut rows = RowReader::new(
        BufReader::with_capacity(256 * 1024, HashingReader::new(file)),
        spec.format,
        &spec.path,
    )?;
    let asked = options.max_steps.unwrap_or(u64::MAX);
    let cap = asked.min(MAX_TRACE_STEPS);
    // counts[0]: warmup rows; counts[k + 1]: step k's.
    let mut counts: Vec<u64> = vec![0];
    let (mut first, mut last) = (None, 0.0);
    while let Some(row) = rows.next_row()? {
        let first_s = *first.get_or_insert(row.timestamp_s);
        let slot = slot(offset(row.timestamp_s, first_s, options.speed), &options);
        if slot > cap {
            // Past --trace-max-steps: not replayed; past the hard limit: refused.
            if slot <= asked {
                return Err(plan(format!(
                    "it lasts more than {MAX_TRACE_STEPS} steps of {} s: lengthen --step-duration-s, raise --trace-speed or cap it with --trace-max-steps (at most {MAX_TRACE_STEPS})",
                    options.step_duration.as_secs_f64()
                )));
            }
            continue;
        }
        let at = usize::try_from(slot).unwrap_or(usize::MAX);
        if counts.len() <= at {
            counts.resize(at + 1, 0);
        }
        if let Some(n) = counts.get_mut(at) {
            *n += 1;
        }
        last = row.timestamp_s;
    }
    let (read, skipped) = (rows.rows, rows.skipped);
    let (bytes, sha256) = rows.into_inner().into_inner().finish();
    let Some(first) = first else {
        return Err(plan(format!(
            "no row to replay ({read} rows, {skipped} without output)"
        )));
    };
    if counts.len() < 2 {
        return Err(plan(format!(
            "every row falls in the {} s warmup (at speed {}): shorten --warmup-s",
            options.warmup.as_secs_f64(),
            options.speed
        )));
    }
    let mut starts = Vec::with_capacity(counts.len());
    let mut total = 0u64;
    for n in &counts {
        total += n;
        starts.push(total);
    }
    let facts = TraceFacts {
        format: spec.format.as_str().to_owned(),
        path: spec.path.clone(),
        bytes,
        sha256,
        rows: read,
        rows_skipped: skipped,
        rows_replayed: total,
        speed: options.speed,
        first_timestamp_s: first,
        span_s: last - first,
        max_steps: options.max_steps,
    };
    Ok(TraceReplay {
        spec: spec.clone(),
        options,
        facts,
        starts,
    })
}

fn open(path: &Path) -> Result<File, TraceError> {
    File::open(path).map_err(|source| TraceError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A row's offset from the run's start: its trace time since the first row, over `speed`.
fn offset(timestamp_s: f64, first_s: f64, speed: f64) -> Duration {
    Duration::try_from_secs_f64((timestamp_s - first_s) / speed).unwrap_or(Duration::MAX)
}

/// 0 for the warmup, `k + 1` for step `k`.
fn slot(offset: Duration, options: &TraceOptions) -> u64 {
    match offset.checked_sub(options.warmup) {
        None => 0,
        Some(into) => {
            let step = options.step_duration.as_nanos().max(1);
            u64::try_from(into.as_nanos() / step)
                .unwrap_or(u64::MAX - 1)
                .saturating_add(1)
        }
    }
}

impl TraceReplay {
    /// The trace's facts, for config.json.
    pub fn facts(&self) -> &TraceFacts {
        &self.facts
    }

    /// The options it was sliced with.
    pub fn options(&self) -> TraceOptions {
        self.options
    }

    /// The file and its format.
    pub fn spec(&self) -> &TraceSpec {
        &self.spec
    }

    /// Number of steps.
    pub fn step_count(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Rows replayed (all shards, warmup included): the run's requests.
    pub fn rows_replayed(&self) -> u64 {
        self.facts.rows_replayed
    }

    /// Each step's requests for `shard` (the whole run: [`Shard::SINGLE`]).
    pub fn step_counts(&self, shard: Shard) -> Vec<u64> {
        let own = |x: u64| {
            let (i, n) = (u64::from(shard.index()), u64::from(shard.count()));
            if x > i { (x - i - 1) / n + 1 } else { 0 }
        };
        self.starts
            .windows(2)
            .map(|w| own(w[1]) - own(w[0]))
            .collect()
    }

    /// Each step's offered rate for `shard`: its arrivals over the step's seconds.
    pub fn loads(&self, shard: Shard) -> Vec<f64> {
        let secs = self.options.step_duration.as_secs_f64();
        self.step_counts(shard)
            .into_iter()
            .map(|n| n as f64 / secs)
            .collect()
    }

    /// The run's timeline: the warmup, then one measure window per slice, no ramp, no
    /// cooldown; each step's load is `shard`'s offered rate.
    pub fn timeline(&self, shard: Shard) -> Timeline {
        Timeline::new(
            &self.loads(shard),
            self.options.warmup,
            Duration::ZERO,
            self.options.step_duration,
            Duration::ZERO,
        )
    }
}

/// The rows of one shard in order, with their offsets and run-wide request numbers: a second
/// streaming read of the file. A row that fails to read (the file changed since it was
/// loaded) ends the replay with an error log.
pub(crate) struct TraceArrivals {
    rows: RowReader<BufReader<File>>,
    shard: Shard,
    next_index: u64,
    total: u64,
    first_s: Option<f64>,
    speed: f64,
}

impl TraceArrivals {
    /// Opens `trace`'s file again for `shard`.
    pub(crate) fn open(trace: &TraceReplay, shard: Shard) -> Result<Self, TraceError> {
        let file = open(&trace.spec.path)?;
        Ok(TraceArrivals {
            rows: RowReader::new(BufReader::new(file), trace.spec.format, &trace.spec.path)?,
            shard,
            next_index: 0,
            total: trace.rows_replayed(),
            first_s: None,
            speed: trace.options.speed,
        })
    }
}

impl Iterator for TraceArrivals {
    /// The offset from the run's start, the run-wide request number, the row.
    type Item = (Duration, u64, TraceRow);

    fn next(&mut self) -> Option<Self::Item> {
        while self.next_index < self.total {
            let row = match self.rows.next_row() {
                Ok(Some(row)) => row,
                Ok(None) => {
                    tracing::error!(
                        "the trace ended after {} of its {} rows (was it changed during the run?)",
                        self.next_index,
                        self.total
                    );
                    return None;
                }
                Err(err) => {
                    tracing::error!(%err, "the trace replay stopped");
                    return None;
                }
            };
            let index = self.next_index;
            self.next_index += 1;
            let first_s = *self.first_s.get_or_insert(row.timestamp_s);
            if index % u64::from(self.shard.count()) != u64::from(self.shard.index()) {
                continue;
            }
            return Some((offset(row.timestamp_s, first_s, self.speed), index, row));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::trace::TraceFormat;

    fn write(dir: &Path, name: &str, text: &str) -> TraceSpec {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        format!("{}", path.display()).parse().unwrap()
    }

    fn mooncake(times_ms: &[u64]) -> String {
        times_ms
            .iter()
            .map(|t| {
                format!("{{\"timestamp\": {t}, \"input_length\": 10, \"output_length\": 2}}\n")
            })
            .collect()
    }

    fn options(warmup_s: f64, step_s: f64, speed: f64) -> TraceOptions {
        TraceOptions {
            speed,
            warmup: Duration::from_secs_f64(warmup_s),
            step_duration: Duration::from_secs_f64(step_s),
            max_steps: None,
        }
    }

    #[test]
    fn slices_at_speed() {
        let dir = tempfile::tempdir().unwrap();
        // Offsets from the first row (1000 ms): 0, 0.5, 1, 2.5, 4.9, 5 s, 9 s; at speed 2:
        // 0, 0.25, 0.5, 1.25, 2.45, 2.5, 4.5 s. Warmup 0.5 s, steps of 1 s.
        let spec = write(
            dir.path(),
            "t.jsonl",
            &mooncake(&[1000, 1500, 2000, 3500, 5900, 6000, 10_000]),
        );
        let trace = load_trace(&spec, options(0.5, 1.0, 2.0)).unwrap();
        // Warmup: 0 and 0.25 s; then [0.5, 1.5): 0.5, 1.25; [1.5, 2.5): 2.45; [2.5, 3.5): 2.5;
        // [3.5, 4.5): none; [4.5, 5.5): 4.5.
        assert_eq!(trace.step_counts(Shard::SINGLE), vec![2, 1, 1, 0, 1]);
        assert_eq!(trace.rows_replayed(), 7);
        let facts = trace.facts();
        assert_eq!(
            (facts.rows, facts.first_timestamp_s, facts.span_s),
            (7, 1.0, 9.0)
        );
        assert_eq!(facts.sha256.len(), 64);
        let timeline = trace.timeline(Shard::SINGLE);
        assert_eq!(timeline.steps().len(), 5);
        assert_eq!(timeline.end(), Duration::from_millis(5500));
        let all: Vec<(Duration, u64)> = TraceArrivals::open(&trace, Shard::SINGLE)
            .unwrap()
            .map(|(at, i, _)| (at, i))
            .collect();
        assert_eq!(all.len(), 7);
        assert_eq!(all[3], (Duration::from_millis(1250), 3));
        // Every arrival's step per the timeline is the slice it was counted in.
        let mut per_step = vec![0u64; 5];
        for (at, _) in &all {
            let pos = timeline.at(*at);
            if pos.phase == loadtest_run::Phase::Measure {
                per_step[pos.step] += 1;
            }
        }
        assert_eq!(per_step, trace.step_counts(Shard::SINGLE));
        // A cap keeps the first steps.
        let mut capped = options(0.5, 1.0, 2.0);
        capped.max_steps = Some(2);
        let trace = load_trace(&spec, capped).unwrap();
        assert_eq!(trace.step_counts(Shard::SINGLE), vec![2, 1]);
        assert_eq!(trace.rows_replayed(), 5);
        assert_eq!(trace.facts().span_s, 4.9);
        assert_eq!(
            TraceArrivals::open(&trace, Shard::SINGLE).unwrap().count(),
            5
        );
    }

    #[test]
    fn plans_that_cannot_run_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let spec = write(dir.path(), "t.jsonl", &mooncake(&[0, 100, 200]));
        let err = load_trace(&spec, options(5.0, 1.0, 1.0)).unwrap_err();
        assert!(err.to_string().contains("warmup"), "{err}");
        let err = load_trace(&spec, options(0.0, 1.0, 0.0)).unwrap_err();
        assert!(matches!(err, TraceError::Speed(_)), "{err}");
        let long = write(dir.path(), "long.jsonl", &mooncake(&[0, 10_000_000_000]));
        let err = load_trace(&long, options(0.0, 1.0, 1.0)).unwrap_err();
        assert!(err.to_string().contains("--trace-max-steps"), "{err}");
        // A cap above the limit does not lift it; one below it cuts the trace.
        let mut over = options(0.0, 1.0, 1.0);
        over.max_steps = Some(u64::MAX);
        assert!(load_trace(&long, over).is_err());
        over.max_steps = Some(3);
        let trace = load_trace(&long, over).unwrap();
        assert_eq!((trace.step_count(), trace.rows_replayed()), (1, 1));
        let empty = write(
            dir.path(),
            "e.csv",
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n1,m,1,0,1,l\n",
        );
        assert_eq!(empty.format, TraceFormat::BurstGpt);
        let err = load_trace(&empty, options(0.0, 1.0, 1.0)).unwrap_err();
        assert!(err.to_string().contains("no row to replay"), "{err}");
        let missing = TraceSpec {
            format: TraceFormat::Mooncake,
            path: dir.path().join("nope.jsonl"),
        };
        assert!(matches!(
            load_trace(&missing, options(0.0, 1.0, 1.0)),
            Err(TraceError::Io { .. })
        ));
    }

    proptest::proptest! {
        /// The shards' rows are disjoint and together the whole trace, each at its own offset;
        /// their per-step counts add up to the single run's.
        #[test]
        fn shards_partition_the_trace(
            gaps in proptest::collection::vec(0u64..3000, 1..60),
            n in 1u32..7,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut t = 0;
            let times: Vec<u64> = gaps.iter().map(|g| { t += g; t }).collect();
            let spec = write(dir.path(), "t.jsonl", &mooncake(&times));
            let Ok(trace) = load_trace(&spec, options(0.0, 1.0, 1.0)) else {
                return Ok(());
            };
            let whole: Vec<(Duration, u64)> = TraceArrivals::open(&trace, Shard::SINGLE)
                .unwrap()
                .map(|(at, i, _)| (at, i))
                .collect();
            let mut union = Vec::new();
            let mut counts = vec![0u64; trace.step_count()];
            for i in 0..n {
                let shard = Shard::new(i, n).unwrap();
                for (at, index, _) in TraceArrivals::open(&trace, shard).unwrap() {
                    proptest::prop_assert_eq!(index % u64::from(n), u64::from(i));
                    union.push((at, index));
                }
                for (c, own) in counts.iter_mut().zip(trace.step_counts(shard)) {
                    *c += own;
                }
            }
            union.sort_by_key(|(_, index)| *index);
            proptest::prop_assert_eq!(union, whole);
            proptest::prop_assert_eq!(counts, trace.step_counts(Shard::SINGLE));
        }
    }
}

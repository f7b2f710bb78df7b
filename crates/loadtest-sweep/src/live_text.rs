//! What the live progress says, as text: the status line (step, phase, time left, counts,
//! a rolling TTFT p50, in flight) fitted to a width ([`status_line`]), and the line for a
//! step whose measure window ended ([`step_line`]). A front end reads the run's
//! [`LiveCounters`] through a [`LiveReader`] a few times a second and prints these; nothing
//! here prints or touches the request path.

use std::sync::atomic::Ordering;
use std::time::Duration;

use loadtest_run::Phase;

use crate::live::{LiveCounters, StepLive};
use crate::timeline::Timeline;

/// TTFT samples kept for the rolling median (at most one per read with new completions).
const RECENT: usize = 40;
/// Between fields in their wide and in their narrow form.
const WIDE_SEPARATOR: &str = " | ";
const NARROW_SEPARATOR: &str = "|";

/// The counters at one instant, as the status line shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LiveSnapshot {
    /// Requests in flight.
    pub inflight: usize,
    /// Requests finished `ok` so far.
    pub ok: u64,
    /// Requests finished otherwise so far.
    pub failed: u64,
    /// Median TTFT of the recent completions, in ms (`None` before the first).
    pub ttft_p50_ms: Option<f64>,
    /// `--num-prompts`: the count phase under way, (finished, requests in it).
    pub count: Option<(u64, u64)>,
}

/// Reads a run's [`LiveCounters`] for display, keeping the recent TTFT samples behind the
/// rolling median between reads.
#[derive(Debug, Default)]
pub struct LiveReader {
    recent: RecentTtft,
    last_ok: u64,
}

impl LiveReader {
    /// The counters now. The "last TTFT" counter is sampled once per read in which new
    /// requests completed, so the median follows the last ~10 s of completions at a few reads
    /// a second.
    pub fn read(&mut self, live: &LiveCounters) -> LiveSnapshot {
        let ok = live.ok.load(Ordering::Relaxed);
        if ok != self.last_ok {
            self.recent.push(live.last_ttft_us.load(Ordering::Relaxed));
            self.last_ok = ok;
        }
        LiveSnapshot {
            inflight: live.inflight(),
            ok,
            failed: live.failed.load(Ordering::Relaxed),
            ttft_p50_ms: self.recent.median_ms(),
            count: live.count_progress(),
        }
    }
}

/// A ring of recent TTFT samples: the "last TTFT" counter, read once per tick in which new
/// requests completed. Its median follows the TTFT of the last ~10 s of completions.
#[derive(Debug, Default)]
struct RecentTtft {
    samples: Vec<u64>,
    next: usize,
}

impl RecentTtft {
    fn push(&mut self, us: u64) {
        if us == 0 {
            return;
        }
        if self.samples.len() < RECENT {
            self.samples.push(us);
        } else {
            self.samples[self.next] = us;
        }
        self.next = (self.next + 1) % RECENT;
    }

    fn median_ms(&self) -> Option<f64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        Some(sorted[sorted.len() / 2] as f64 / 1e3)
    }
}

/// One field of the status line, in a wide and a narrow form.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    wide: String,
    narrow: String,
}

impl Field {
    fn new(wide: String, narrow: String) -> Self {
        Field { wide, narrow }
    }
}

/// The status line's fields for `elapsed` into the run, most important first:
///
/// 1. where the run is: step `i/n`, its load and the phase;
/// 2. the time left (or "draining");
/// 3. requests finished ok and with errors;
/// 4. the rolling TTFT p50;
/// 5. requests in flight.
fn status_fields(timeline: &Timeline, elapsed: Duration, snap: &LiveSnapshot) -> Vec<Field> {
    let ttft_ms = snap.ttft_p50_ms;
    let pos = timeline.at(elapsed);
    let (step, steps) = (pos.step + 1, timeline.steps().len());
    let load = timeline.steps().get(pos.step).map_or(0.0, |s| s.load);
    let phase = pos.phase.as_str();
    let left = timeline.end().saturating_sub(elapsed).as_secs();
    let (left_wide, left_narrow) = if pos.phase == Phase::Drain {
        ("draining".to_owned(), "drain".to_owned())
    } else if let Some((done, of)) = snap.count {
        (format!("{done}/{of} done"), format!("{done}/{of}"))
    } else if timeline.is_counted() {
        ("counting".to_owned(), "count".to_owned())
    } else {
        let left = format!("{}:{:02} left", left / 60, left % 60);
        (left.clone(), left)
    };
    let (ok, failed) = (snap.ok, snap.failed);
    let (ttft_wide, ttft_narrow) = match ttft_ms {
        Some(ms) => (format!("TTFT p50 {ms:.1} ms"), format!("TTFT {ms:.0}ms")),
        None => ("TTFT p50 –".to_owned(), "TTFT –".to_owned()),
    };
    let inflight = snap.inflight;
    vec![
        Field::new(
            format!("step {step}/{steps} load {load} {phase}"),
            format!("{step}/{steps} L{load} {phase}"),
        ),
        Field::new(left_wide, left_narrow),
        Field::new(
            format!("ok {ok}, errors {failed}"),
            format!("ok {ok} err {failed}"),
        ),
        Field::new(ttft_wide, ttft_narrow),
        Field::new(
            format!("in flight {inflight}"),
            format!("inflight {inflight}"),
        ),
    ]
}

/// Fits `fields` (most important first) into `width` characters. Every character used is
/// one terminal column wide, so characters are columns.
///
/// Tries the `k` most important fields for `k` from all of them down to one, dropping the
/// least important first: each `k` in the wide form (`step 2/3 load 4 measure | 0:09 left`),
/// then in the narrow one (`2/3 L4 measure|0:09 left`); the first that fits wins. So the
/// line keeps as many of the most important fields as the width allows. When not even the
/// first field's narrow form fits, it is cut, ending in "…".
fn fit(fields: &[Field], width: usize) -> String {
    for k in (1..=fields.len()).rev() {
        let wide = join(fields[..k].iter().map(|f| f.wide.as_str()), WIDE_SEPARATOR);
        if wide.chars().count() <= width {
            return wide;
        }
        let narrow = join(
            fields[..k].iter().map(|f| f.narrow.as_str()),
            NARROW_SEPARATOR,
        );
        if narrow.chars().count() <= width {
            return narrow;
        }
    }
    let first = fields.first().map_or("", |f| f.narrow.as_str());
    if first.chars().count() <= width {
        return first.to_owned();
    }
    match width {
        0 => String::new(),
        _ => first.chars().take(width - 1).chain(['…']).collect(),
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>, separator: &str) -> String {
    parts.collect::<Vec<_>>().join(separator)
}

/// The status line for `elapsed` into the run, at most `width` characters: as many of the
/// most important fields as fit, each in its wide form or else its narrow one, the first cut
/// with `…` when not even it fits. `usize::MAX` gives the full line.
pub fn status_line(
    timeline: &Timeline,
    elapsed: Duration,
    snap: &LiveSnapshot,
    width: usize,
) -> String {
    fit(&status_fields(timeline, elapsed, snap), width)
}

/// The line for a step whose measure window ended, `elapsed` into the run (printed where
/// there is no terminal to draw a bar on).
pub fn step_line(timeline: &Timeline, step: &StepLive, elapsed: Duration) -> String {
    let load = timeline.steps().get(step.index).map_or(0.0, |s| s.load);
    let inflight = step.inflight.map_or_else(
        || "–".to_owned(),
        |s| format!("mean {:.1}, max {}", s.mean, s.max),
    );
    format!(
        "[{:>6.1}s] step {}/{} (load {load}) measured{}: {} ok, {} errors finished in the window; in flight {inflight}; TTFT mean {}",
        elapsed.as_secs_f64(),
        step.index + 1,
        timeline.steps().len(),
        if step.cut_short {
            " (window cut short)"
        } else {
            ""
        },
        step.ok,
        step.failed,
        step.ttft_mean_ms
            .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1} ms")),
    )
}

#[cfg(test)]
mod tests {
    use loadtest_run::InflightStats;

    use super::*;

    fn timeline(loads: &[f64]) -> Timeline {
        Timeline::new(
            loads,
            Duration::from_secs(2),
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::ZERO,
        )
    }

    fn snap(inflight: usize, ok: u64, failed: u64, ttft_p50_ms: Option<f64>) -> LiveSnapshot {
        LiveSnapshot {
            inflight,
            ok,
            failed,
            ttft_p50_ms,
            count: None,
        }
    }

    /// How many fields a fitted line shows.
    fn shown(line: &str) -> usize {
        if line.is_empty() {
            0
        } else if line.contains(WIDE_SEPARATOR) {
            line.split(WIDE_SEPARATOR).count()
        } else {
            line.split(NARROW_SEPARATOR).count()
        }
    }

    fn typical() -> Vec<Field> {
        status_fields(
            &timeline(&[1.0, 4.0]),
            Duration::from_secs(13),
            &snap(4, 15, 1, Some(29.25)),
        )
    }

    fn large() -> Vec<Field> {
        let loads: Vec<f64> = (1..=20).map(|i| f64::from(i) * 64.0).collect();
        status_fields(
            &timeline(&loads),
            Duration::from_secs(100),
            &snap(1024, 1_234_567, 12_345, None),
        )
    }

    #[test]
    fn the_full_line_names_step_phase_time_counts_ttft_and_inflight() {
        let s = fit(&typical(), 200);
        assert_eq!(
            s,
            "step 2/2 load 4 measure | 0:09 left | ok 15, errors 1 | TTFT p50 29.2 ms | in flight 4"
        );
        let t = timeline(&[1.0, 4.0]);
        let drain = status_line(&t, Duration::from_secs(30), &snap(0, 1, 0, None), 200);
        assert_eq!(
            drain,
            "step 2/2 load 4 drain | draining | ok 1, errors 0 | TTFT p50 – | in flight 0"
        );
    }

    #[test]
    fn lines_fit_40_80_115_and_200_columns() {
        let typical = typical();
        assert_eq!(fit(&typical, 115), fit(&typical, 200));
        assert_eq!(
            fit(&typical, 80),
            "2/2 L4 measure|0:09 left|ok 15 err 1|TTFT 29ms|inflight 4"
        );
        assert_eq!(fit(&typical, 40), "2/2 L4 measure|0:09 left|ok 15 err 1");
        let large = large();
        assert_eq!(
            fit(&large, 200),
            "step 10/20 load 640 measure | 1:42 left | ok 1234567, errors 12345 | TTFT p50 – | in flight 1024"
        );
        assert_eq!(
            fit(&large, 115),
            "step 10/20 load 640 measure | 1:42 left | ok 1234567, errors 12345 | TTFT p50 – | in flight 1024"
        );
        assert_eq!(
            fit(&large, 80),
            "10/20 L640 measure|1:42 left|ok 1234567 err 12345|TTFT –|inflight 1024"
        );
        // Two wide fields fit where three narrow ones do not.
        assert_eq!(fit(&large, 40), "step 10/20 load 640 measure | 1:42 left");
    }

    #[test]
    fn lines_never_exceed_the_width_and_keep_the_most_important_fields() {
        for fields in [typical(), large()] {
            for width in 0..=200 {
                let line = fit(&fields, width);
                assert!(
                    line.chars().count() <= width,
                    "{width}: {line:?} is {} chars",
                    line.chars().count()
                );
                // The k most important fields are there whenever their narrow forms fit.
                for k in 1..=fields.len() {
                    let narrow = fields[..k]
                        .iter()
                        .map(|f| f.narrow.as_str())
                        .collect::<Vec<_>>()
                        .join(NARROW_SEPARATOR);
                    if narrow.chars().count() <= width {
                        assert!(shown(&line) >= k, "{width}: {line:?} lacks field {k}");
                    }
                }
                // In order of importance: the line starts with the first field.
                if width >= fields[0].narrow.chars().count() {
                    assert!(
                        line.starts_with(&fields[0].wide) || line.starts_with(&fields[0].narrow),
                        "{width}: {line:?}"
                    );
                }
                // Wider never shows fewer fields.
                if width > 0 {
                    assert!(shown(&line) >= shown(&fit(&fields, width - 1)), "{width}");
                }
            }
        }
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        // "–" and "…" are 3 bytes each but one column.
        let fields = vec![Field::new("TTFT p50 –".to_owned(), "TTFT –".to_owned())];
        assert_eq!(fit(&fields, 10), "TTFT p50 –");
        assert_eq!(fit(&fields, 9), "TTFT –");
        assert_eq!(fit(&fields, 5), "TTFT…");
        assert_eq!(fit(&fields, 1), "…");
        assert_eq!(fit(&fields, 0), "");
        assert_eq!(fit(&[], 10), "");
    }

    #[test]
    fn step_lines_report_the_step_s_own_figures() {
        let t = timeline(&[1.0, 2.5]);
        let step = StepLive {
            index: 1,
            ok: 40,
            failed: 2,
            ttft_mean_ms: Some(12.34),
            inflight: Some(InflightStats {
                samples: 10,
                mean: 2.04,
                min: 1,
                max: 3,
            }),
            cut_short: false,
        };
        assert_eq!(
            step_line(&t, &step, Duration::from_millis(22_500)),
            "[  22.5s] step 2/2 (load 2.5) measured: 40 ok, 2 errors finished in the window; in flight mean 2.0, max 3; TTFT mean 12.3 ms"
        );
        let cut = StepLive {
            index: 0,
            ok: 0,
            failed: 0,
            ttft_mean_ms: None,
            inflight: None,
            cut_short: true,
        };
        assert_eq!(
            step_line(&t, &cut, Duration::from_secs(3)),
            "[   3.0s] step 1/2 (load 1) measured (window cut short): 0 ok, 0 errors finished in the window; in flight –; TTFT mean –"
        );
    }

    #[test]
    fn rolling_median_keeps_recent_samples() {
        let mut r = RecentTtft::default();
        assert_eq!(r.median_ms(), None);
        r.push(0);
        assert_eq!(r.median_ms(), None);
        for us in 1..=RECENT as u64 {
            r.push(us * 1000);
        }
        assert_eq!(r.median_ms(), Some((RECENT / 2 + 1) as f64));
        for _ in 0..RECENT {
            r.push(500_000);
        }
        assert_eq!(r.median_ms(), Some(500.0));
        assert_eq!(r.samples.len(), RECENT);
    }

    #[test]
    fn the_reader_samples_ttft_when_requests_complete() {
        let live = LiveCounters::default();
        let mut reader = LiveReader::default();
        assert_eq!(reader.read(&live), LiveSnapshot::default());
        live.ok.store(2, Ordering::Relaxed);
        live.failed.store(1, Ordering::Relaxed);
        live.last_ttft_us.store(25_000, Ordering::Relaxed);
        let snap = reader.read(&live);
        assert_eq!((snap.ok, snap.failed, snap.ttft_p50_ms), (2, 1, Some(25.0)));
        // No new completion: the same sample is not counted twice.
        live.last_ttft_us.store(90_000, Ordering::Relaxed);
        assert_eq!(reader.read(&live).ttft_p50_ms, Some(25.0));
    }
}

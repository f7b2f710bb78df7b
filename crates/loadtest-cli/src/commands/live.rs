//! Live progress while a sweep runs. On a terminal: an indicatif bar over the whole run with
//! the current step and phase, time left, completed, errors, a rolling TTFT p50 and
//! in-flight, fitted to the terminal's width ([`status_line`]). Elsewhere (CI logs, pipes): one
//! line per step with that step's own figures, taken by the engine when the step's measure
//! window ended, and a heartbeat line when nothing was printed for 10 s.
//!
//! It only reads the sweep's [`LiveCounters`] a few times a second (and when a window ends),
//! so it never slows the request path. The run clock starts when the first request is sent
//! (the sweep's warmup starts dispatching at once), so preflight time does not skew "time
//! left". It returns once the run is over: await it after `run_sweep` (rather than aborting
//! it) and every step's line is out before the outcome is printed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use loadtest_sweep::LiveCounters;
use loadtest_sweep::live_text::{LiveReader, status_line, step_line};
use loadtest_sweep::timeline::Timeline;

use crate::output;

/// How often the bar is refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Without a terminal: the longest silence before a heartbeat line.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// Columns of a bar line that are not the message: `{bar:24} ` in
/// [`output::progress_bar`]'s template, plus the last column, left empty because some
/// terminals wrap when it is written (each redraw would then clear two lines).
const BAR_COLUMNS: usize = 26;
/// The terminal's width when it cannot be read.
const DEFAULT_COLUMNS: usize = 80;

/// The width of the terminal stderr writes to, in columns (`None` when unknown).
fn stderr_columns() -> Option<usize> {
    let size = rustix::termios::tcgetwinsize(std::io::stderr()).ok()?;
    (size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// The bar message's share of a terminal `columns` wide.
fn message_width(columns: Option<usize>) -> usize {
    columns
        .unwrap_or(DEFAULT_COLUMNS)
        .saturating_sub(BAR_COLUMNS)
}

/// Shows progress until the run is over ([`LiveCounters::is_finished`], set when
/// `run_sweep` returns), then prints the step lines not printed yet, clears the bar and
/// returns. Aborting it instead may lose the last step's line.
pub(crate) async fn show(timeline: Timeline, live: Arc<LiveCounters>) {
    let terminal = output::stderr_is_terminal();
    // Wait for the first request: the sweep's clock starts just before it.
    let waiting = terminal.then(output::spinner);
    if let Some(bar) = &waiting {
        bar.set_message("preflight: waiting for the first request…");
    }
    let mut tick = tokio::time::interval(TICK);
    loop {
        if live.is_finished() || live.started.load(Ordering::Relaxed) > 0 || live.inflight() > 0 {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {}
            () = live.changed() => {}
        }
        if let Some(bar) = &waiting {
            bar.tick();
        }
    }
    if let Some(bar) = waiting {
        bar.finish_and_clear();
    }
    // `--num-prompts`: the run's own timeline, whose step ends are learned as they come.
    let timeline = live.timeline().unwrap_or(timeline);
    let start = Instant::now();
    if terminal {
        show_bar(&timeline, &live, start, tick).await;
    } else {
        show_lines(&timeline, &live, start, tick).await;
    }
}

async fn show_bar(
    timeline: &Timeline,
    live: &LiveCounters,
    start: Instant,
    mut tick: tokio::time::Interval,
) {
    // Count steps (`--num-prompts`) have no known end: the bar counts steps instead.
    let counted = timeline.is_counted();
    let total = if counted {
        timeline.len().max(1) as u64
    } else {
        timeline.end().as_millis().max(1) as u64
    };
    let bar = output::progress_bar(total);
    let mut reader = LiveReader::default();
    while !live.is_finished() {
        let snap = reader.read(live);
        let elapsed = start.elapsed();
        let done = if counted {
            live.steps_ended() as u64
        } else {
            elapsed.as_millis() as u64
        };
        bar.set_position(done.min(total));
        // Read every time: the terminal may have been resized.
        let width = message_width(stderr_columns());
        bar.set_message(status_line(timeline, elapsed, &snap, width));
        tokio::select! {
            _ = tick.tick() => {}
            () = live.changed() => {}
        }
    }
    bar.finish_and_clear();
}

async fn show_lines(
    timeline: &Timeline,
    live: &LiveCounters,
    start: Instant,
    mut tick: tokio::time::Interval,
) {
    let mut reader = LiveReader::default();
    let mut printed = 0;
    let mut last_line = Instant::now();
    loop {
        // Read before the steps: once finished, every step is in.
        let finished = live.is_finished();
        let snap = reader.read(live);
        let elapsed = start.elapsed();
        let ended = live.steps_since(printed);
        if !ended.is_empty() {
            for step in &ended {
                output::note(&step_line(timeline, step, elapsed));
            }
            printed += ended.len();
            last_line = Instant::now();
        } else if !finished && last_line.elapsed() >= HEARTBEAT {
            output::note(&format!(
                "[{:>6.1}s] {}",
                elapsed.as_secs_f64(),
                status_line(timeline, elapsed, &snap, usize::MAX)
            ));
            last_line = Instant::now();
        }
        if finished {
            return;
        }
        tokio::select! {
            _ = tick.tick() => {}
            () = live.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_gets_what_the_bar_leaves() {
        assert_eq!(message_width(Some(200)), 200 - BAR_COLUMNS);
        assert_eq!(message_width(Some(10)), 0);
        assert_eq!(message_width(None), DEFAULT_COLUMNS - BAR_COLUMNS);
        // Not a terminal here (tests capture stderr), or a real one: either way no panic.
        let _ = stderr_columns();
    }

    #[tokio::test]
    async fn runs_on_the_counters_until_the_run_is_over() {
        let t = Timeline::new(
            &[1.0, 2.0],
            Duration::ZERO,
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::ZERO,
        );
        let live = Arc::new(LiveCounters::default());
        let task = tokio::spawn(show(t, Arc::clone(&live)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        live.started.store(3, Ordering::Relaxed);
        live.ok.store(2, Ordering::Relaxed);
        live.last_ttft_us.store(25_000, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert!(!task.is_finished(), "show returned before the run was over");
        live.mark_finished();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("show did not return once the run was over")
            .expect("show panicked");
    }

    #[tokio::test]
    async fn returns_when_the_run_ends_before_any_request() {
        let live = Arc::new(LiveCounters::default());
        let t = Timeline::new(
            &[1.0],
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
            Duration::ZERO,
        );
        let task = tokio::spawn(show(t, Arc::clone(&live)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        live.mark_finished();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("show kept waiting for a first request")
            .expect("show panicked");
    }
}

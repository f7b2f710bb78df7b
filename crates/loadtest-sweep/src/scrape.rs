//! `/metrics` scraping: at every window edge and every `--poll-interval-s`, each scrape on
//! its own task with its own timeout, so a slow or hung endpoint never delays dispatch or
//! the next scrape. Every scrape becomes a row of `vllm_metrics.csv`; the scrapes inside a
//! step's window give its server deltas.

use std::path::Path;
use std::time::{Duration, Instant};

use loadtest_client::Client;
use loadtest_prom::{
    CSV_COLUMNS, CanonicalSnapshot, GaugeWindow, ScalarKind, ScalarMetric, ServerKind,
};
use tokio::sync::mpsc;

use crate::cancel::CancelToken;
use crate::output_file::OutputFile;
use crate::run_dir::OutputError;
use crate::timeline::{Phase, Timeline};

/// Why a scrape was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Periodic,
    WindowStart(usize),
    WindowEnd(usize),
}

/// The outcome of one scrape.
struct Scrape {
    trigger: Trigger,
    /// When the request was sent, since the run start: the moment the values describe.
    at: Duration,
    /// Request sent → answer read (or the timeout).
    took: Duration,
    result: Result<CanonicalSnapshot, String>,
    line_errors: usize,
}

/// What a step's window saw of the server.
#[derive(Debug, Default, Clone)]
pub(crate) struct StepScrapes {
    /// The first good scrape in the window (the window-start edge when it succeeded).
    pub first: Option<(Duration, CanonicalSnapshot)>,
    /// The last good scrape in the window (the window-end edge when it succeeded).
    pub last: Option<(Duration, CanonicalSnapshot)>,
    /// Gauge statistics over every good scrape in the window.
    pub gauges: GaugeWindow,
    /// Scrapes in the window that failed.
    pub failed: u64,
    /// The server restarted inside the window: a counter went down (or the process start
    /// time changed) between two consecutive good scrapes.
    pub restarted: bool,
}

/// Everything scraping produced.
#[derive(Debug, Default)]
pub(crate) struct Scraped {
    pub steps: Vec<StepScrapes>,
    pub ok: u64,
    pub failed: u64,
    pub first_failure: Option<String>,
    pub line_errors: u64,
    pub server: Option<ServerKind>,
    pub write_error: Option<OutputError>,
    /// Good scrapes that took longer than the poll interval, and the slowest of them.
    pub slow: u64,
    pub slowest: Duration,
    /// The poll interval they were measured against.
    pub interval: Duration,
}

/// Scraper settings.
pub(crate) struct ScrapeSetup {
    pub client: Client,
    pub path: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub timeline: Timeline,
    pub run_start: Instant,
    pub run_start_unix_s: f64,
}

/// The header line of `vllm_metrics.csv`.
pub(crate) fn csv_header() -> String {
    let mut line = String::from("unix_s,elapsed_s,step,phase");
    for column in CSV_COLUMNS {
        line.push(',');
        line.push_str(column);
    }
    line.push('\n');
    line
}

/// Creates `vllm_metrics.csv` with its header.
pub(crate) fn create_csv(path: &Path) -> Result<OutputFile, OutputError> {
    OutputFile::create(path, 64 * 1024, csv_header().as_bytes())
}

/// Scrapes until `stop`, then takes a last window-end scrape if a window was cut short, waits
/// for scrapes in flight, and returns what was seen.
pub(crate) async fn run(setup: ScrapeSetup, mut csv: OutputFile, stop: CancelToken) -> Scraped {
    let (tx, mut rx) = mpsc::unbounded_channel::<Scrape>();
    let schedule = schedule(&setup.timeline, setup.interval);
    let setup = std::sync::Arc::new(setup);
    let scheduler = {
        let setup = std::sync::Arc::clone(&setup);
        let tx = tx.clone();
        tokio::spawn(async move {
            for (at, trigger) in schedule {
                tokio::select! {
                    () = tokio::time::sleep_until((setup.run_start + at).into()) => {}
                    () = stop.cancelled() => break,
                }
                spawn_scrape(&setup, trigger, tx.clone());
            }
            // Cut short: close the window we are in with a last scrape.
            let now = setup.run_start.elapsed();
            let pos = setup.timeline.at(now);
            if pos.phase == Phase::Measure {
                spawn_scrape(&setup, Trigger::WindowEnd(pos.step), tx.clone());
            }
        })
    };
    drop(tx);
    let mut scraped = Scraped {
        steps: vec![StepScrapes::default(); setup.timeline.steps().len()],
        interval: setup.interval,
        ..Scraped::default()
    };
    let mut line = String::with_capacity(512);
    while let Some(scrape) = rx.recv().await {
        line.clear();
        write_row(&mut line, &setup, &scrape);
        csv.write(line.as_bytes());
        csv.flush();
        absorb(&mut scraped, &setup.timeline, scrape);
    }
    let _ = scheduler.await;
    scraped.write_error = csv.finish();
    scraped
}

fn schedule(timeline: &Timeline, interval: Duration) -> Vec<(Duration, Trigger)> {
    let mut times = Vec::new();
    let end = timeline.end();
    let mut t = Duration::ZERO;
    while t <= end {
        times.push((t, Trigger::Periodic));
        t += interval;
    }
    for s in timeline.steps() {
        times.push((s.measure_start, Trigger::WindowStart(s.index)));
        times.push((s.measure_end, Trigger::WindowEnd(s.index)));
    }
    times.sort_by_key(|(at, _)| *at);
    // A periodic scrape within 50 ms of an edge adds nothing.
    let mut kept: Vec<(Duration, Trigger)> = Vec::with_capacity(times.len());
    for (at, trigger) in times {
        let near_edge = |other: &(Duration, Trigger)| {
            other.1 != Trigger::Periodic && other.0.abs_diff(at) < Duration::from_millis(50)
        };
        if trigger == Trigger::Periodic && kept.iter().rev().take(2).any(near_edge) {
            continue;
        }
        if trigger != Trigger::Periodic
            && let Some(last) = kept.last()
            && last.1 == Trigger::Periodic
            && last.0.abs_diff(at) < Duration::from_millis(50)
        {
            kept.pop();
        }
        kept.push((at, trigger));
    }
    kept
}

fn spawn_scrape(
    setup: &std::sync::Arc<ScrapeSetup>,
    trigger: Trigger,
    tx: mpsc::UnboundedSender<Scrape>,
) {
    let setup = std::sync::Arc::clone(setup);
    tokio::spawn(async move {
        let at = setup.run_start.elapsed();
        let response = tokio::time::timeout(setup.timeout, setup.client.get(&setup.path)).await;
        let took = setup.run_start.elapsed().saturating_sub(at);
        let (result, line_errors) = match response {
            Err(_) => (
                Err(format!(
                    "no answer within {:.1} s",
                    setup.timeout.as_secs_f64()
                )),
                0,
            ),
            Ok(Err(err)) => (Err(err.to_string()), 0),
            Ok(Ok(resp)) if resp.status != 200 => (Err(format!("HTTP {}", resp.status)), 0),
            Ok(Ok(resp)) => {
                let (snapshot, errors) = CanonicalSnapshot::parse(&resp.body);
                if snapshot.server == ServerKind::Unknown && !errors.is_empty() {
                    (
                        Err(format!("unparseable ({} bad lines)", errors.len())),
                        errors.len(),
                    )
                } else {
                    (Ok(snapshot), errors.len())
                }
            }
        };
        let _ = tx.send(Scrape {
            trigger,
            at,
            took,
            result,
            line_errors,
        });
    });
}

fn write_row(line: &mut String, setup: &ScrapeSetup, scrape: &Scrape) {
    use std::fmt::Write as _;
    let (step, phase) = match scrape.trigger {
        Trigger::WindowStart(k) | Trigger::WindowEnd(k) => (Some(k), Phase::Measure),
        Trigger::Periodic => {
            let pos = setup.timeline.at(scrape.at);
            (Some(pos.step), pos.phase)
        }
    };
    let _ = write!(
        line,
        "{:.3},{:.3},{},{}",
        setup.run_start_unix_s + scrape.at.as_secs_f64(),
        scrape.at.as_secs_f64(),
        step.map(|s| s.to_string()).unwrap_or_default(),
        phase.as_str()
    );
    match &scrape.result {
        Ok(snapshot) => {
            for value in snapshot.csv_values() {
                line.push(',');
                line.push_str(&value);
            }
        }
        Err(_) => {
            for _ in CSV_COLUMNS {
                line.push(',');
            }
        }
    }
    line.push('\n');
}

fn absorb(scraped: &mut Scraped, timeline: &Timeline, scrape: Scrape) {
    scraped.line_errors += scrape.line_errors as u64;
    let window = match scrape.trigger {
        Trigger::WindowStart(k) | Trigger::WindowEnd(k) => Some(k),
        Trigger::Periodic => timeline
            .steps()
            .iter()
            .find(|s| scrape.at > s.measure_start && scrape.at < s.measure_end)
            .map(|s| s.index),
    };
    match scrape.result {
        Err(message) => {
            scraped.failed += 1;
            scraped.first_failure.get_or_insert(message);
            if let Some(step) = window.and_then(|k| scraped.steps.get_mut(k)) {
                step.failed += 1;
            }
        }
        Ok(snapshot) => {
            scraped.ok += 1;
            if scrape.took > scraped.interval {
                scraped.slow += 1;
                scraped.slowest = scraped.slowest.max(scrape.took);
            }
            scraped.server.get_or_insert(snapshot.server);
            if let Some(step) = window.and_then(|k| scraped.steps.get_mut(k)) {
                step.gauges.observe(&snapshot);
                let at = scrape.at;
                // Scrapes may land out of order: compare with the neighbour we know.
                match (&step.first, &step.last) {
                    (_, Some((t, last))) if at >= *t => {
                        step.restarted |= restarted_between(last, &snapshot);
                    }
                    (Some((t, first)), _) if at < *t => {
                        step.restarted |= restarted_between(&snapshot, first);
                    }
                    _ => {}
                }
                if step.first.as_ref().is_none_or(|(t, _)| at < *t) {
                    step.first = Some((at, snapshot.clone()));
                }
                if step.last.as_ref().is_none_or(|(t, _)| at >= *t) {
                    step.last = Some((at, snapshot));
                }
            }
        }
    }
}

/// Whether the server restarted between two good scrapes: its process start time changed
/// or a counter went down.
fn restarted_between(earlier: &CanonicalSnapshot, later: &CanonicalSnapshot) -> bool {
    if let (Some(a), Some(b)) = (earlier.process_start_time_s, later.process_start_time_s)
        && a != b
    {
        return true;
    }
    ScalarMetric::ALL
        .into_iter()
        .filter(|m| m.kind() == ScalarKind::Counter)
        .any(|m| matches!((earlier.scalar(m), later.scalar(m)), (Some(a), Some(b)) if b < a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_has_edges_and_periodic_scrapes() {
        let t = Timeline::new(
            &[1.0, 2.0],
            Duration::from_secs(1),
            Duration::ZERO,
            Duration::from_secs(3),
            Duration::ZERO,
        );
        let s = schedule(&t, Duration::from_secs(1));
        let edges: Vec<_> = s.iter().filter(|(_, k)| *k != Trigger::Periodic).collect();
        assert_eq!(edges.len(), 4);
        // Periodic scrapes at 1 s and 4 s coincide with edges and are dropped.
        let periodic: Vec<u64> = s
            .iter()
            .filter(|(_, k)| *k == Trigger::Periodic)
            .map(|(t, _)| t.as_secs())
            .collect();
        assert_eq!(periodic, vec![0, 2, 3, 5, 6]);
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn a_counter_going_down_is_a_restart() {
        let snap = |tokens: u32, start: u32| {
            let text = format!(
                "process_start_time_seconds {start}\nvllm:generation_tokens_total{{engine=\"0\"}} {tokens}\n"
            );
            CanonicalSnapshot::parse(text.as_bytes()).0
        };
        assert!(!restarted_between(&snap(10, 1), &snap(20, 1)));
        assert!(restarted_between(&snap(20, 1), &snap(10, 1)));
        assert!(restarted_between(&snap(10, 1), &snap(20, 2)));
    }

    #[test]
    fn header_has_the_canonical_columns() {
        let h = csv_header();
        assert!(h.starts_with("unix_s,elapsed_s,step,phase,requests_running,"));
        assert_eq!(h.trim_end().split(',').count(), 4 + CSV_COLUMNS.len());
    }
}

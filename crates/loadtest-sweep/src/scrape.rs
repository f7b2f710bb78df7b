//! `/metrics` scraping: at every window edge and every `--poll-interval-s`, through the drain
//! until the run stops, each scrape on its own task with its own timeout, so a slow or hung
//! endpoint never delays dispatch. Never more than one scrape is in flight: a poll that comes
//! while the previous scrape still runs is skipped (counted), and an edge scrape waits for
//! it (at most the scrape timeout). Every scrape becomes a row of
//! `vllm_metrics.csv`, in the order the scrapes were taken; the scrapes inside a step's window
//! give its server deltas.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadtest_client::Client;
use loadtest_prom::{CanonicalSnapshot, GaugeWindow, ScalarKind, ScalarMetric, ServerKind};
use tokio::sync::mpsc;

mod csv_rows;

pub(crate) use csv_rows::create_csv;
#[cfg(test)]
use csv_rows::csv_header;
use csv_rows::write_row;

use crate::cancel::CancelToken;
use crate::output_file::OutputFile;
use crate::scrape_plan::{EDGE_GAP, Trigger, schedule};
use crate::timeline::Timeline;
use loadtest_run::OutputError;

/// The outcome of one scrape.
struct Scrape {
    /// Its place in the order scrapes were taken (0, 1, 2…): the row order.
    seq: u64,
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
    /// Values that were NaN or ±Inf in good scrapes (one per canonical metric and scrape):
    /// empty cells in the CSV, left out of the server numbers.
    pub non_finite: u64,
    /// The canonical metrics they were in.
    pub non_finite_metrics: BTreeSet<&'static str>,
    pub server: Option<ServerKind>,
    pub write_error: Option<OutputError>,
    /// Good scrapes that took longer than the poll interval, and the slowest of them.
    pub slow: u64,
    pub slowest: Duration,
    /// The poll interval they were measured against.
    pub interval: Duration,
    /// Polls not taken because the previous scrape was still running.
    pub skipped: u64,
    /// Rows that did not reach `vllm_metrics.csv` (after a write error).
    pub rows_not_written: u64,
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

/// Scrapes until `stop`: the window edges and every poll interval through the schedule, then
/// every poll interval through the drain. At `stop` it takes one last scrape (the window-end
/// scrape when a window was cut short), waits for scrapes in flight, and returns what was
/// seen. Rows are written in the order the scrapes were taken, whatever order they answer in.
pub(crate) async fn run(setup: ScrapeSetup, mut csv: OutputFile, stop: CancelToken) -> Scraped {
    let (tx, mut rx) = mpsc::unbounded_channel::<Scrape>();
    let setup = Arc::new(setup);
    let scheduler = tokio::spawn(take_scrapes(Arc::clone(&setup), stop, tx));
    let mut scraped = Scraped {
        steps: vec![StepScrapes::default(); setup.timeline.steps().len()],
        interval: setup.interval,
        ..Scraped::default()
    };
    let mut line = String::with_capacity(512);
    // Answers that came before an earlier scrape's, held until it is written.
    let mut early: BTreeMap<u64, Scrape> = BTreeMap::new();
    let mut next = 0u64;
    while let Some(scrape) = rx.recv().await {
        early.insert(scrape.seq, scrape);
        while let Some(scrape) = early.remove(&next) {
            next += 1;
            record(&mut scraped, &mut csv, &mut line, &setup, scrape);
        }
        csv.flush();
    }
    // Only a scrape task that died without answering leaves a gap: write the rest in order.
    if !early.is_empty() {
        tracing::warn!(
            missing = next,
            held = early.len(),
            "a /metrics scrape never answered; its row is missing"
        );
    }
    for scrape in std::mem::take(&mut early).into_values() {
        record(&mut scraped, &mut csv, &mut line, &setup, scrape);
    }
    scraped.skipped = scheduler.await.unwrap_or(0);
    (scraped.write_error, scraped.rows_not_written) = csv.finish();
    scraped
}

/// Writes `scrape`'s row and adds it to what was seen.
fn record(
    scraped: &mut Scraped,
    csv: &mut OutputFile,
    line: &mut String,
    setup: &ScrapeSetup,
    scrape: Scrape,
) {
    line.clear();
    write_row(line, setup, &scrape);
    csv.write(line.as_bytes());
    absorb(scraped, &setup.timeline, scrape);
}

/// Takes the scrapes, one after another on one clock: each gets the next sequence number
/// and its time before its task starts, so sequence order is time order. At most one is in
/// flight.
pub(crate) struct Taker {
    pub(crate) setup: Arc<ScrapeSetup>,
    tx: mpsc::UnboundedSender<Scrape>,
    seq: u64,
    in_flight: Option<tokio::task::JoinHandle<()>>,
    /// Polls skipped because a scrape was still running.
    skipped: u64,
}

impl Taker {
    pub(crate) async fn take(&mut self, trigger: Trigger) {
        if let Some(task) = self.in_flight.as_mut()
            && !task.is_finished()
        {
            if trigger == Trigger::Periodic {
                self.skipped += 1;
                tracing::debug!(
                    skipped = self.skipped,
                    "/metrics poll skipped: the previous scrape is still running"
                );
                return;
            }
            // An edge is never skipped: wait for the scrape in flight (it ends within its
            // timeout; past that, take the edge anyway).
            let _ = tokio::time::timeout(self.setup.timeout, task).await;
        }
        let at = self.setup.run_start.elapsed();
        self.in_flight = Some(spawn_scrape(
            &self.setup,
            self.seq,
            trigger,
            at,
            self.tx.clone(),
        ));
        self.seq += 1;
    }
}

/// The scheduler: the planned scrapes, then drain polls until `stop`, then the last scrape.
async fn take_scrapes(
    setup: Arc<ScrapeSetup>,
    stop: CancelToken,
    tx: mpsc::UnboundedSender<Scrape>,
) -> u64 {
    // A zero interval (refused upstream) must not spin.
    let interval = setup.interval.max(Duration::from_millis(1));
    // A count timeline's edges are learned as they come (`scrape_counted`).
    let counted = setup.timeline.is_counted();
    let (plan, mut next_poll) = if counted {
        (Vec::new(), Duration::ZERO)
    } else {
        schedule(&setup.timeline, interval)
    };
    let run_start = setup.run_start;
    let mut taker = Taker {
        setup,
        tx,
        seq: 0,
        in_flight: None,
        skipped: 0,
    };
    // One wake-up per scrape on a quiet client (see `crate::timer`).
    let mut timer = crate::timer::TickTimer::new();
    // The window whose start edge was taken and whose end edge was not.
    let mut open: Option<usize> = None;
    let mut stopped = false;
    for (i, &(at, trigger)) in plan.iter().enumerate() {
        tokio::select! {
            biased;
            () = stop.cancelled() => {
                stopped = true;
                break;
            }
            () = timer.sleep_until(run_start + at) => {}
        }
        match trigger {
            Trigger::Periodic => {
                // Late enough to be at (or past) the next edge: the edge comes next and
                // stands for it, so no poll row lands on the wrong side of an edge.
                let now = run_start.elapsed();
                let next_edge = plan[i + 1..]
                    .iter()
                    .find(|(_, t)| *t != Trigger::Periodic)
                    .map(|(t, _)| *t);
                if next_edge.is_some_and(|edge| now + EDGE_GAP > edge) {
                    continue;
                }
            }
            Trigger::WindowStart(k) => open = Some(k),
            Trigger::WindowEnd(_) => open = None,
        }
        taker.take(trigger).await;
    }
    if counted {
        (open, stopped, next_poll) =
            crate::scrape_counted::take_scrapes(&mut taker, interval, &stop).await;
    }
    // The drain: in-flight requests finish while the server is still polled.
    if !stopped {
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = timer.sleep_until(run_start + next_poll) => {}
            }
            taker.take(Trigger::Periodic).await;
            let now = run_start.elapsed();
            while next_poll <= now {
                next_poll += interval;
            }
        }
    }
    // The last scrape: it closes a window cut short, or shows the server as the run ends.
    // The last scrape is never skipped: it waits for one in flight like an edge.
    let last = open.map_or(Trigger::Periodic, Trigger::WindowEnd);
    if let Some(task) = taker.in_flight.take() {
        let _ = tokio::time::timeout(taker.setup.timeout, task).await;
    }
    taker.take(last).await;
    taker.skipped
}

fn spawn_scrape(
    setup: &Arc<ScrapeSetup>,
    seq: u64,
    trigger: Trigger,
    at: Duration,
    tx: mpsc::UnboundedSender<Scrape>,
) -> tokio::task::JoinHandle<()> {
    let setup = Arc::clone(setup);
    tokio::spawn(async move {
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
            seq,
            trigger,
            at,
            took,
            result,
            line_errors,
        });
    })
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
            let non_finite = snapshot.non_finite();
            scraped.non_finite += non_finite.len() as u64;
            scraped.non_finite_metrics.extend(non_finite);
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
/// or a counter went down (from a finite value to a finite value: a counter at `+Inf` that
/// comes back is no restart).
fn restarted_between(earlier: &CanonicalSnapshot, later: &CanonicalSnapshot) -> bool {
    if let (Some(a), Some(b)) = (earlier.process_start_time_s, later.process_start_time_s)
        && a != b
    {
        return true;
    }
    ScalarMetric::ALL
        .into_iter()
        .filter(|m| m.kind() == ScalarKind::Counter)
        .any(|m| {
            matches!(
                (earlier.scalar(m), later.scalar(m)),
                (Some(a), Some(b)) if a.is_finite() && b.is_finite() && b < a
            )
        })
}

#[cfg(test)]
mod tests;

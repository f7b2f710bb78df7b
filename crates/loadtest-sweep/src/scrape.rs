//! `/metrics` scraping: at every window edge and every `--poll-interval-s`, through the drain
//! until the run stops, each scrape on its own task with its own timeout, so a slow or hung
//! endpoint never delays dispatch. Never more than one scrape is in flight: a poll that comes
//! while the previous scrape still runs is skipped (counted), and an edge scrape waits for
//! it (at most the scrape timeout). Every scrape becomes a row of
//! `vllm_metrics.csv`, in the order the scrapes were taken; the scrapes inside a step's window
//! give its server deltas.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadtest_client::Client;
use loadtest_prom::{
    CSV_COLUMNS, CanonicalSnapshot, GaugeWindow, ScalarKind, ScalarMetric, ServerKind,
};
use tokio::sync::mpsc;

use crate::cancel::CancelToken;
use crate::output_file::OutputFile;
use crate::scrape_plan::{EDGE_GAP, Trigger, schedule};
use crate::timeline::Timeline;
use loadtest_run::OutputError;
use loadtest_run::Phase;

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
struct Taker {
    setup: Arc<ScrapeSetup>,
    tx: mpsc::UnboundedSender<Scrape>,
    seq: u64,
    in_flight: Option<tokio::task::JoinHandle<()>>,
    /// Polls skipped because a scrape was still running.
    skipped: u64,
}

impl Taker {
    async fn take(&mut self, trigger: Trigger) {
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
    let (plan, mut next_poll) = schedule(&setup.timeline, interval);
    let run_start = setup.run_start;
    let mut taker = Taker {
        setup,
        tx,
        seq: 0,
        in_flight: None,
        skipped: 0,
    };
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
            () = tokio::time::sleep_until((run_start + at).into()) => {}
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
    // The drain: in-flight requests finish while the server is still polled.
    if !stopped {
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until((run_start + next_poll).into()) => {}
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
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
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
        // Non-finite values say nothing about a restart.
        let text =
            |tokens: &str| format!("vllm:generation_tokens_total{{engine=\"0\"}} {tokens}\n");
        let snap = |tokens: &str| CanonicalSnapshot::parse(text(tokens).as_bytes()).0;
        assert!(!restarted_between(&snap("+Inf"), &snap("20")));
        assert!(!restarted_between(&snap("20"), &snap("-Inf")));
        assert!(!restarted_between(&snap("NaN"), &snap("20")));
        assert!(restarted_between(&snap("20"), &snap("10")));
    }

    /// A `/metrics` endpoint that answers every other request 150 ms late, so answers come
    /// back in another order than the scrapes were sent.
    async fn uneven_metrics_server() -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicU64::new(0));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        let end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match socket.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        buf.drain(..end);
                        let n = count.fetch_add(1, Ordering::Relaxed);
                        if n.is_multiple_of(2) {
                            tokio::time::sleep(Duration::from_millis(150)).await;
                        }
                        let body = format!("vllm:num_requests_running{{model_name=\"m\"}} {n}\n");
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    /// One row of `vllm_metrics.csv`: elapsed_s, step, phase, requests_running.
    type Row = (f64, usize, String, String);

    /// Runs the scraper against [`uneven_metrics_server`] and stops it `stop_at` after its
    /// start; returns the CSV rows and what was seen.
    async fn scrape_for(
        timeline: &Timeline,
        interval: Duration,
        stop_at: Duration,
    ) -> (Vec<Row>, Scraped) {
        let base = uneven_metrics_server().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vllm_metrics.csv");
        let csv = create_csv(&path).unwrap();
        let run_start = Instant::now();
        let setup = ScrapeSetup {
            client: Client::new(&loadtest_client::ClientConfig::new(base)).unwrap(),
            path: "/metrics".to_owned(),
            interval,
            timeout: Duration::from_secs(2),
            timeline: timeline.clone(),
            run_start,
            run_start_unix_s: 1_700_000_000.0,
        };
        let stop = CancelToken::new();
        let task = tokio::spawn(run(setup, csv, stop.clone()));
        tokio::time::sleep_until((run_start + stop_at).into()).await;
        stop.cancel();
        let scraped = task.await.unwrap();
        assert!(scraped.write_error.is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        let rows = text
            .lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                assert_eq!(cells.len(), 4 + CSV_COLUMNS.len(), "{line}");
                (
                    cells[1].parse().unwrap(),
                    cells[2].parse().unwrap(),
                    cells[3].to_owned(),
                    cells[4].to_owned(),
                )
            })
            .collect();
        (rows, scraped)
    }

    fn assert_in_order(rows: &[Row]) {
        for w in rows.windows(2) {
            assert!(w[0].0 <= w[1].0, "elapsed_s went back: {rows:?}");
            assert!(w[0].1 <= w[1].1, "step went back: {rows:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edge_rows_are_written_in_the_order_taken() {
        // Four back-to-back windows; a poll interval too long to poll inside them, so every
        // measure row is an edge. End of step k and start of step k + 1 coincide.
        let t = Timeline::new(
            &[1.0, 2.0, 3.0, 4.0],
            Duration::from_millis(100),
            Duration::ZERO,
            Duration::from_millis(200),
            Duration::ZERO,
        );
        let (rows, scraped) = scrape_for(&t, Duration::from_secs(10), t.end() + ms(100)).await;
        assert_in_order(&rows);
        assert_eq!(scraped.failed, 0, "{:?}", scraped.first_failure);
        // The poll at 0 s, two edges per window, the last scrape at the stop.
        assert_eq!(rows.len(), 1 + 2 * 4 + 1, "{rows:?}");
        assert_eq!((rows[0].1, rows[0].2.as_str()), (0, "warmup"));
        for (k, step) in t.steps().iter().enumerate() {
            let (start, end) = (&rows[1 + 2 * k], &rows[2 + 2 * k]);
            assert_eq!((start.1, start.2.as_str()), (k, "measure"), "{rows:?}");
            assert_eq!((end.1, end.2.as_str()), (k, "measure"), "{rows:?}");
            assert!(
                start.0 + 5e-4 >= step.measure_start.as_secs_f64(),
                "{rows:?}"
            );
            assert!(end.0 + 5e-4 >= step.measure_end.as_secs_f64(), "{rows:?}");
            let seen = &scraped.steps[k];
            assert!(seen.first.is_some() && seen.last.is_some());
        }
        let last = rows.last().unwrap();
        assert_eq!((last.1, last.2.as_str()), (3, "drain"));
        assert!(last.0 + 5e-4 >= (t.end() + ms(100)).as_secs_f64());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polls_go_on_through_the_drain_until_the_stop() {
        let t = Timeline::new(
            &[1.0, 2.0],
            Duration::from_millis(200),
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::ZERO,
        );
        let stop_at = t.end() + ms(500);
        let (rows, scraped) = scrape_for(&t, ms(100), stop_at).await;
        assert_in_order(&rows);
        assert_eq!(scraped.failed, 0, "{:?}", scraped.first_failure);
        for row in &rows {
            let at = Duration::from_secs_f64(row.0);
            let pos = t.at(at);
            // A poll carries where the run was; an end edge carries the step it closes.
            let end_edge = row.2 == "measure" && at >= t.steps()[row.1].measure_end;
            assert!(
                (pos.step, pos.phase.as_str()) == (row.1, row.2.as_str()) || end_edge,
                "{row:?} in {rows:?}"
            );
        }
        // Both ends of each window, end of step 0 before start of step 1.
        let end_edges: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.2 == "measure"
                    && Duration::from_secs_f64(r.0 + 5e-4) >= t.steps()[r.1].measure_end
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(end_edges.len(), 2, "{rows:?}");
        assert_eq!(rows[end_edges[0] + 1].1, 1, "{rows:?}");
        // Polls every 100 ms through the 500 ms drain, then the last scrape at the stop.
        let drain: Vec<&Row> = rows.iter().filter(|r| r.2 == "drain").collect();
        assert!(drain.len() >= 4, "{rows:?}");
        assert!(drain.iter().all(|r| r.1 == 1));
        assert!(rows.last().unwrap().0 + 5e-4 >= stop_at.as_secs_f64());
        // The drain's rows leave the step's window alone: it ends at its end edge.
        let last = scraped.steps[1].last.as_ref().unwrap().0.as_secs_f64();
        assert!(
            (last - rows[end_edges[1]].0).abs() < 6e-4,
            "{last} {rows:?}"
        );
    }

    #[test]
    fn header_has_the_canonical_columns() {
        let h = csv_header();
        assert!(h.starts_with("unix_s,elapsed_s,step,phase,requests_running,"));
        assert_eq!(h.trim_end().split(',').count(), 4 + CSV_COLUMNS.len());
    }
}

//! Tests of the scraper: restarts, ordering, edges, overlap.

use super::*;
use loadtest_prom::CSV_COLUMNS;

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
    let text = |tokens: &str| format!("vllm:generation_tokens_total{{engine=\"0\"}} {tokens}\n");
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
            r.2 == "measure" && Duration::from_secs_f64(r.0 + 5e-4) >= t.steps()[r.1].measure_end
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

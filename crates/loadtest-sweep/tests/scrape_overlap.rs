//! A `/metrics` slower than the poll interval (issue 20): never more than one scrape in
//! flight, the polls that come meanwhile skipped and counted in a warning, and both edges
//! of every window still scraped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// A `/metrics` on 127.0.0.1 that answers each scrape after `delay`; it counts the scrapes
/// in flight and remembers the most at once.
async fn slow_metrics(delay: Duration, now: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let (now, most) = (Arc::clone(&now), Arc::clone(&most));
            tokio::spawn(async move {
                // Keep-alive: answer every request of the connection.
                let mut pending = Vec::new();
                while common::read_head(&mut stream, &mut pending).await.is_some() {
                    let in_flight = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(in_flight, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    now.fetch_sub(1, Ordering::SeqCst);
                    let body = "vllm:num_requests_running 0\n";
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_metrics_has_one_scrape_in_flight_and_skipped_polls() {
    let sim = common::fixed_sim().await;
    let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let url = slow_metrics(Duration::from_millis(300), now, Arc::clone(&most)).await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0], 0.8);
    config.poll_interval = Duration::from_millis(50);
    config.target.metrics_url = Some(url);
    let outcome = common::run(config).await;
    assert_eq!(most.load(Ordering::SeqCst), 1, "scrapes overlapped");
    let warning = outcome
        .warnings
        .iter()
        .find(|w| w.contains("poll(s) skipped"))
        .unwrap_or_else(|| panic!("no skipped-polls warning: {:?}", outcome.warnings));
    assert!(
        warning.contains("never more than one scrape in flight"),
        "{warning}"
    );
    // Both edges of both windows were still scraped: each step has server deltas.
    let deltas = common::json(&outcome.run_dir, loadtest_run::files::STEP_DELTAS);
    let deltas = deltas["steps"].as_array().unwrap();
    assert_eq!(deltas.len(), 2);
    for delta in deltas {
        assert!(delta["start_scrape_s"].is_number(), "{delta}");
        assert!(delta["end_scrape_s"].is_number(), "{delta}");
    }
}

//! Preflight against hostile servers (issue 20): a server that accepts and never answers fails
//! the run within the preflight deadline (not `--timeout-s`), and Ctrl-C ends that wait at
//! once with nothing written; a hanging `/metrics` is a warning within seconds; what the server
//! sends into the config (model id, version) is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use loadtest_sim::{SimConfig, Simulator};
use loadtest_sweep::{CancelToken, RunOptions, SweepError, run_sweep};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

/// A server on 127.0.0.1 that accepts every connection and never sends a byte.
async fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// A server on 127.0.0.1 answering each GET with `answer(path)` (status 200, JSON), one
/// request per connection.
async fn json_server(answer: fn(&str) -> Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Some(head) = common::read_head(&mut stream, &mut Vec::new()).await else {
                    return;
                };
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let body = answer(&path);
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_silent_server_fails_preflight_within_its_deadline_not_the_request_timeout() {
    let url = silent_server().await;
    let out = tempfile::tempdir().unwrap();
    let run = |model: Option<&str>| {
        let mut config = common::config(&url, out.path(), &[1.0], 1.0);
        config.target.client.request_timeout = Duration::from_secs(600);
        config.target.model = model.map(str::to_owned);
        run_sweep(config, RunOptions::default())
    };
    let started = Instant::now();
    // The first model of /v1/models, and a given --model checked against it.
    let (first, given) = tokio::join!(run(None), run(Some("m")));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    for err in [first.unwrap_err(), given.unwrap_err()] {
        assert!(matches!(err, SweepError::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot reach {url}: no response from")),
            "{text}"
        );
        assert!(text.contains("/v1/models within 10s"), "{text}");
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn ctrl_c_during_preflight_ends_the_run_at_once_with_nothing_written() {
    let url = silent_server().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&url, out.path(), &[1.0], 1.0);
    config.target.client.request_timeout = Duration::from_secs(600);
    let cancel = CancelToken::new();
    let options = RunOptions {
        cancel: cancel.clone(),
        ..RunOptions::default()
    };
    let run = tokio::spawn(run_sweep(config, options));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cancelled = Instant::now();
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("run_sweep still running 2 s after the cancel")
        .unwrap();
    assert!(cancelled.elapsed() < Duration::from_secs(2));
    assert!(matches!(result, Err(SweepError::Interrupted)), "{result:?}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // Cancelled before it starts: the same, without a request.
    let mut config = common::config(&url, out.path(), &[1.0], 1.0);
    config.target.client.request_timeout = Duration::from_secs(600);
    let cancel = CancelToken::new();
    cancel.cancel();
    let result = run_sweep(
        config,
        RunOptions {
            cancel,
            ..RunOptions::default()
        },
    )
    .await;
    assert!(matches!(result, Err(SweepError::Interrupted)), "{result:?}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_hanging_metrics_is_a_warning_within_seconds_and_the_run_goes_on() {
    let mut sim_config = SimConfig::ephemeral();
    sim_config.profile = loadtest_sim::Profile::Fixed;
    sim_config.ttft = Duration::from_millis(20);
    sim_config.itl = Duration::from_millis(5);
    sim_config.faults.metrics_delay = Duration::from_secs(600);
    let sim = Simulator::start(sim_config).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 1.0);
    config.target.client.request_timeout = Duration::from_secs(600);
    let started = Instant::now();
    let outcome = run_sweep(config, RunOptions::default()).await.unwrap();
    let took = started.elapsed();
    // Preflight's scrape gives up after the scrape timeout (2 s at this poll interval), the
    // run's own scrapes likewise: nowhere near the 600 s request timeout.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // Preflight's own warning (`… is not usable at preflight (no response …)`) is folded into
    // this one when no scrape of the run succeeded either.
    assert!(
        outcome
            .warnings
            .iter()
            .any(|w| w.contains("/metrics failed every time (")
                && w.contains("no answer within 2.0 s")),
        "{:?}",
        outcome.warnings
    );
    assert!(outcome.measured_requests > 0);
    assert_eq!(outcome.failed_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_huge_model_id_is_a_preflight_error_naming_the_limit() {
    let url = json_server(|path| {
        if path == "/v1/models" {
            let mut body = br#"{"object":"list","data":[{"id":""#.to_vec();
            body.resize(body.len() + 50_000_000, b'x');
            body.extend_from_slice(br#""}]}"#);
            body
        } else {
            br#"{"version":"1"}"#.to_vec()
        }
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&url, out.path(), &[1.0], 1.0);
    let err = run_sweep(config, RunOptions::default()).await.unwrap_err();
    assert!(matches!(err, SweepError::Preflight { .. }), "{err}");
    let text = err.to_string();
    assert_eq!(
        text,
        format!(
            "the first model id of {url}/v1/models is 50000000 bytes long, over the limit of 256 bytes: give the model with --model"
        )
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // Control characters (terminal escapes) are refused too.
    let url = json_server(|_| br#"{"data":[{"id":"m\u001b[31m"}]}"#.to_vec()).await;
    let config = common::config(&url, out.path(), &[1.0], 1.0);
    let err = run_sweep(config, RunOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("holds control characters"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_overlong_version_is_dropped_with_a_warning() {
    let mut sim_config = SimConfig::ephemeral();
    sim_config.profile = loadtest_sim::Profile::Fixed;
    sim_config.ttft = Duration::from_millis(20);
    sim_config.itl = Duration::from_millis(5);
    sim_config.server_version = "9".repeat(100_000);
    let sim = Simulator::start(sim_config).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let config = common::config(&sim.base_url(), out.path(), &[1.0], 0.5);
    let outcome = run_sweep(config, RunOptions::default()).await.unwrap();
    assert!(
        outcome.warnings.iter().any(|w| w.contains(
            "/version's version is 100000 characters long, over the limit of 64: left out"
        )),
        "{:?}",
        outcome.warnings
    );
    let config_json = common::json(&outcome.run_dir, "config.json");
    let text = config_json.to_string();
    assert!(
        !text.contains("9999999999"),
        "the version reached config.json"
    );
    sim.shutdown().await;
}

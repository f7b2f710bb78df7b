//! Secrets against a server that echoes them (issue 20): nothing the server sends back puts
//! the api key or a secret header into any file of the run folder, and a `/metrics` on
//! another host gets no credentials unless the config says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

const KEY: &str = "sk-echo-0123456789abcdef";
const TOKEN: &str = "ocp-echo-9876543210";

/// A server on 127.0.0.1 that echoes the credentials it gets: `/v1/models` lists one model,
/// `/version` answers with the Authorization header as its version, `/metrics` remembers
/// the Authorization it got, and every POST is a 401 that quotes both secrets. One request
/// per connection.
async fn echo_server(metrics_auth: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let metrics_auth = Arc::clone(&metrics_auth);
            tokio::spawn(async move {
                let Some(head) = common::read_head(&mut stream, &mut Vec::new()).await else {
                    return;
                };
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| {
                            let (n, v) = l.split_once(':')?;
                            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                        })
                        .unwrap_or_default()
                };
                let auth = header("authorization");
                let token = header("ocp-apim-subscription-key");
                let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                let (status, body) = match path.as_str() {
                    "/v1/models" => ("200 OK", r#"{"data":[{"id":"m"}]}"#.to_owned()),
                    "/version" => ("200 OK", format!(r#"{{"version":"{auth}"}}"#)),
                    "/metrics" => {
                        metrics_auth.lock().unwrap().push(auth.clone());
                        ("200 OK", "vllm:num_requests_running 0\n".to_owned())
                    }
                    _ => (
                        "401 Unauthorized",
                        format!("invalid credentials: {auth} / {token}"),
                    ),
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn assert_no_secret_in(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_no_secret_in(&path);
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for secret in [KEY, TOKEN] {
            assert!(
                !text.contains(secret),
                "{} holds a secret:\n{text}",
                path.display()
            );
        }
    }
}

async fn sweep(metrics_credentials: bool) -> (Vec<String>, loadtest_sweep::RunOutcome) {
    let metrics_auth = Arc::new(Mutex::new(Vec::new()));
    let port = echo_server(Arc::clone(&metrics_auth)).await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&format!("http://127.0.0.1:{port}"), out.path(), &[1.0], 0.5);
    config.warmup = Duration::from_millis(100);
    config.target.client.api_key = Some(KEY.to_owned());
    config.target.client.headers = vec![("Ocp-Apim-Subscription-Key".into(), TOKEN.into())];
    // Another host name for the same server: `localhost` is not `127.0.0.1`.
    config.target.metrics_url = Some(format!("http://localhost:{port}/metrics"));
    config.target.metrics_credentials = metrics_credentials;
    let outcome = common::run(config).await;
    assert_no_secret_in(&outcome.run_dir);
    for warning in &outcome.warnings {
        assert!(
            !warning.contains(KEY) && !warning.contains(TOKEN),
            "{warning}"
        );
    }
    let rows = common::rows(&outcome.run_dir);
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row["status"], "http_error", "{row}");
        let error = row["error"].as_str().unwrap();
        assert!(
            error.contains("invalid credentials: Bearer <redacted> / <redacted>"),
            "{error}"
        );
    }
    let summary = common::json(&outcome.run_dir, "step_summary.json").to_string();
    assert!(summary.contains("Bearer <redacted>"), "{summary}");
    let got = metrics_auth.lock().unwrap().clone();
    drop(out);
    (got, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_echoed_by_the_server_never_reach_the_run_folder() {
    let (metrics_auth, _) = sweep(false).await;
    assert!(!metrics_auth.is_empty(), "no scrape reached /metrics");
    assert!(
        metrics_auth.iter().all(String::is_empty),
        "a /metrics on another host got credentials: {metrics_auth:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_another_host_gets_the_key_only_when_asked() {
    let (metrics_auth, _) = sweep(true).await;
    assert!(!metrics_auth.is_empty(), "no scrape reached /metrics");
    assert!(
        metrics_auth.iter().all(|a| a == &format!("Bearer {KEY}")),
        "{metrics_auth:?}"
    );
}

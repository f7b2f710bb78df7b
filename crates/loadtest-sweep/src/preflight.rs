//! Preflight (§3): is the server there, which model, which version, is `/metrics` readable.
//! An unreachable server stops the run before anything is written. Every request has its own
//! short deadline ([`PREFLIGHT_TIMEOUT`]; the scrape timeout for `/metrics`) and the whole
//! preflight yields to Ctrl-C; whatever the server sends is bounded before it is kept
//! ([`MAX_MODEL_ID_BYTES`], [`MAX_VERSION_CHARS`]).

use std::time::Duration;

use loadtest_client::{Client, ClientConfig, ClientError};
use loadtest_prom::{CanonicalSnapshot, ServerKind};

use crate::SweepError;
use crate::cancel::CancelToken;

/// What preflight learnt about the server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The model requests name.
    pub model: String,
    /// `GET /version`'s `version`, when the server has that endpoint.
    pub server_version: Option<String>,
    /// The server kind `/metrics` revealed (`None` without a readable `/metrics`).
    pub server_kind: Option<ServerKind>,
    /// Why `/metrics` cannot be used, when it cannot.
    pub metrics_warning: Option<String>,
    /// Why `/version`'s text was left out, when it was (too long, control characters).
    pub version_warning: Option<String>,
}

/// A metrics URL split into the client that reaches its origin and the path to GET.
pub(crate) struct MetricsEndpoint {
    pub client: Client,
    pub path: String,
}

/// Splits `url` (`http[s]://host[:port]/path?query`) into origin and path.
pub(crate) fn split_url(url: &str) -> Option<(&str, &str)> {
    let scheme_end = url.find("://")? + 3;
    match url[scheme_end..].find('/') {
        Some(i) => Some((&url[..scheme_end + i], &url[scheme_end + i..])),
        None => Some((url, "/")),
    }
}

/// A client for the metrics origin, sharing the target's timeouts and headers. The api key
/// and the secret headers go along only to the base URL's host, or when `send_credentials`
/// (the user said so): a metrics endpoint elsewhere never sees them otherwise.
pub(crate) fn metrics_endpoint(
    target: &ClientConfig,
    url: &str,
    send_credentials: bool,
) -> Result<MetricsEndpoint, SweepError> {
    let (origin, path) = split_url(url).ok_or_else(|| SweepError::Usage {
        message: format!("invalid metrics URL {:?}", loadtest_client::redact_url(url)),
    })?;
    let mut config = target.clone();
    config.base_url = origin.to_owned();
    config.pool_size = 4;
    if !send_credentials && host_of(origin) != host_of(&target.base_url) {
        config.api_key = None;
        config
            .headers
            .retain(|(name, _)| !loadtest_client::is_sensitive(name));
    }
    let client = Client::new(&config).map_err(SweepError::Client)?;
    Ok(MetricsEndpoint {
        client,
        path: path.to_owned(),
    })
}

/// The host of `scheme://[user@]host[:port]/…`, lower-cased, without its port.
fn host_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = rest.split(['/', '?']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host_port.split(':').next()?,
    };
    Some(host.to_ascii_lowercase())
}

/// How long each preflight request to the API (`/v1/models`, `/version`) may take: a server
/// that accepts connections and never answers fails the preflight within seconds, not after
/// the whole request timeout.
pub(crate) const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest model id taken from `/v1/models`, in bytes: it goes into every request body
/// and into config.json.
pub(crate) const MAX_MODEL_ID_BYTES: usize = 256;

/// The longest `/version` text kept, in characters; a longer one is dropped with a warning.
pub(crate) const MAX_VERSION_CHARS: usize = 64;

/// The deadlines of the preflight requests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PreflightTimeouts {
    /// Each of `/v1/models` and `/version`.
    pub api: Duration,
    /// The `/metrics` scrape (the run's scrape timeout).
    pub metrics: Duration,
}

impl PreflightTimeouts {
    /// [`PREFLIGHT_TIMEOUT`] (or the request timeout when shorter) and the scrape timeout.
    pub(crate) fn new(request_timeout: Duration, scrape_timeout: Duration) -> Self {
        PreflightTimeouts {
            api: PREFLIGHT_TIMEOUT.min(request_timeout),
            metrics: scrape_timeout,
        }
    }
}

/// Runs the preflight checks, each request within its deadline; `cancel` (Ctrl-C) ends it at
/// once with [`SweepError::Interrupted`], before anything is written.
pub(crate) async fn preflight(
    client: &Client,
    model: Option<&str>,
    metrics: Option<&MetricsEndpoint>,
    timeouts: PreflightTimeouts,
    cancel: &CancelToken,
) -> Result<ServerInfo, SweepError> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(SweepError::Interrupted),
        result = checks(client, model, metrics, timeouts) => result,
    }
}

async fn checks(
    client: &Client,
    model: Option<&str>,
    metrics: Option<&MetricsEndpoint>,
    timeouts: PreflightTimeouts,
) -> Result<ServerInfo, SweepError> {
    let model = match model {
        Some(model) => {
            // Still prove the server is there before writing anything, and that it serves
            // the model: a wrong name would make every request of the run a 404.
            match client.get_with_timeout("/v1/models", timeouts.api).await {
                Err(err) if err.is_unreachable() => return Err(unreachable(client, &err)),
                Ok(resp) if resp.status == 200 => {
                    if let Some(served) = served_models(&resp.body)
                        && !served.iter().any(|m| m == model)
                    {
                        return Err(SweepError::Preflight {
                            message: format!(
                                "--model {:?} is not served by {} (its /v1/models lists {}): check --model, or leave it out to use the first",
                                loadtest_client::sanitize_error(model),
                                client.base_url(),
                                list_models(&served)
                            ),
                        });
                    }
                }
                _ => {}
            }
            model.to_owned()
        }
        None => {
            let model = first_model(client, timeouts.api).await.map_err(|err| {
                if err.is_unreachable() {
                    unreachable(client, &err)
                } else if matches!(
                    err,
                    ClientError::Http {
                        status: 401 | 403,
                        ..
                    }
                ) {
                    SweepError::Preflight {
                        message: format!(
                            "{}/v1/models refused the credentials: {err} (check --api-key / OPENAI_API_KEY)",
                            client.base_url()
                        ),
                    }
                } else {
                    SweepError::Preflight {
                        message: format!(
                            "cannot find a model at {}/v1/models: {err} (give one with --model)",
                            client.base_url()
                        ),
                    }
                }
            })?;
            if let Some(why) = model_id_problem(&model) {
                return Err(SweepError::Preflight {
                    message: format!(
                        "the first model id of {}/v1/models {why}: give the model with --model",
                        client.base_url()
                    ),
                });
            }
            model
        }
    };
    let (server_version, version_warning) =
        match client.get_with_timeout("/version", timeouts.api).await {
            Ok(resp) if resp.status == 200 => version_of(client, &resp.body),
            _ => (None, None),
        };
    let (server_kind, metrics_warning) = match metrics {
        None => (None, None),
        Some(endpoint) => check_metrics(endpoint, timeouts.metrics).await,
    };
    Ok(ServerInfo {
        model,
        server_version,
        server_kind,
        metrics_warning,
        version_warning,
    })
}

/// [`Client::first_model`] within `timeout`.
async fn first_model(client: &Client, timeout: Duration) -> Result<String, ClientError> {
    tokio::time::timeout(timeout, client.first_model())
        .await
        .unwrap_or_else(|_| {
            Err(ClientError::Timeout {
                url: format!("{}/v1/models", client.base_url()),
                after: timeout,
            })
        })
}

/// Why a model id taken from the server cannot be sent, if it cannot.
fn model_id_problem(id: &str) -> Option<String> {
    if id.len() > MAX_MODEL_ID_BYTES {
        Some(format!(
            "is {} bytes long, over the limit of {MAX_MODEL_ID_BYTES} bytes",
            id.len()
        ))
    } else if id.trim().is_empty() {
        Some("is empty".to_owned())
    } else if id.chars().any(char::is_control) {
        Some(format!(
            "{:?} holds control characters",
            loadtest_client::sanitize_error(id)
        ))
    } else {
        None
    }
}

/// The `version` of a `/version` body, and a warning when one was given but cannot be kept
/// (longer than [`MAX_VERSION_CHARS`], or holding control characters).
fn version_of(client: &Client, body: &[u8]) -> (Option<String>, Option<String>) {
    let Some(version) = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("version")?.as_str().map(str::to_owned))
    else {
        return (None, None);
    };
    let chars = version.chars().count();
    let why = if chars > MAX_VERSION_CHARS {
        format!("is {chars} characters long, over the limit of {MAX_VERSION_CHARS}")
    } else if version.chars().any(char::is_control) {
        "holds control characters".to_owned()
    } else {
        return (Some(version), None);
    };
    let warning = format!(
        "{}/version's version {why}: left out of config.json and the report",
        client.base_url()
    );
    (None, Some(warning))
}

async fn check_metrics(
    endpoint: &MetricsEndpoint,
    timeout: Duration,
) -> (Option<ServerKind>, Option<String>) {
    let url = format!("{}{}", endpoint.client.base_url(), endpoint.path);
    let fail = |why: String| {
        (
            None,
            Some(format!(
                "{url} is not usable at preflight ({why}): server-side columns may stay empty (set --metrics-url, or --no-metrics)"
            )),
        )
    };
    match endpoint
        .client
        .get_with_timeout(&endpoint.path, timeout)
        .await
    {
        Err(err) => fail(err.to_string()),
        Ok(resp) if resp.status != 200 => fail(format!("HTTP {}", resp.status)),
        Ok(resp) => {
            let (snapshot, errors) = CanonicalSnapshot::parse(&resp.body);
            if snapshot.server == ServerKind::Unknown && snapshot.scalars.requests_running.is_none()
            {
                let detail = if errors.is_empty() {
                    "no known metric names".to_owned()
                } else {
                    format!("{} unparseable lines", errors.len())
                };
                fail(detail)
            } else {
                (Some(snapshot.server), None)
            }
        }
    }
}

/// The model ids of a `/v1/models` body (`data[].id`); `None` when it is not that shape or
/// lists nothing (a gateway that does not list its models is given the benefit of the doubt).
fn served_models(body: &[u8]) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let ids: Vec<String> = value
        .get("data")?
        .as_array()?
        .iter()
        .filter_map(|m| m.get("id")?.as_str().map(str::to_owned))
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// `"a", "b", "c" and 2 more`, each sanitised.
fn list_models(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(|m| format!("{:?}", loadtest_client::sanitize_error(m)))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

fn unreachable(client: &Client, err: &ClientError) -> SweepError {
    let url = client.base_url().to_owned();
    let mut reason = err.to_string();
    // rustls's words for a plain-HTTP answer to a TLS hello.
    if url.starts_with("https://") && reason.contains("InvalidContentType") {
        reason.push_str(" (the server answered without TLS: is it http://?)");
    }
    SweepError::Unreachable { url, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("http://h:1/metrics"),
            Some(("http://h:1", "/metrics"))
        );
        assert_eq!(split_url("https://h"), Some(("https://h", "/")));
        assert_eq!(
            split_url("http://h/a/b?x=1"),
            Some(("http://h", "/a/b?x=1"))
        );
        assert_eq!(split_url("nope"), None);
    }

    #[test]
    fn reads_served_models() {
        let vllm = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/vllm-0.32.0/models.json"
        ));
        assert_eq!(served_models(vllm), Some(vec!["tiny-llama".to_owned()]));
        assert_eq!(served_models(br#"{"data":[]}"#), None);
        assert_eq!(served_models(b"<html>"), None);
        let many: Vec<String> = (0..7).map(|i| format!("m{i}")).collect();
        assert_eq!(
            list_models(&many),
            "\"m0\", \"m1\", \"m2\", \"m3\", \"m4\" and 2 more"
        );
        assert_eq!(list_models(&["a\u{1b}[31m".to_owned()]), "\"a [31m\"");
    }

    #[test]
    fn bounds_what_the_server_sends() {
        assert_eq!(model_id_problem(&"m".repeat(MAX_MODEL_ID_BYTES)), None);
        assert_eq!(
            model_id_problem(&"m".repeat(MAX_MODEL_ID_BYTES + 1)).as_deref(),
            Some("is 257 bytes long, over the limit of 256 bytes")
        );
        // Bytes, not characters: what goes into every request body.
        assert!(model_id_problem(&"é".repeat(129)).is_some());
        assert!(model_id_problem(" ").is_some());
        assert!(model_id_problem("a\u{1b}[2Jb").is_some());
        assert_eq!(model_id_problem("org/Model-7B:v1.0"), None);

        let client = Client::new(&ClientConfig::new("http://127.0.0.1:1")).unwrap();
        let body = |v: &str| serde_json::json!({ "version": v }).to_string();
        let ok = "v".repeat(MAX_VERSION_CHARS);
        assert_eq!(version_of(&client, body(&ok).as_bytes()), (Some(ok), None));
        let (kept, warning) = version_of(&client, body(&"v".repeat(65)).as_bytes());
        assert_eq!(kept, None);
        assert_eq!(
            warning.as_deref(),
            Some(
                "http://127.0.0.1:1/version's version is 65 characters long, over the limit of 64: left out of config.json and the report"
            )
        );
        let (kept, warning) = version_of(&client, body("0.1\u{1b}[31m").as_bytes());
        assert_eq!(kept, None);
        assert!(warning.unwrap().contains("control characters"));
        assert_eq!(version_of(&client, b"<html>"), (None, None));
    }

    /// A server on 127.0.0.1 that answers `/v1/models` and `/version` and never answers
    /// `/metrics`.
    async fn metrics_hangs() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body: &[u8] = if head.starts_with(b"GET /v1/models ") {
                        br#"{"data":[{"id":"m"}]}"#
                    } else if head.starts_with(b"GET /version ") {
                        br#"{"version":"1.0"}"#
                    } else {
                        // /metrics: hold the connection, say nothing.
                        tokio::time::sleep(Duration::from_secs(600)).await;
                        return;
                    };
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                    let _ = stream.write_all(body).await;
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn a_hanging_metrics_is_a_warning_after_the_scrape_timeout() {
        let url = metrics_hangs().await;
        let mut config = ClientConfig::new(&url);
        config.request_timeout = Duration::from_secs(600);
        let client = Client::new(&config).unwrap();
        let endpoint = metrics_endpoint(&config, &format!("{url}/metrics"), false).unwrap();
        let timeouts = PreflightTimeouts::new(config.request_timeout, Duration::from_millis(300));
        assert_eq!(timeouts.api, PREFLIGHT_TIMEOUT);
        let started = std::time::Instant::now();
        let info = preflight(
            &client,
            None,
            Some(&endpoint),
            timeouts,
            &CancelToken::new(),
        )
        .await
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(info.model, "m");
        assert_eq!(info.server_version.as_deref(), Some("1.0"));
        assert_eq!(info.server_kind, None);
        let warning = info.metrics_warning.unwrap();
        assert!(
            warning.starts_with(&format!(
                "{url}/metrics is not usable at preflight (no response from {url}/metrics within 300ms)"
            )),
            "{warning}"
        );
    }
}

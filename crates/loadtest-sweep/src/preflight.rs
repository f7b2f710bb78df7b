//! Preflight (§3): is the server there, which model, which version, is `/metrics` readable.
//! An unreachable server stops the run before anything is written.

use loadtest_client::{Client, ClientConfig, ClientError};
use loadtest_prom::{CanonicalSnapshot, ServerKind};

use crate::SweepError;

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

/// A client for the metrics origin, sharing the target's credentials and timeouts.
pub(crate) fn metrics_endpoint(
    target: &ClientConfig,
    url: &str,
) -> Result<MetricsEndpoint, SweepError> {
    let (origin, path) = split_url(url).ok_or_else(|| SweepError::Usage {
        message: format!("invalid metrics URL {url:?}"),
    })?;
    let mut config = target.clone();
    config.base_url = origin.to_owned();
    config.pool_size = 4;
    let client = Client::new(&config).map_err(SweepError::Client)?;
    Ok(MetricsEndpoint {
        client,
        path: path.to_owned(),
    })
}

/// Runs the preflight checks.
pub(crate) async fn preflight(
    client: &Client,
    model: Option<&str>,
    metrics: Option<&MetricsEndpoint>,
) -> Result<ServerInfo, SweepError> {
    let model = match model {
        Some(model) => {
            // Still prove the server is there before writing anything, and that it serves
            // the model: a wrong name would make every request of the run a 404.
            match client.get("/v1/models").await {
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
        None => client.first_model().await.map_err(|err| {
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
        })?,
    };
    let server_version = match client.get("/version").await {
        Ok(resp) if resp.status == 200 => serde_json::from_slice::<serde_json::Value>(&resp.body)
            .ok()
            .and_then(|v| v.get("version")?.as_str().map(str::to_owned)),
        _ => None,
    };
    let (server_kind, metrics_warning) = match metrics {
        None => (None, None),
        Some(endpoint) => check_metrics(endpoint).await,
    };
    Ok(ServerInfo {
        model,
        server_version,
        server_kind,
        metrics_warning,
    })
}

async fn check_metrics(endpoint: &MetricsEndpoint) -> (Option<ServerKind>, Option<String>) {
    let url = format!("{}{}", endpoint.client.base_url(), endpoint.path);
    let fail = |why: String| {
        (
            None,
            Some(format!(
                "{url} is not usable at preflight ({why}): server-side columns may stay empty (set --metrics-url, or --no-metrics)"
            )),
        )
    };
    match endpoint.client.get(&endpoint.path).await {
        Err(err) => fail(err.to_string()),
        Ok(resp) if resp.status != 200 => fail(format!("HTTP {}", resp.status)),
        Ok(resp) => {
            let (snapshot, errors) = CanonicalSnapshot::parse(&resp.body);
            if snapshot.server == ServerKind::Unknown && snapshot.requests_running.is_none() {
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
}

//! [`Client`]: pooled keep-alive HTTP/1.1 (and HTTPS) to one server, and
//! [`Client::stream`], which turns one request into one [`RequestRecord`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::{ClientConfig, HttpTransport};
use crate::error::ClientError;
use crate::measure::GapSink;

use crate::base_url::normalize_base_url;
use crate::h1::Native;
use crate::record::{RequestRecord, sanitize_error};
use crate::redact::{Redactor, redact_url};
use crate::request::{Endpoint, StreamRequest};
use crate::transport::{Failure, Transport};

/// Largest body [`Client::get`] reads (a big `/metrics` is a few MB).
pub const MAX_GET_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The most a connection's read buffer grows to (hyper's default is ~400 KiB: one burst of
/// a stream that fell behind would keep that much per connection for its life). It starts at
/// 8 KiB and doubles only when a read fills it; a response head must fit in it (16 KiB: more
/// than common servers and proxies send, 8 KiB being nginx's default limit).
const MAX_READ_BUF_BYTES: usize = 16 * 1024;

/// A streaming client for one OpenAI-compatible server.
///
/// Cloning is cheap (one reference count): share one client across every task of a run, so
/// they share its keep-alive pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    /// `scheme://authority` plus a path prefix without a trailing `/`.
    base: String,
    pub(crate) chat_uri: Uri,
    pub(crate) completions_uri: Uri,
    pub(crate) request_timeout: Duration,
    /// The configured secrets, removed from every string that came from the network.
    redactor: Redactor,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base)
            .field("request_timeout", &self.inner.request_timeout)
            .finish_non_exhaustive()
    }
}

/// A response to [`Client::get`].
#[derive(Debug, Clone)]
pub struct GetResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header, if any and readable.
    pub content_type: Option<String>,
    /// For a redirect (3xx): where it points, sanitised and bounded (redirects are not
    /// followed).
    pub redirect: Option<String>,
    /// The whole body, every configured secret replaced by `<redacted>`.
    pub body: Bytes,
}

impl Client {
    /// Builds the client: validates the base URL and headers and sets up TLS (webpki roots,
    /// ring). A base URL with credentials (`http://user:pass@host`) is refused: give them as
    /// `--api-key` or a header. Needs no runtime; requests must run inside a Tokio runtime
    /// with its I/O and time drivers enabled (`enable_all`).
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let base = normalize_base_url(&config.base_url)?;
        let uri = |path: &str| -> Result<Uri, ClientError> {
            format!("{base}{path}")
                .parse::<Uri>()
                .map_err(|e| ClientError::InvalidBaseUrl {
                    url: redact_url(&config.base_url),
                    reason: e.to_string(),
                })
        };
        let chat_uri = uri(Endpoint::Chat.path())?;
        let completions_uri = uri(Endpoint::Completions.path())?;

        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                ClientError::InvalidHeader {
                    name: name.clone(),
                    reason: "not a valid header name".to_owned(),
                }
            })?;
            let mut value =
                HeaderValue::from_str(value.trim()).map_err(|_| ClientError::InvalidHeader {
                    name: name.clone(),
                    reason: "value holds characters not allowed in a header".to_owned(),
                })?;
            value.set_sensitive(crate::config::is_sensitive(name));
            headers.append(header, value);
        }
        if let Some(key) = &config.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.trim())).map_err(|_| {
                    ClientError::InvalidHeader {
                        name: "api key".to_owned(),
                        reason: "holds characters not allowed in a header".to_owned(),
                    }
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }

        let native =
            chat_uri.scheme_str() == Some("http") && config.transport == HttpTransport::Native;
        let transport = match chat_uri.authority() {
            Some(authority) if native => {
                let native =
                    Native::new(authority, headers, config.connect_timeout, config.pool_size);
                let path = |uri: &Uri| uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
                Transport::Native {
                    chat: native.head("POST", &path(&chat_uri)),
                    completions: native.head("POST", &path(&completions_uri)),
                    native,
                }
            }
            _ => Transport::Hyper {
                http: hyper_client(config)?,
                headers,
            },
        };

        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                base,
                chat_uri,
                completions_uri,
                request_timeout: config.request_timeout,
                redactor: Redactor::from_config(config),
            }),
        })
    }

    /// The normalised base URL (no trailing `/` or `/v1`).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// Sends `req` and measures its stream. Never fails: every failure is a [`Status`](loadtest_run::Status) in the
    /// record. Each gap between token events is also handed to `sink` as it is measured.
    ///
    /// If the returned future is dropped, nothing is recorded: build the record with
    /// [`RequestRecord::cancelled`], or use [`stream_until`](Self::stream_until) to keep the
    /// partial timings.
    pub async fn stream<S: GapSink + ?Sized>(
        &self,
        req: &StreamRequest,
        sink: &mut S,
    ) -> RequestRecord {
        self.stream_until(req, sink, std::future::pending::<()>())
            .await
    }

    /// Like [`stream`](Self::stream), but when `cancel` completes first the request is
    /// abandoned and recorded as [`Status::Cancelled`](loadtest_run::Status::Cancelled) with what was measured so far.
    ///
    /// The record's `error` never holds a configured secret (see [`Redactor`]).
    pub async fn stream_until<S, C>(
        &self,
        req: &StreamRequest,
        sink: &mut S,
        cancel: C,
    ) -> RequestRecord
    where
        S: GapSink + ?Sized,
        C: Future<Output = ()>,
    {
        let mut record = crate::stream::stream(&self.inner, req, sink, cancel).await;
        if let Some(error) = &record.error {
            let redacted = self.inner.redactor.redact(error);
            if redacted != error.as_str() {
                record.error = Some(sanitize_error(&redacted));
            }
        }
        log_failure(&record);
        record
    }

    /// `GET {base}{path}` (e.g. `/v1/models`, `/version`, `/metrics`): status and whole body,
    /// within the request timeout. Any HTTP status is a success here; transport failures and
    /// bodies over [`MAX_GET_BODY_BYTES`] are errors.
    pub async fn get(&self, path: &str) -> Result<GetResponse, ClientError> {
        self.get_with_timeout(path, self.inner.request_timeout)
            .await
    }

    /// [`get`](Self::get) with its own deadline (e.g. a `/metrics` scrape that must not hang
    /// for the whole request timeout). Neither the error nor the body holds a configured
    /// secret.
    pub async fn get_with_timeout(
        &self,
        path: &str,
        timeout: Duration,
    ) -> Result<GetResponse, ClientError> {
        let redactor = &self.inner.redactor;
        match self.get_raw(path, timeout).await {
            Ok(mut response) => {
                response.body = redactor.redact_bytes(response.body);
                response.redirect = response.redirect.map(|r| redactor.redact(&r).into_owned());
                Ok(response)
            }
            Err(e) => Err(e.redacted(redactor)),
        }
    }

    async fn get_raw(&self, path: &str, timeout: Duration) -> Result<GetResponse, ClientError> {
        let inner = &*self.inner;
        let url = format!("{}{}", inner.base, path);
        let uri: Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| ClientError::InvalidPath {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
        let fetch = async {
            let mut response = inner.transport.get(uri).await.map_err(|e| match e {
                Failure::Connect(message) => ClientError::Connect {
                    url: url.clone(),
                    message,
                },
                Failure::OutOfFds(message) | Failure::Transport(message) => ClientError::Request {
                    url: url.clone(),
                    message,
                },
            })?;
            let status = response.status;
            let redirect = crate::response::redirect_note(status, &response.headers);
            let content_type = response
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let (body, complete) =
                crate::response::read_up_to(&mut response.body, MAX_GET_BODY_BYTES)
                    .await
                    .map_err(|e| ClientError::Request {
                        url: url.clone(),
                        message: format!("reading the body: {e}"),
                    })?;
            if !complete {
                return Err(ClientError::Request {
                    url: url.clone(),
                    message: if body.len() > MAX_GET_BODY_BYTES {
                        format!(
                            "reading the body: larger than {} MiB",
                            MAX_GET_BODY_BYTES / (1024 * 1024)
                        )
                    } else {
                        "reading the body: the connection failed before its end".to_owned()
                    },
                });
            }
            inner.transport.finish(response.body);
            Ok(GetResponse {
                status,
                content_type,
                redirect,
                body: Bytes::from(body),
            })
        };
        tokio::time::timeout(timeout, fetch)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.clone(),
                after: timeout,
            })?
    }

    /// The first model id of `GET /v1/models` (`data[0].id`).
    pub async fn first_model(&self) -> Result<String, ClientError> {
        let response = self.get("/v1/models").await?;
        let url = format!("{}/v1/models", self.inner.base);
        if !(200..300).contains(&response.status) {
            let text = String::from_utf8_lossy(&response.body);
            let mut message = crate::decode::error_message(&text);
            if let Some(note) = response.redirect {
                message = format!("{note}; {message}");
            }
            return Err(ClientError::Http {
                url,
                status: response.status,
                message: sanitize_error(&message),
            }
            .redacted(&self.inner.redactor));
        }
        crate::error::parse_first_model(&response.body).map_err(|reason| {
            ClientError::InvalidModels { url, reason }.redacted(&self.inner.redactor)
        })
    }
}

/// hyper's pooled client over plain TCP or rustls (webpki roots, ring).
fn hyper_client(config: &ClientConfig) -> Result<crate::transport::Http, ClientError> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(config.connect_timeout));
    tcp.set_keepalive(Some(Duration::from_secs(60)));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok(HyperClient::builder(TokioExecutor::new())
        .http1_max_buf_size(MAX_READ_BUF_BYTES)
        .pool_max_idle_per_host(config.pool_size.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector))
}

fn log_failure(record: &RequestRecord) {
    if !record.is_ok() {
        tracing::debug!(
            status = %record.status,
            http_status = ?record.http_status,
            error = record.error.as_deref().unwrap_or(""),
            "request failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_rejects_bad_headers() {
        let mut c = ClientConfig::new("http://127.0.0.1:1");
        c.headers = vec![("bad name".into(), "v".into())];
        assert!(matches!(
            Client::new(&c),
            Err(ClientError::InvalidHeader { .. })
        ));
        c.headers = vec![("X-Ok".into(), "bad\nvalue".into())];
        assert!(matches!(
            Client::new(&c),
            Err(ClientError::InvalidHeader { .. })
        ));
    }
}

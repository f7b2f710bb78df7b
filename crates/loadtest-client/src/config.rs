//! [`ClientConfig`]: where to connect and how, with secrets redacted from `Debug`.

use std::fmt;
use std::time::Duration;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default per-request deadline (connect to last byte), as `--timeout-s`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// Default number of idle keep-alive connections kept to the server.
pub const DEFAULT_POOL_SIZE: usize = 64;

/// Header names whose values are secrets: redacted by `Debug` and by
/// [`ClientConfig::redacted_headers`]. Any name holding one of [`SENSITIVE_NAME_PARTS`] is
/// too (see [`is_sensitive`]).
pub const SENSITIVE_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "cookie",
    "openai-organization",
];

/// How to reach the server. `Debug` never shows the api key or sensitive header values.
#[derive(Clone)]
pub struct ClientConfig {
    /// Server root, e.g. `http://localhost:8000` or `https://gateway/vllm`. A trailing `/` or
    /// `/v1` is dropped: the client appends `/v1/…`, `/version` and `/metrics` itself.
    pub base_url: String,
    /// Bearer token sent as `Authorization: Bearer …`.
    pub api_key: Option<String>,
    /// Extra headers on every request, as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Per-request deadline, from just before the request is sent to the last byte.
    pub request_timeout: Duration,
    /// Idle keep-alive connections kept open to the server: set it to the run's peak
    /// concurrency so that finished streams hand their connection to the next request.
    pub pool_size: usize,
    /// Which HTTP/1.1 implementation carries `http://` requests (`https://` always uses
    /// hyper and rustls).
    pub transport: HttpTransport,
}

/// Which HTTP/1.1 implementation carries `http://` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpTransport {
    /// The client's own HTTP/1.1 (the default): each request drives its connection in its
    /// own task, reads into one small buffer and hands body bytes to the SSE parser in
    /// place, and idle connections wait in a pool of their own.
    #[default]
    Native,
    /// hyper's pooled client: each connection runs in a task of its own and hands body
    /// frames to the request over a channel. Always used for `https://`.
    Hyper,
}

impl HttpTransport {
    /// `native` or `hyper`.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpTransport::Native => "native",
            HttpTransport::Hyper => "hyper",
        }
    }
}

impl std::str::FromStr for HttpTransport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "native" => Ok(HttpTransport::Native),
            "hyper" => Ok(HttpTransport::Hyper),
            other => Err(format!(
                "unknown HTTP client {other:?} (expected native or hyper)"
            )),
        }
    }
}

impl ClientConfig {
    /// A config for `base_url` with every other field at its default.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: None,
            headers: Vec::new(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            transport: HttpTransport::default(),
        }
    }

    /// The transport requests will use: [`transport`](Self::transport) for `http://`, hyper
    /// for anything else (`https://`).
    pub fn effective_transport(&self) -> HttpTransport {
        let http = self
            .base_url
            .trim_start()
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("http://"));
        if http {
            self.transport
        } else {
            HttpTransport::Hyper
        }
    }

    /// The extra headers with sensitive values replaced by `<redacted>` (for config.json).
    pub fn redacted_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let value = if is_sensitive(name) {
                    "<redacted>".to_owned()
                } else {
                    value.clone()
                };
                (name.clone(), value)
            })
            .collect()
    }
}

/// Parts of a header name that make its value a secret, compared case-insensitively:
/// `X-Auth-Token`, `Ocp-Apim-Subscription-Key`, `X-Goog-Api-Key`, `X-Db-Password`, …
pub const SENSITIVE_NAME_PARTS: [&str; 6] =
    ["key", "token", "secret", "auth", "password", "credential"];

/// Whether a header's value is a secret: one of [`SENSITIVE_HEADERS`], or a name holding one
/// of [`SENSITIVE_NAME_PARTS`].
pub fn is_sensitive(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    SENSITIVE_HEADERS.iter().any(|s| *s == name)
        || SENSITIVE_NAME_PARTS.iter().any(|part| name.contains(part))
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("headers", &self.redacted_headers())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("pool_size", &self.pool_size)
            .field("transport", &self.transport)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let mut c = ClientConfig::new("http://h:1");
        c.api_key = Some("sk-secret-123".into());
        c.headers = vec![
            ("Authorization".into(), "Bearer sk-other".into()),
            ("X-Trace".into(), "visible".into()),
        ];
        let s = format!("{c:?}");
        assert!(!s.contains("sk-secret-123"), "{s}");
        assert!(!s.contains("sk-other"), "{s}");
        assert!(s.contains("visible"), "{s}");
    }

    #[test]
    fn auth_like_names_are_sensitive() {
        for name in [
            "X-Auth-Token",
            "Ocp-Apim-Subscription-Key",
            "x-goog-api-key",
            "X-Client-Secret",
            "X-DB-PASSWORD",
            " Cookie ",
            "OpenAI-Organization",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["X-Trace", "Content-Type", "X-Request-Id"] {
            assert!(!is_sensitive(name), "{name}");
        }
    }
}

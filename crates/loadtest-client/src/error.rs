//! [`ClientError`]: what can go wrong building a client or in the preflight helpers. (Streaming
//! requests never error: their failures are a [`Status`](crate::Status) in the record.)

use std::time::Duration;

use serde::Deserialize;

/// An error from [`Client::new`](crate::Client::new), [`Client::get`](crate::Client::get) or
/// [`Client::first_model`](crate::Client::first_model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not `http(s)://host[:port][/prefix]`.
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A path given to [`Client::get`](crate::Client::get) does not form a valid URL.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A configured header (or the api key) cannot be sent. Its value is never shown.
    #[error("invalid header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS could not be set up.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// No connection could be made: the server is unreachable.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL requested.
        url: String,
        /// The transport's explanation.
        message: String,
    },
    /// No complete response within the request timeout.
    #[error("no response from {url} within {after:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout.
        after: Duration,
    },
    /// The connection failed after it was made.
    #[error("request to {url} failed: {message}")]
    Request {
        /// The URL requested.
        url: String,
        /// The transport's explanation.
        message: String,
    },
    /// The server answered with a non-2xx status.
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, sanitised.
        message: String,
    },
    /// `/v1/models` is not the expected JSON.
    #[error("{url} is not an OpenAI model list: {reason}")]
    InvalidModels {
        /// The URL requested.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl ClientError {
    /// Whether the server could not be reached at all (connect failure or timeout): the
    /// preflight's exit-code-2 case.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. } | ClientError::Timeout { .. }
        )
    }
}

impl ClientError {
    /// The same error with every configured secret replaced by `<redacted>` in its texts.
    pub fn redacted(self, redactor: &crate::Redactor) -> Self {
        let r = |text: String| redactor.redact(&text).into_owned();
        match self {
            ClientError::InvalidBaseUrl { url, reason } => ClientError::InvalidBaseUrl {
                url: r(url),
                reason: r(reason),
            },
            ClientError::InvalidPath { path, reason } => ClientError::InvalidPath {
                path: r(path),
                reason: r(reason),
            },
            ClientError::InvalidHeader { name, reason } => ClientError::InvalidHeader {
                name: r(name),
                reason: r(reason),
            },
            ClientError::Tls(message) => ClientError::Tls(r(message)),
            ClientError::Connect { url, message } => ClientError::Connect {
                url: r(url),
                message: r(message),
            },
            ClientError::Timeout { url, after } => ClientError::Timeout { url: r(url), after },
            ClientError::Request { url, message } => ClientError::Request {
                url: r(url),
                message: r(message),
            },
            ClientError::Http {
                url,
                status,
                message,
            } => ClientError::Http {
                url: r(url),
                status,
                message: crate::sanitize_error(&r(message)),
            },
            ClientError::InvalidModels { url, reason } => ClientError::InvalidModels {
                url: r(url),
                reason: r(reason),
            },
        }
    }
}

/// `EMFILE` (this process) and `ENFILE` (the whole system) on Linux and the BSDs.
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;

/// Whether `error` or one of its sources is this machine running out of file descriptors
/// (EMFILE/ENFILE): the client's own failure, not the server's.
pub(crate) fn out_of_file_descriptors(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(io.raw_os_error(), Some(EMFILE | ENFILE))
        {
            return cfg!(unix);
        }
        next = e.source();
    }
    false
}

/// An error and its sources, joined with `: ` (hyper's top-level messages alone are vague).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

/// `data[0].id` of a `/v1/models` body.
pub(crate) fn parse_first_model(body: &[u8]) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Models {
        data: Vec<Model>,
    }
    #[derive(Deserialize)]
    struct Model {
        id: String,
    }
    let models: Models = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    models
        .data
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or_else(|| "the server lists no model (`data` is empty)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emfile_is_found_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect failed")]
        struct Outer(#[source] std::io::Error);
        let emfile = Outer(std::io::Error::from_raw_os_error(EMFILE));
        assert_eq!(out_of_file_descriptors(&emfile), cfg!(unix));
        let refused = Outer(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!out_of_file_descriptors(&refused));
    }

    #[test]
    fn first_model_of_real_lists() {
        let vllm = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/vllm-0.32.0/models.json"
        ));
        assert_eq!(parse_first_model(vllm).unwrap(), "tiny-llama");
        let llama = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/llamacpp-0c1e57098/models.json"
        ));
        assert_eq!(parse_first_model(llama).unwrap(), "tiny-llama-f32.gguf");
        assert!(parse_first_model(br#"{"data":[]}"#).is_err());
        assert!(parse_first_model(b"<html>").is_err());
    }
}

//! HTTP/1.1 message heads: the request heads the client sends (built once per endpoint, only
//! `Content-Length` added per request) and the response head it reads, parsed with
//! `httparse` and bounded ([`MAX_HEAD_BYTES`], [`MAX_HEADERS`]).

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::framing::Framing;

/// The largest response head accepted (status line and headers): more than common servers
/// and proxies send (8 KiB is nginx's default limit).
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The most response headers accepted.
pub(crate) const MAX_HEADERS: usize = 100;

/// Headers the client writes itself (framing and connection management), never copied from
/// the configured headers.
const MANAGED: [&str; 4] = ["content-length", "transfer-encoding", "connection", "host"];
/// Headers a streaming POST sets itself (a configured value would break the request).
const POST_MANAGED: [&str; 2] = ["content-type", "accept"];

/// The fixed part of a request head: request line, `host` and the configured headers.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    bytes: Vec<u8>,
}

impl RequestHead {
    /// `METHOD path HTTP/1.1` and its headers, without the blank line. `host` is the URL's
    /// authority unless a `Host` header is configured.
    pub(crate) fn new(method: &str, path: &str, host: &str, headers: &HeaderMap) -> Self {
        let post = method == "POST";
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(method.as_bytes());
        bytes.push(b' ');
        bytes.extend_from_slice(path.as_bytes());
        bytes.extend_from_slice(b" HTTP/1.1\r\n");
        match headers.get(http::header::HOST) {
            Some(value) => push_header(&mut bytes, "host", value),
            None => {
                bytes.extend_from_slice(b"host: ");
                bytes.extend_from_slice(host.as_bytes());
                bytes.extend_from_slice(b"\r\n");
            }
        }
        if post {
            bytes.extend_from_slice(
                b"content-type: application/json\r\naccept: text/event-stream\r\n",
            );
        }
        for (name, value) in headers {
            let name = name.as_str();
            if MANAGED.contains(&name) || (post && POST_MANAGED.contains(&name)) {
                continue;
            }
            push_header(&mut bytes, name, value);
        }
        Self { bytes }
    }

    /// The whole request: this head, `content-length` when there is a body, the blank line
    /// and the body's parts.
    pub(crate) fn request(&self, body: &[&[u8]]) -> Vec<u8> {
        let len: usize = body.iter().map(|p| p.len()).sum();
        let mut out = Vec::with_capacity(self.bytes.len() + 40 + len);
        out.extend_from_slice(&self.bytes);
        if len > 0 {
            out.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        for part in body {
            out.extend_from_slice(part);
        }
        out
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: &HeaderValue) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    /// The status code.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// How the body ends.
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request once the body is read.
    pub(crate) keep_alive: bool,
}

/// A response head that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x, or a malformed status line or header.
    #[error("invalid HTTP response head: {0}")]
    Invalid(String),
    /// More than [`MAX_HEADERS`] headers.
    #[error("response head with more than {MAX_HEADERS} headers")]
    TooManyHeaders,
    /// `Content-Length` that is not one number.
    #[error("invalid Content-Length {0:?}")]
    BadContentLength(String),
}

/// What [`parse`] found in the bytes so far.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// The head is not complete yet.
    Partial,
    /// An informational (1xx) head of this many bytes, to skip: the real head follows.
    Informational(usize),
    /// The head, and its length in bytes.
    Complete(ResponseHead, usize),
}

/// Parses a response head from the start of `buf` (of a GET or POST: this client never sends
/// HEAD, so only 204 and 304 have no body).
pub(crate) fn parse(buf: &[u8]) -> Result<Parsed, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut slots);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(e) => return Err(HeadError::Invalid(e.to_string())),
    };
    let status = response.code.unwrap_or(0);
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Informational(len));
    }
    let mut headers = HeaderMap::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::Invalid("a header name".to_owned()))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| HeadError::Invalid(format!("the value of {name}")))?;
        headers.append(name, value);
    }
    let http11 = response.version == Some(1);
    let close_token = has_token(&headers, http::header::CONNECTION, "close");
    let (framing, framing_reusable) = framing(status, &headers)?;
    let keep_alive = http11 && !close_token && framing_reusable && status != 101;
    Ok(Parsed::Complete(
        ResponseHead {
            status,
            headers,
            framing,
            keep_alive,
        },
        len,
    ))
}

/// The body's framing (RFC 9112 §6.3), and whether the connection can be reused after it.
fn framing(status: u16, headers: &HeaderMap) -> Result<(Framing, bool), HeadError> {
    if status == 204 || status == 304 {
        return Ok((Framing::Length(0), true));
    }
    let encodings: Vec<&[u8]> = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
        .collect();
    if let Some(last) = encodings.last() {
        // With both, Transfer-Encoding wins and the connection must not be reused.
        let with_length = headers.contains_key(http::header::CONTENT_LENGTH);
        return Ok(if last.eq_ignore_ascii_case(b"chunked") {
            (Framing::Chunked, !with_length)
        } else {
            (Framing::Close, false)
        });
    }
    let mut length: Option<u64> = None;
    for value in headers.get_all(http::header::CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let text = String::from_utf8_lossy(part.trim_ascii()).into_owned();
            let n = text
                .parse::<u64>()
                .ok()
                .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| HeadError::BadContentLength(bounded(&text)))?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::BadContentLength(bounded(&text)));
            }
            length = Some(n);
        }
    }
    Ok(match length {
        Some(n) => (Framing::Length(n), true),
        None => (Framing::Close, false),
    })
}

/// Whether a comma-separated header holds `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// A server's text, short and without control characters (it ends up in an error message).
fn bounded(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(head: &str) -> ResponseHead {
        match parse(head.as_bytes()).unwrap() {
            Parsed::Complete(h, len) => {
                assert_eq!(len, head.len());
                h
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn request_heads_carry_host_type_and_headers_but_not_managed_ones() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer k"));
        headers.insert("content-length", HeaderValue::from_static("99"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("x-team", HeaderValue::from_static("a"));
        let head = RequestHead::new("POST", "/v1/chat/completions", "h:8000", &headers);
        let wire = String::from_utf8(head.request(&[b"{\"a\"", b":1}"])).unwrap();
        assert_eq!(
            wire,
            "POST /v1/chat/completions HTTP/1.1\r\nhost: h:8000\r\ncontent-type: application/json\r\n\
             accept: text/event-stream\r\nauthorization: Bearer k\r\nx-team: a\r\n\
             content-length: 7\r\n\r\n{\"a\":1}"
        );
        let get = RequestHead::new("GET", "/metrics", "h", &headers);
        let wire = String::from_utf8(get.request(&[])).unwrap();
        assert!(
            wire.starts_with("GET /metrics HTTP/1.1\r\nhost: h\r\n"),
            "{wire}"
        );
        assert!(wire.contains("accept: */*\r\n") && wire.ends_with("x-team: a\r\n\r\n"));
        headers.insert("host", HeaderValue::from_static("virtual"));
        let wire = String::from_utf8(get.request(&[])).unwrap();
        assert!(!wire.contains("virtual"));
        let wire = RequestHead::new("GET", "/", "h", &headers).request(&[]);
        assert!(
            String::from_utf8(wire)
                .unwrap()
                .contains("host: virtual\r\n")
        );
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let h = complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Chunked, true)
        );
        let h = complete("HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(12), true));
        let h = complete("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
        let h = complete("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h =
            complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = complete("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(0), true));
        let h = complete(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\ncontent-length: 1\r\n\r\n",
        );
        assert!(!h.keep_alive);
        let h = complete("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n");
        assert!(!h.keep_alive, "HTTP/1.0 connections are not reused");
    }

    #[test]
    fn informational_heads_are_skipped_and_partial_heads_wait() {
        assert!(matches!(
            parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
            Ok(Parsed::Informational(25))
        ));
        assert!(matches!(
            parse(b"HTTP/1.1 200 OK\r\ncontent-le"),
            Ok(Parsed::Partial)
        ));
        assert!(matches!(parse(b""), Ok(Parsed::Partial)));
    }

    #[test]
    fn hostile_heads_are_errors() {
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: +1\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(HeadError::BadContentLength(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        assert!(matches!(
            parse(b"HTTP/2 200\r\n\r\n"),
            Err(HeadError::Invalid(_))
        ));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        let head = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert_eq!(
            parse(head.as_bytes()).unwrap_err(),
            HeadError::TooManyHeaders
        );
        let long = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            "9".repeat(500)
        );
        let HeadError::BadContentLength(shown) = parse(long.as_bytes()).unwrap_err() else {
            panic!()
        };
        assert!(shown.len() <= 40);
    }
}

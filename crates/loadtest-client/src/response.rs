//! What a response that is not an SSE stream holds, said plainly: an error body's message, a
//! redirect's `Location`, a compressed body, a JSON body where a stream was asked for. Every
//! text here came from the network: the client redacts and sanitises it before it is kept.

use std::time::Instant;

use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, LOCATION};

use crate::transport::{Next, ResponseBody};

/// How much of an error body (or of a 200 answer that is not a stream) is read for its
/// message.
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The longest `Location` quoted, in characters.
const MAX_LOCATION_CHARS: usize = 200;

/// Reads a body until its end, or until more than `limit` bytes have come (the bytes so far
/// and `false`). An error before any byte is an error; after some, it ends the read.
pub(crate) async fn read_up_to(
    body: &mut ResponseBody,
    limit: usize,
) -> Result<(Vec<u8>, bool), String> {
    let mut buf = Vec::new();
    loop {
        match body.wait().await {
            Next::End => return Ok((buf, true)),
            Next::Error(e) if buf.is_empty() => return Err(e),
            Next::Error(_) => return Ok((buf, false)),
            Next::Data => match body.take(&mut |b| buf.extend_from_slice(b)) {
                Ok(true) if buf.len() <= limit => return Ok((buf, true)),
                Ok(_) if buf.len() > limit => return Ok((buf, false)),
                Ok(_) => {}
                Err(e) if buf.is_empty() => return Err(e),
                Err(_) => return Ok((buf, false)),
            },
        }
    }
}

/// Reads up to [`MAX_ERROR_BODY_BYTES`] of a body; an error after some bytes ends the read.
pub(crate) async fn read_head(body: &mut ResponseBody) -> Result<Vec<u8>, String> {
    let (mut buf, _) = read_up_to(body, MAX_ERROR_BODY_BYTES).await?;
    buf.truncate(MAX_ERROR_BODY_BYTES);
    Ok(buf)
}

/// Reads what is left of a body (after `[DONE]`) until its end or `until`, so that the
/// connection can be reused; anything read is ignored.
pub(crate) async fn drain(body: &mut ResponseBody, until: Instant) {
    let _ = tokio::time::timeout_at(until.into(), async {
        while let Next::Data = body.wait().await {
            match body.take(&mut |_| {}) {
                Ok(false) => {}
                Ok(true) | Err(_) => break,
            }
        }
    })
    .await;
}

/// The message of a non-2xx answer: its body's error message, and for a redirect where it
/// points (redirects are not followed).
pub(crate) async fn error_message(
    http_status: u16,
    headers: &HeaderMap,
    body: &mut ResponseBody,
) -> String {
    let message = match read_head(body).await {
        Ok(buf) if is_gzip(headers, &buf) => "(a gzip-compressed error body)".to_owned(),
        Ok(buf) => crate::decode::error_message(&String::from_utf8_lossy(&buf)),
        Err(e) => format!("(error body cut off: {e})"),
    };
    match redirect_note(http_status, headers) {
        Some(note) if message.trim().is_empty() => note,
        Some(note) => format!("{note}; {message}"),
        None => message,
    }
}

/// `redirected to <Location> (not followed: give the final URL as the base URL)` for a
/// 3xx answer.
pub(crate) fn redirect_note(http_status: u16, headers: &HeaderMap) -> Option<String> {
    if !(300..400).contains(&http_status) {
        return None;
    }
    let location = headers
        .get(LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Some(match location {
        Some(location) => {
            let mut shown: String = crate::redact::redact_url(&location)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(MAX_LOCATION_CHARS)
                .collect();
            if location.chars().count() > MAX_LOCATION_CHARS {
                shown.push('…');
            }
            format!("redirected to {shown} (redirects are not followed: give the final URL)")
        }
        None => "a redirect without a Location (redirects are not followed)".to_owned(),
    })
}

/// Why a 2xx answer cannot be an SSE stream, judged from its headers alone: a compressed
/// body, or a content type that says JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotAStream {
    /// `Content-Encoding` other than `identity`.
    Encoded(String),
    /// `Content-Type: application/json` (or another `+json`).
    Json,
}

/// What the headers of a 2xx answer say, when they rule out a stream.
pub(crate) fn not_a_stream(headers: &HeaderMap) -> Option<NotAStream> {
    if let Some(encoding) = headers.get(CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes())
            .trim()
            .to_owned();
        if !encoding.is_empty() && !encoding.eq_ignore_ascii_case("identity") {
            let shown: String = encoding
                .chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect();
            return Some(NotAStream::Encoded(shown));
        }
    }
    let content_type = headers
        .get(CONTENT_TYPE)?
        .to_str()
        .ok()?
        .to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    (mime == "application/json" || mime.ends_with("+json")).then_some(NotAStream::Json)
}

/// The error text of a 2xx answer that is JSON, not a stream: the server's own error message
/// when the body is an error object, else a note that a whole answer came back.
pub(crate) fn describe_json_200(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return "HTTP 200 with a JSON content type but a body that is not JSON, not an SSE stream"
            .to_owned();
    };
    let is_error = value.get("error").is_some_and(|e| !e.is_null())
        || value.get("object").and_then(|o| o.as_str()) == Some("error");
    if is_error {
        format!(
            "HTTP 200 with a JSON error body, not an SSE stream: {}",
            crate::decode::error_message(&text)
        )
    } else {
        "HTTP 200 with a whole JSON answer, not an SSE stream (the server ignored \"stream\": true?)"
            .to_owned()
    }
}

/// Whether a body is gzip: by its header, or by its magic bytes.
fn is_gzip(headers: &HeaderMap, head: &[u8]) -> bool {
    matches!(not_a_stream(headers), Some(NotAStream::Encoded(_))) || head.starts_with(&[0x1f, 0x8b])
}

/// The error text of a 2xx answer whose `Content-Encoding` is not identity.
pub(crate) fn describe_encoded(encoding: &str) -> String {
    format!(
        "the response body is compressed (Content-Encoding: {encoding}), not a plain SSE stream: \
         a proxy or server compressed it although none was asked for"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_say_what_they_are() {
        let e = describe_json_200(br#"{"error":{"message":"model is down","code":503}}"#);
        assert!(
            e.contains("JSON error body") && e.contains("model is down"),
            "{e}"
        );
        let e = describe_json_200(br#"{"object":"error","message":"bad things"}"#);
        assert!(
            e.contains("JSON error body") && e.contains("bad things"),
            "{e}"
        );
        let e = describe_json_200(br#"{"id":"x","object":"chat.completion","choices":[]}"#);
        assert!(e.contains("whole JSON answer"), "{e}");
        assert!(describe_json_200(b"<html>").contains("not JSON"));
    }

    #[test]
    fn redirects_name_their_location_bounded() {
        let mut h = HeaderMap::new();
        assert_eq!(redirect_note(200, &h), None);
        assert!(
            redirect_note(301, &h)
                .unwrap()
                .contains("without a Location")
        );
        h.insert(LOCATION, "https://u:pw@other/v1?token=t".parse().unwrap());
        let note = redirect_note(307, &h).unwrap();
        assert!(
            note.contains("https://<redacted>@other/v1?token=<redacted>"),
            "{note}"
        );
        h.insert(LOCATION, "x".repeat(5000).parse().unwrap());
        assert!(redirect_note(308, &h).unwrap().len() < 400);
    }
}

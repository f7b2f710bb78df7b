//! [`normalize_base_url`]: the base URL as the client uses it; credentials and query strings
//! are refused, and the refusal never shows them.

use http::Uri;

use crate::error::ClientError;
use crate::redact::redact_url;

/// The base URL the client uses for `url`: `scheme://authority[/prefix]` with no trailing
/// `/` and no trailing `/v1` (the OpenAI SDK habit of `http://host:8000/v1`); the client
/// appends `/v1/…`, `/version` and `/metrics` itself.
///
/// ```
/// assert_eq!(
///     loadtest_client::normalize_base_url("http://localhost:8000/v1/").unwrap(),
///     "http://localhost:8000"
/// );
/// ```
pub fn normalize_base_url(url: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::InvalidBaseUrl {
        url: redact_url(url),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => "http",
        Some(s) if s.eq_ignore_ascii_case("https") => "https",
        Some(other) => return Err(bad(&format!("scheme {other:?} is not http or https"))),
        None => return Err(bad("no scheme (expected http://host:port or https://host)")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "credentials in the URL (user:password@) are not sent: give the key with --api-key or \
             a header (--header 'Authorization: Basic …')",
        ));
    }
    if uri.query().is_some() {
        return Err(bad(
            "a query string is not allowed (a ?token= goes in a header: --header 'Name: value')",
        ));
    }
    let mut path = uri.path().trim_end_matches('/');
    if let Some(prefix) = path.strip_suffix("/v1") {
        path = prefix;
    }
    Ok(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_normalisation() {
        let n = |s| normalize_base_url(s).unwrap();
        assert_eq!(n("http://localhost:8000"), "http://localhost:8000");
        assert_eq!(n("http://localhost:8000/"), "http://localhost:8000");
        assert_eq!(n("http://localhost:8000/v1/"), "http://localhost:8000");
        assert_eq!(n("HTTPS://gw.example/vllm/v1"), "https://gw.example/vllm");
        assert!(normalize_base_url("localhost:8000").is_err());
        assert!(normalize_base_url("ftp://h").is_err());
        assert!(normalize_base_url("http://h/?a=1").is_err());
        assert!(normalize_base_url("not a url").is_err());
        let err = normalize_base_url("http://me:pa55word@h:1/v1")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("credentials") && !err.contains("pa55word"),
            "{err}"
        );
        let err = normalize_base_url("http://h:1/v1?token=sekrit")
            .unwrap_err()
            .to_string();
        assert!(err.contains("query") && !err.contains("sekrit"), "{err}");
    }
}

//! [`Redactor`]: removes every configured secret (the api key, the values of secret-bearing
//! headers) from text that came from the network, before anything stores, prints or logs it.
//! A server that answers `401 invalid key: Bearer sk-…` must not get the key written into
//! `requests.jsonl` or onto the terminal.
//!
//! The [`Client`](crate::Client) holds one, built from its [`ClientConfig`], and applies it at
//! one boundary: every [`RequestRecord`](crate::RequestRecord) error, every
//! [`ClientError`](crate::ClientError) and every [`GetResponse`](crate::GetResponse) body
//! leaves the client redacted.
//!
//! ```
//! use loadtest_client::{ClientConfig, Redactor};
//!
//! let mut config = ClientConfig::new("http://h:8000");
//! config.api_key = Some("sk-live-123456".into());
//! config.headers = vec![("X-Auth-Token".into(), "tok-abcdef".into())];
//! let r = Redactor::from_config(&config);
//! assert_eq!(
//!     r.redact("invalid key: Bearer sk-live-123456 (tok-abcdef)"),
//!     "invalid key: Bearer <redacted> (<redacted>)"
//! );
//! ```

use std::borrow::Cow;

use crate::config::{ClientConfig, is_sensitive};

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Secrets shorter than this many bytes are not searched for: replacing every `ab` of a
/// message would mangle it, and a leak of so short a value gives little away.
pub const MIN_SECRET_BYTES: usize = 4;

/// The secrets of one configuration, longest first (so a secret that contains another is
/// replaced whole).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for these secret values. Each value is also split at whitespace, so that
    /// the credential of `Bearer sk-…` or `Basic dXNl…` is found without its scheme.
    pub fn new<I, S>(values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut secrets: Vec<String> = Vec::new();
        for value in values {
            let value = value.as_ref().trim();
            let parts = std::iter::once(value).chain(value.split_whitespace());
            for part in parts {
                if part.len() >= MIN_SECRET_BYTES && !secrets.iter().any(|s| s == part) {
                    secrets.push(part.to_owned());
                }
            }
        }
        // Auth schemes alone are no secret: `Bearer` must stay readable.
        secrets.retain(|s| !is_auth_scheme(s));
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Self { secrets }
    }

    /// The api key and the value of every sensitive header (see
    /// [`is_sensitive`](crate::is_sensitive)) of `config`.
    pub fn from_config(config: &ClientConfig) -> Self {
        let key = config.api_key.iter().map(String::as_str);
        let headers = config
            .headers
            .iter()
            .filter(|(name, _)| is_sensitive(name))
            .map(|(_, value)| value.as_str());
        Self::new(key.chain(headers))
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every secret replaced by [`REDACTED`]. A text cut short with `…` (see
    /// [`sanitize_error`](crate::sanitize_error)) that ends in the first
    /// [`MIN_SECRET_BYTES`] or more bytes of a secret has that beginning replaced too.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.secrets.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        if let Some(head) = out.strip_suffix('…')
            && let Some(cut) = self.cut_secret_at_end(head)
        {
            out = Cow::Owned(format!("{}{REDACTED}…", &head[..cut]));
        }
        out
    }

    /// Redacts bytes (a response body); they are copied only when a secret is found.
    pub fn redact_bytes(&self, body: bytes::Bytes) -> bytes::Bytes {
        let found = self
            .secrets
            .iter()
            .any(|s| memchr::memmem::find(&body, s.as_bytes()).is_some());
        if !found {
            return body;
        }
        let mut out = body.to_vec();
        for secret in &self.secrets {
            let mut replaced = Vec::with_capacity(out.len());
            let mut rest = &out[..];
            while let Some(at) = memchr::memmem::find(rest, secret.as_bytes()) {
                replaced.extend_from_slice(&rest[..at]);
                replaced.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[at + secret.len()..];
            }
            replaced.extend_from_slice(rest);
            out = replaced;
        }
        bytes::Bytes::from(out)
    }

    /// Where in `head` a secret's beginning (at least [`MIN_SECRET_BYTES`] long) runs to the
    /// end, if one does.
    fn cut_secret_at_end(&self, head: &str) -> Option<usize> {
        self.secrets
            .iter()
            .filter_map(|secret| {
                (MIN_SECRET_BYTES..secret.len())
                    .rev()
                    .filter(|&n| secret.is_char_boundary(n))
                    .find(|&n| head.ends_with(&secret[..n]))
                    .map(|n| head.len() - n)
            })
            .min()
    }
}

/// `Bearer`, `Basic`, … (compared case-insensitively).
fn is_auth_scheme(word: &str) -> bool {
    ["bearer", "basic", "digest", "token", "apikey"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(word))
}

/// `url` with its userinfo (`user:pass@`) and every query value replaced by [`REDACTED`],
/// for error messages about a URL the user gave.
///
/// ```
/// assert_eq!(
///     loadtest_client::redact_url("http://u:p4ss@h:1/v1?token=abc&x=1"),
///     "http://<redacted>@h:1/v1?token=<redacted>&x=<redacted>"
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.find("://") {
        Some(scheme_end) => {
            let rest = &head[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{}{REDACTED}{}", &head[..scheme_end + 3], &rest[at..]),
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}={REDACTED}"),
                None => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_and_its_credential_part() {
        let mut c = ClientConfig::new("http://h:1");
        c.api_key = Some(" sk-key-1 ".into());
        c.headers = vec![
            ("Authorization".into(), "Basic dXNlcjpwYXNz".into()),
            ("Ocp-Apim-Subscription-Key".into(), "ocp-123".into()),
            ("X-My-Password".into(), "hunter22".into()),
            ("X-Trace".into(), "visible-trace".into()),
            ("X-Short-Token".into(), "abc".into()),
        ];
        let r = Redactor::from_config(&c);
        let text = "sk-key-1 dXNlcjpwYXNz ocp-123 hunter22 visible-trace abc Basic Bearer";
        assert_eq!(
            r.redact(text),
            "<redacted> <redacted> <redacted> <redacted> visible-trace abc Basic Bearer"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::from_config(&ClientConfig::new("http://h")).is_empty());
    }

    #[test]
    fn a_secret_cut_by_the_length_limit_is_redacted_too() {
        let r = Redactor::new(["sk-0123456789"]);
        assert_eq!(r.redact("key: sk-0123…"), "key: <redacted>…");
        assert_eq!(r.redact("key: sk-…"), "key: sk-…");
        assert_eq!(r.redact("key: sk-0123"), "key: sk-0123");
    }

    #[test]
    fn bytes_are_copied_only_when_a_secret_is_found() {
        let r = Redactor::new(["sk-0123456789"]);
        let body = bytes::Bytes::from_static(b"a sk-0123456789 b sk-0123456789");
        assert_eq!(&r.redact_bytes(body)[..], b"a <redacted> b <redacted>");
        let clean = bytes::Bytes::from_static(b"clean");
        assert_eq!(r.redact_bytes(clean.clone()).as_ptr(), clean.as_ptr());
    }

    #[test]
    fn urls_lose_userinfo_and_query_values() {
        assert_eq!(redact_url("http://h:1/x"), "http://h:1/x");
        assert_eq!(redact_url("https://a@h/"), "https://<redacted>@h/");
        assert_eq!(redact_url("h?k"), "h?k");
    }
}

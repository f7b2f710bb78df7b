//! A `GET` of a scrape URL (http:// or https://) through [`loadtest_client::Client`]: bounded
//! body ([`loadtest_client::MAX_GET_BODY_BYTES`]), one deadline from connect to last byte, no redirects.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use loadtest_client::{Client, ClientConfig};

/// How much of an error body is read for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// A fetched scrape: its body and `Content-Type`, as the server sent them (untrusted).
#[derive(Debug)]
pub(super) struct Fetched {
    /// The whole body, at most [`loadtest_client::MAX_GET_BODY_BYTES`].
    pub body: Vec<u8>,
    /// The `Content-Type` header, if any and readable.
    pub content_type: Option<String>,
}

/// GETs `url` and returns a 2xx answer; any other status is an error naming it.
pub(super) fn http_get(url: &str, timeout: Duration) -> anyhow::Result<Fetched> {
    let target = Target::parse(url)?;
    let mut config = ClientConfig::new(target.base.clone());
    config.connect_timeout = timeout;
    config.request_timeout = timeout;
    config.pool_size = 1;
    let client = Client::new(&config).map_err(|e| anyhow!("invalid URL {url}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    // The client's errors already name the URL (and say connect / timeout / read).
    let response = runtime.block_on(client.get_with_timeout(&target.path, timeout))?;
    if !(200..300).contains(&response.status) {
        let end = response.body.len().min(MAX_ERROR_BODY_BYTES);
        let text = String::from_utf8_lossy(&response.body[..end]);
        let message =
            loadtest_client::sanitize_error(&loadtest_client::decode::error_message(&text));
        let status = response.status;
        if message.is_empty() {
            bail!("GET {url}: HTTP {status} (expected 200 and a Prometheus scrape)");
        }
        bail!("GET {url}: HTTP {status}: {message}");
    }
    Ok(Fetched {
        body: response.body.into(),
        content_type: response.content_type,
    })
}

/// A URL split into the client's base (`scheme://authority`) and the path (and query) to GET.
#[derive(Debug, PartialEq)]
struct Target {
    base: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            ("https", &url[8..])
        } else if lower.starts_with("http://") {
            ("http", &url[7..])
        } else {
            bail!("invalid URL {url}: expected http:// or https://");
        };
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if let Some((_, host)) = authority.rsplit_once('@') {
            // Never echo the credentials.
            bail!(
                "invalid URL {scheme}://<redacted>@{host}{path}: user info (credentials) in a \
                 scrape URL is not supported"
            );
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("invalid URL {url}: unclosed '[' in the host"))?;
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => bail!("invalid URL {url}: expected ':port' after ']'"),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("invalid URL {url}: no host");
        }
        if let Some(port) = port.filter(|p| !p.is_empty()) {
            port.parse::<u16>()
                .map_err(|_| anyhow!("invalid URL {url}: port {port:?} is not a number 0-65535"))?;
        }
        let path = if path.is_empty() {
            "/".to_owned()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_owned()
        };
        Ok(Self {
            base: format!("{scheme}://{authority}"),
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, String) {
        let t = Target::parse(url).unwrap();
        (t.base, t.path)
    }

    #[test]
    fn urls() {
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            parts("http://127.0.0.1:8000/metrics"),
            p("http://127.0.0.1:8000", "/metrics")
        );
        assert_eq!(
            parts("HTTPS://gw.example/vllm/metrics"),
            p("https://gw.example", "/vllm/metrics")
        );
        assert_eq!(
            parts("HTTP://example.invalid"),
            p("http://example.invalid", "/")
        );
        assert_eq!(
            parts("http://[::1]:9/m?name[]=x#frag"),
            p("http://[::1]:9", "/m?name[]=x")
        );
        assert_eq!(parts("http://h:1?x=1"), p("http://h:1", "/?x=1"));
        // A path ending in /v1 is kept (the client drops /v1 only from its base).
        assert_eq!(parts("http://h/v1"), p("http://h", "/v1"));
        assert!(Target::parse("http://h:99999/").is_err());
        assert!(Target::parse("http:///metrics").is_err());
        assert!(Target::parse("ftp://h/").is_err());
        assert!(Target::parse("http://[::1/").is_err());
    }

    #[test]
    fn credentials_are_refused_without_being_echoed() {
        let err = Target::parse("https://user:s3cret@h:8000/metrics")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!err.contains("user:"), "{err}");
        assert!(err.contains("https://<redacted>@h:8000/metrics"), "{err}");
    }
}

//! A minimal HTTP/1.1 GET over a plain tokio `TcpStream` (http:// only, no TLS, no redirects,
//! no compression): enough to read a `/metrics` page.

use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Largest body accepted (a vLLM scrape is ~60 KB).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// GETs `url` and returns the body of a 2xx answer.
pub(super) fn http_get(url: &str, timeout: Duration) -> anyhow::Result<Vec<u8>> {
    let target = Target::parse(url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    runtime
        .block_on(async { tokio::time::timeout(timeout, target.get()).await })
        .map_err(|_| {
            anyhow!(
                "GET {url}: no complete answer within {} s",
                timeout.as_secs_f64()
            )
        })?
        .with_context(|| format!("GET {url}"))
}

#[derive(Debug, PartialEq)]
struct Target {
    host: String,
    port: u16,
    /// `host[:port]` as written, for the Host header.
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .get(..7)
            .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
            .ok_or_else(|| anyhow!("{url:?} is not an http:// URL"))?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let path = path.split('#').next().unwrap_or("/").to_owned();
        if authority.contains('@') {
            bail!("{url:?}: user info in URLs is not supported");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("{url:?}: unclosed '[' in host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            bail!("{url:?}: no host");
        }
        let port = match port {
            None | Some("") => 80,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| anyhow!("{url:?}: port {p:?} is not a number 0-65535"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            authority: authority.to_owned(),
            path,
        })
    }

    async fn get(&self) -> anyhow::Result<Vec<u8>> {
        let mut stream = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("cannot connect to {}:{}", self.host, self.port))?;
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: text/plain\r\nUser-Agent: vllm-loadtest\r\nConnection: close\r\n\r\n",
            self.path, self.authority
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut raw)
            .await
            .context("reading the answer")?;
        if raw.len() as u64 > MAX_RESPONSE_BYTES {
            bail!("answer larger than {MAX_RESPONSE_BYTES} bytes");
        }
        body_of(&raw)
    }
}

/// The body of a raw HTTP/1.x answer read until the server closed the connection.
fn body_of(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let end = memchr_find(raw, b"\r\n\r\n").ok_or_else(|| anyhow!("no complete HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x answer: {status:?}");
    }
    let code: u16 = code
        .parse()
        .map_err(|_| anyhow!("bad status line {status:?}"))?;
    if !(200..300).contains(&code) {
        bail!("HTTP {code}: {}", parts.next().unwrap_or("").trim());
    }
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "content-length" => {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| anyhow!("bad Content-Length {value:?}"))?,
                );
            }
            "content-encoding" if !value.eq_ignore_ascii_case("identity") => {
                bail!("compressed answer (Content-Encoding: {value}) is not supported");
            }
            _ => {}
        }
    }
    if chunked {
        return dechunk(body);
    }
    match length {
        Some(n) if body.len() < n => bail!("answer cut short: {} of {n} bytes", body.len()),
        Some(n) => Ok(body[..n].to_vec()),
        None => Ok(body.to_vec()),
    }
}

/// Decodes `Transfer-Encoding: chunked`.
fn dechunk(mut rest: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end =
            memchr_find(rest, b"\r\n").ok_or_else(|| anyhow!("chunk size line cut short"))?;
        let size_line =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| anyhow!("bad chunk size"))?;
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| anyhow!("bad chunk size {size_hex:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            bail!("chunk cut short");
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://127.0.0.1:8000/metrics").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8000, "/metrics")
        );
        let t = Target::parse("HTTP://example.invalid").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = Target::parse("http://[::1]:9/m?name[]=x#frag").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9, "/m?name[]=x")
        );
        assert!(Target::parse("http://h:99999/").is_err());
        assert!(Target::parse("ftp://h/").is_err());
    }

    #[test]
    fn bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef";
        assert_eq!(body_of(raw).unwrap(), b"abc");
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(body_of(raw).unwrap(), b"abcde");
        let raw = b"HTTP/1.1 503 Service Unavailable\r\n\r\n";
        assert!(body_of(raw).unwrap_err().to_string().contains("HTTP 503"));
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        assert!(body_of(raw).is_err());
    }
}

//! The client's own HTTP/1.1 for `http://` servers ([`HttpTransport::Native`]).
//!
//! Why not hyper's pooled client here: it runs every connection in a task of its own and
//! hands each body frame to the request's task over a channel, so one SSE chunk costs two
//! task wake-ups, and each connection carries a request channel, a write buffer and a read
//! buffer that grows (≈ 21 KiB of the ≈ 31 KiB a stream cost at 10,000 streams). Here the
//! request's own task writes the request, reads the response into one small buffer
//! ([`READ_BUF_BYTES`]) and hands body bytes to the SSE parser in place: one wake-up per read,
//! and nothing else per connection.
//!
//! - **Framing**: `Content-Length`, `chunked` (extensions and trailers bounded and skipped) or
//!   until close ([`framing`]); heads parsed with `httparse`, at most [`MAX_HEAD_BYTES`]
//!   ([`head`]).
//! - **Keep-alive**: a connection goes back to the pool only when its body was read to the end
//!   with nothing after it, the server is HTTP/1.1 and did not say `Connection: close`. The
//!   pool holds at most `pool_size` idle connections; one idle longer than [`MAX_IDLE`], or
//!   readable while idle (the server closed it), is dropped when next taken.
//! - **A stale connection** (the server closed it while idle, just as a request was written):
//!   when a *reused* connection ends before any byte of a response, the request is sent once
//!   more on a new connection. The request's timings still start at the first attempt.
//!
//! [`HttpTransport::Native`]: crate::HttpTransport::Native
//! [`READ_BUF_BYTES`]: conn::READ_BUF_BYTES
//! [`MAX_HEAD_BYTES`]: head::MAX_HEAD_BYTES

pub(crate) mod conn;
pub(crate) mod framing;
pub(crate) mod head;

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use http::HeaderMap;

use conn::{Conn, ReadHeadError};
use framing::BodyDecoder;
use head::{RequestHead, ResponseHead};

/// An idle connection older than this is closed rather than reused (servers close idle
/// keep-alive connections after a few seconds to minutes; uvicorn, vLLM's server, after 5 s,
/// which the readability check catches).
pub(crate) const MAX_IDLE: Duration = Duration::from_secs(60);

/// Why a request got no response head.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made.
    Connect(io::Error),
    /// The connection failed after it was made (or the head was unusable).
    Transport(String),
}

/// The native transport to one server.
#[derive(Debug)]
pub(crate) struct Native {
    /// `host:port` to resolve and connect to.
    addr: String,
    /// The `Host` header's value: the URL's authority.
    host: String,
    headers: HeaderMap,
    connect_timeout: Duration,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
}

impl Native {
    /// A transport for `http://{authority}`, sending `headers` with every request.
    pub(crate) fn new(
        authority: &http::uri::Authority,
        headers: HeaderMap,
        connect_timeout: Duration,
        max_idle: usize,
    ) -> Self {
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host();
        // `host()` keeps an IPv6 literal's brackets, which `lookup_host` needs.
        let addr = format!("{host}:{port}");
        Self {
            addr,
            host: authority.as_str().to_owned(),
            headers,
            connect_timeout,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    /// The fixed head of requests to `path_and_query` (the URI's, already validated).
    pub(crate) fn head(&self, method: &str, path_and_query: &str) -> RequestHead {
        RequestHead::new(method, path_and_query, &self.host, &self.headers)
    }

    /// Sends a request (head and body parts) and reads the response head.
    pub(crate) async fn send(
        &self,
        head: &RequestHead,
        body: &[&[u8]],
    ) -> Result<(ResponseHead, NativeBody), SendError> {
        let request = head.request(body);
        loop {
            let mut conn = match self.checkout() {
                Some(conn) => conn,
                None => self.connect().await.map_err(SendError::Connect)?,
            };
            let reused = conn.reused;
            let result = match conn.write(&request).await {
                Ok(()) => conn.read_head().await,
                Err(e) if conn::is_closed(&e) => Err(ReadHeadError::ClosedBeforeResponse(Some(e))),
                Err(e) => Err(ReadHeadError::Io(e)),
            };
            match result {
                Ok(head) => {
                    let decoder = BodyDecoder::new(head.framing);
                    let keep_alive = head.keep_alive;
                    let body = NativeBody {
                        conn,
                        decoder,
                        keep_alive,
                        broken: false,
                    };
                    return Ok((head, body));
                }
                Err(ReadHeadError::ClosedBeforeResponse(_)) if reused => {
                    tracing::debug!("a reused connection was closed by the server; retrying");
                }
                Err(e) => return Err(SendError::Transport(e.to_string())),
            }
        }
    }

    /// An idle connection that still looks usable, if any.
    fn checkout(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(conn) = idle.pop() {
            if conn.idle_for() <= MAX_IDLE && conn.looks_alive() {
                return Some(conn);
            }
        }
        None
    }

    /// Hands a connection whose body was read to its end back to the pool.
    pub(crate) fn give_back(&self, body: NativeBody) {
        let Some(mut conn) = body.into_reusable() else {
            return;
        };
        conn.park();
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// A new connection (each resolved address in turn, within the connect timeout).
    async fn connect(&self) -> io::Result<Conn> {
        let attempt = async {
            let mut last = None;
            for addr in tokio::net::lookup_host(&self.addr).await? {
                match connect_to(addr).await {
                    Ok(conn) => return Ok(conn),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "the host name resolves to no address",
                )
            }))
        };
        match tokio::time::timeout(self.connect_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connect timed out after {:.1} s",
                    self.connect_timeout.as_secs_f64()
                ),
            )),
        }
    }
}

async fn connect_to(addr: SocketAddr) -> io::Result<Conn> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(60));
    // Keep-alive probes are a nicety (NATs dropping a long-idle stream); not fatal.
    if let Err(e) = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "TCP keep-alive not set");
    }
    Ok(Conn::new(stream))
}

/// What the next read of a body brought.
#[derive(Debug)]
pub(crate) enum Next {
    /// Bytes: take them with `take`.
    Data,
    /// The body is complete.
    End,
    /// The body failed; the text says how.
    Error(String),
}

/// A response body being read from its connection.
#[derive(Debug)]
pub(crate) struct NativeBody {
    conn: Conn,
    decoder: BodyDecoder,
    keep_alive: bool,
    broken: bool,
}

impl NativeBody {
    /// Waits for body bytes (at once when some are buffered). Cancel-safe.
    pub(crate) async fn wait(&mut self) -> Next {
        if self.broken {
            return Next::Error("the body already failed".to_owned());
        }
        if self.decoder.is_done() {
            return Next::End;
        }
        if self.conn.has_buffered() {
            return Next::Data;
        }
        match self.conn.fill().await {
            Ok(0) => {
                if self.decoder.on_eof() {
                    // A close-delimited body: complete, but its connection is gone.
                    self.keep_alive = false;
                    Next::End
                } else {
                    self.broken = true;
                    Next::Error(
                        "connection dropped mid-stream: the server closed the connection \
                         before the body's end"
                            .to_owned(),
                    )
                }
            }
            Ok(_) => Next::Data,
            Err(e) => {
                self.broken = true;
                Next::Error(format!("connection dropped mid-stream: {e}"))
            }
        }
    }

    /// When the bytes [`wait`](Self::wait) brought arrived ([`Conn::arrival`]).
    pub(crate) fn arrival(&self) -> (std::time::Instant, bool) {
        self.conn.arrival()
    }

    /// Hands the buffered payload to `data`; `Ok(true)` when the body is now complete.
    pub(crate) fn take(&mut self, data: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self.conn.decode(&mut self.decoder, data) {
            Ok(decoded) => Ok(decoded.done),
            Err(e) => {
                self.broken = true;
                Err(format!("invalid HTTP body framing: {e}"))
            }
        }
    }

    /// The connection, if it can carry another request.
    fn into_reusable(self) -> Option<Conn> {
        (self.keep_alive && !self.broken && self.decoder.is_done() && !self.conn.has_buffered())
            .then_some(self.conn)
    }
}

/// The response parser and body decoder on arbitrary bytes, as the fuzz target drives them:
/// the first byte picks a split point, the rest is a response (head and body) read in two
/// pieces. Checks what must hold for any input: no panic, no more payload than body bytes.
#[doc(hidden)]
pub fn fuzz_response(data: &[u8]) {
    let Some((&split, wire)) = data.split_first() else {
        return;
    };
    let mut at = 0;
    let head = loop {
        match head::parse(&wire[at..]) {
            Ok(head::Parsed::Complete(head, len)) => {
                at += len;
                break head;
            }
            Ok(head::Parsed::Informational(len)) => at += len,
            Ok(head::Parsed::Partial) | Err(_) => return,
        }
    };
    let body = &wire[at..];
    let cut = (usize::from(split) * body.len()) / 255;
    let mut decoder = BodyDecoder::new(head.framing);
    let mut payload = 0usize;
    let mut pending = body[..cut].to_vec();
    for piece in [&body[..0], &body[cut..]] {
        pending.extend_from_slice(piece);
        match decoder.decode(&pending, &mut |d| payload += d.len()) {
            Ok(d) => {
                assert!(d.consumed <= pending.len());
                pending.drain(..d.consumed);
                if d.done {
                    break;
                }
            }
            Err(_) => return,
        }
    }
    assert!(payload <= body.len(), "more payload than body bytes");
}

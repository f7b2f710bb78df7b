//! One keep-alive TCP connection and its read buffer, driven by the task of the request that
//! holds it: a read wakes that task and no other, and body bytes are handed on in place.

use std::io;
use std::time::{Duration, Instant};

use loadtest_net::RxStamp;
use tokio::io::{AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::framing::{BodyDecoder, Decoded, FramingError};
use super::head::{self, HeadError, MAX_HEAD_BYTES, Parsed, ResponseHead};

/// A connection's read buffer, to start with: a stream's events are a few hundred bytes per
/// read; a response head that does not fit doubles it, up to [`MAX_HEAD_BYTES`].
pub(crate) const READ_BUF_BYTES: usize = 4096;

/// Why no response head was read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadHeadError {
    /// The connection ended (closed or reset) before any byte of a response: on a reused
    /// connection, the server had closed it while it was idle.
    #[error("the connection closed before any response{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    ClosedBeforeResponse(Option<io::Error>),
    /// The connection ended in the middle of the head.
    #[error("the connection closed in the middle of the response head")]
    ClosedInHead,
    /// The head is larger than [`MAX_HEAD_BYTES`].
    #[error("response head larger than {} KiB", MAX_HEAD_BYTES / 1024)]
    TooLarge,
    /// A transport error after some bytes.
    #[error("reading the response head: {0}")]
    Io(io::Error),
    /// Not a usable HTTP/1.1 head.
    #[error(transparent)]
    Head(#[from] HeadError),
}

/// A connection: the socket, its read buffer (`buf[start..end]` not yet used) and when it
/// went idle.
#[derive(Debug)]
pub(crate) struct Conn {
    io: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// When it was last handed back to the pool.
    idle_since: Instant,
    /// Whether it carried a request before the current one.
    pub(crate) reused: bool,
    /// The kernel's receive stamp of the last read that returned bytes.
    rx: RxStamp,
}

impl Conn {
    /// A fresh connection, asking the kernel to stamp what it receives ([`loadtest_net`]).
    pub(crate) fn new(io: TcpStream) -> Self {
        if let Err(e) = loadtest_net::enable(std::os::fd::AsFd::as_fd(&io)) {
            tracing::debug!(error = %e, "receive timestamps not enabled: reads are timed when they return");
        }
        Self {
            io,
            buf: vec![0; READ_BUF_BYTES],
            start: 0,
            end: 0,
            idle_since: Instant::now(),
            reused: false,
            rx: RxStamp::default(),
        }
    }

    /// Whether an idle connection still looks usable: nothing to read (a close or stray
    /// bytes from the server would be readable) and no leftover bytes.
    pub(crate) fn looks_alive(&self) -> bool {
        if self.start != self.end {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Writes a whole request.
    pub(crate) async fn write(&mut self, request: &[u8]) -> io::Result<()> {
        self.io.write_all(request).await
    }

    /// Reads once into the buffer's free space (first moving unread bytes to its start, or
    /// growing it up to [`MAX_HEAD_BYTES`] when it is full), keeping the kernel's stamp of
    /// what it read ([`Conn::arrival`]). `Ok(0)` is the end of the connection. Cancel-safe:
    /// bytes read are kept.
    pub(crate) async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).min(MAX_HEAD_BYTES);
            if grown <= self.buf.len() {
                return Err(io::Error::other("read buffer full"));
            }
            self.buf.resize(grown, 0);
        }
        let (io, rx) = (&self.io, &self.rx);
        let mut free = ReadBuf::new(&mut self.buf[self.end..]);
        std::future::poll_fn(|cx| rx.poll_read(io, cx, &mut free)).await?;
        let n = free.filled().len();
        self.end += n;
        Ok(n)
    }

    /// When the bytes of the last read arrived, and whether that is the kernel's receive
    /// stamp ([`RxStamp::arrival`]).
    pub(crate) fn arrival(&self) -> (Instant, bool) {
        self.rx.arrival()
    }

    /// Whether unread bytes are buffered.
    pub(crate) fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    /// Reads a response head (skipping any 1xx), leaving what follows it buffered.
    pub(crate) async fn read_head(&mut self) -> Result<ResponseHead, ReadHeadError> {
        let mut seen_any = self.has_buffered();
        loop {
            match head::parse(&self.buf[self.start..self.end])? {
                Parsed::Complete(head, len) => {
                    self.start += len;
                    return Ok(head);
                }
                Parsed::Informational(len) => {
                    self.start += len;
                    continue;
                }
                Parsed::Partial => {}
            }
            if self.end - self.start >= MAX_HEAD_BYTES {
                return Err(ReadHeadError::TooLarge);
            }
            match self.fill().await {
                Ok(0) if seen_any => return Err(ReadHeadError::ClosedInHead),
                Ok(0) => return Err(ReadHeadError::ClosedBeforeResponse(None)),
                Ok(_) => seen_any = true,
                Err(e) if !seen_any && is_closed(&e) => {
                    return Err(ReadHeadError::ClosedBeforeResponse(Some(e)));
                }
                Err(e) => return Err(ReadHeadError::Io(e)),
            }
        }
    }

    /// Decodes the buffered bytes of a body, handing its payload to `data` in place.
    pub(crate) fn decode(
        &mut self,
        decoder: &mut BodyDecoder,
        data: &mut dyn FnMut(&[u8]),
    ) -> Result<Decoded, FramingError> {
        let decoded = decoder.decode(&self.buf[self.start..self.end], data)?;
        self.start += decoded.consumed;
        Ok(decoded)
    }

    /// Makes the connection ready for the pool.
    pub(crate) fn park(&mut self) {
        self.idle_since = Instant::now();
        self.reused = true;
    }

    /// How long it has been idle.
    pub(crate) fn idle_for(&self) -> Duration {
        self.idle_since.elapsed()
    }
}

/// Whether an I/O error means the peer closed or reset the connection.
pub(crate) fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

//! Stamping token events when their bytes have really been written.
//!
//! hyper buffers each frame the body yields and, once the body has nothing more for now,
//! writes the buffer out and then calls `poll_flush` on the connection's IO. [`TappedIo`]
//! wraps the socket: the body registers each token event it hands over with the connection's
//! [`ConnTap`], and the first successful `poll_flush` after that, which hyper only reaches
//! once every buffered byte is written, stamps them.
//!
//! Reads go the other way: [`TappedIo`] keeps the kernel's receive stamp of the last data it
//! read ([`loadtest_net`]), and [`ConnTap::arrival`] turns it into the arrival of the request
//! hyper has just handed over.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use loadtest_net::RxStamp;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::metrics::H;
use crate::state::Shared;
use crate::truth::Written;

/// Per-stream timing shared between its body and its connection's tap.
#[derive(Debug)]
pub(crate) struct StreamClock {
    arrival: Instant,
    last_written: Mutex<Option<Instant>>,
}

impl StreamClock {
    /// A clock for a stream that arrived at `arrival`.
    pub(crate) fn new(arrival: Instant) -> Arc<Self> {
        Arc::new(StreamClock {
            arrival,
            last_written: Mutex::new(None),
        })
    }
}

#[derive(Default)]
struct TapState {
    pending: Vec<(Arc<StreamClock>, Instant)>,
    written: Vec<Written>,
    lateness: Vec<Duration>,
}

/// One connection's list of token events waiting for their write to complete.
pub(crate) struct ConnTap {
    state: Mutex<TapState>,
    shared: Arc<Shared>,
    /// The kernel's receive stamp of the last data read.
    rx: RxStamp,
}

impl std::fmt::Debug for ConnTap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnTap").finish_non_exhaustive()
    }
}

impl ConnTap {
    /// A tap recording into `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Arc<Self> {
        Arc::new(ConnTap {
            state: Mutex::new(TapState::default()),
            shared,
            rx: RxStamp::default(),
        })
    }

    /// When the request hyper has just handed over arrived ([`RxStamp::arrival`]).
    pub(crate) fn arrival(&self) -> Instant {
        self.rx.arrival().0
    }

    /// A token event of `clock`'s stream, due at `scheduled`, was handed to hyper.
    pub(crate) fn handed(&self, clock: &Arc<StreamClock>, scheduled: Instant) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.pending.push((Arc::clone(clock), scheduled));
    }

    /// Everything handed so far is on the wire.
    fn flushed(&self) {
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.pending.is_empty() {
            return;
        }
        let at = Instant::now();
        let s = &mut *guard;
        s.written.clear();
        s.lateness.clear();
        for (clock, scheduled) in s.pending.drain(..) {
            let mut last = clock
                .last_written
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            s.written.push(Written {
                arrival: clock.arrival,
                scheduled,
                previous: last.replace(at),
            });
        }
        self.shared.truth.written(&s.written, at, &mut s.lateness);
        let mut m = self.shared.metrics.lock();
        m.scalars.token_events += s.written.len() as u64;
        for late in &s.lateness {
            m.observe(H::Lateness, late.as_secs_f64());
        }
    }
}

/// A socket that tells its [`ConnTap`] when hyper's writes have completed and when the data
/// it reads arrived.
#[derive(Debug)]
pub(crate) struct TappedIo {
    inner: TcpStream,
    tap: Arc<ConnTap>,
}

impl TappedIo {
    /// Wraps `inner`.
    pub(crate) fn new(inner: TcpStream, tap: Arc<ConnTap>) -> Self {
        TappedIo { inner, tap }
    }
}

impl AsyncRead for TappedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.tap.rx.poll_read(&this.inner, cx, buf)
    }
}

impl AsyncWrite for TappedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = result {
            self.tap.flushed();
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

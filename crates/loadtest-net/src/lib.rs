//! When data reached a socket: the kernel's receive stamp of each read.
//!
//! A timestamp taken with `Instant::now()` after a read returns also holds however long the
//! process took to get to the socket: the wait for the event loop, for a CPU, for the tasks
//! ahead in the run queue. On a loaded machine that is milliseconds, and it lands in the
//! latencies being measured. On Linux a socket that asks for `SO_TIMESTAMPNS` ([`enable`];
//! sockets accepted from a listener that asked inherit it) gets every packet stamped by the
//! kernel as it arrives, and a `recvmsg` returns the stamp of the data it read
//! ([`poll_recv`]). [`kernel_arrival`] moves that wall-clock stamp onto the monotonic clock by
//! its age, so it can be compared with the `Instant`s the rest of the program takes.
//!
//! - The stamp of a read is the kernel's stamp of the *last* packet it consumed: data that
//!   arrived in several packets and was read at once carries the latest arrival, never one
//!   before the data was complete.
//! - Elsewhere (not Linux on a 64-bit target), for a read the kernel did not stamp, a stamp
//!   from the future (the wall clock stepped back) or one older than [`MAX_AGE`], the
//!   arrival is the moment of the read, as without this crate.
//! - The kernel turns stamping on in deferred work after the first socket asks: the first
//!   packets after that may come unstamped.
//!
//! Used by the simulator (when a request arrived: its truth's TTFT starts there) and by the
//! client's own HTTP/1.1 transport (when a token event arrived).
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//!
//! // Data the kernel stamped 3 ms before the read that returned it.
//! let (read_wall, read_at) = (SystemTime::now(), Instant::now());
//! let stamp = read_wall - Duration::from_millis(3);
//! assert_eq!(
//!     loadtest_net::kernel_arrival(stamp, read_wall, read_at),
//!     Some(read_at - Duration::from_millis(3))
//! );
//! // A stamp from the future is not believed: the caller uses the read's own time.
//! let future = read_wall + Duration::from_millis(1);
//! assert_eq!(loadtest_net::kernel_arrival(future, read_wall, read_at), None);
//! ```

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::ReadBuf;
use tokio::net::TcpStream;

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod linux;

/// A stamp further in the past than this is not believed (a clock step, a stale stamp): the
/// arrival is then the moment of the read.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// A connection's latest receive stamp: set by each read that returned bytes, asked when
/// the data it brought arrived. Atomic, so a reader and a task it hands data to can share it.
#[derive(Debug, Default)]
pub struct RxStamp {
    /// Nanoseconds since the Unix epoch; 0 when the last read had no stamp.
    unix_ns: AtomicU64,
}

impl RxStamp {
    /// Bytes were just read, stamped `at` by the kernel (`None`: not stamped). An unstamped
    /// read forgets the previous stamp, so later data is never dated by earlier data's.
    pub fn set(&self, at: Option<SystemTime>) {
        let ns = at
            .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok())
            .unwrap_or(0);
        self.unix_ns.store(ns, Ordering::Relaxed);
    }

    /// Reads once from `io` into `buf` when it is readable ([`poll_recv`]) and keeps the
    /// kernel's stamp of what it read. The end of the stream (no bytes) dates nothing: the
    /// stamp of the last data stays.
    pub fn poll_read(
        &self,
        io: &TcpStream,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let stamp = std::task::ready!(poll_recv(io, cx, buf))?;
        if buf.filled().len() > before {
            self.set(stamp);
        }
        Poll::Ready(Ok(()))
    }

    /// When the data of the last read arrived, on the monotonic clock: the kernel's stamp
    /// with `true` ([`RxStamp::kernel_arrival`]); now with `false` when that read was not
    /// stamped or its stamp is not believed.
    pub fn arrival(&self) -> (Instant, bool) {
        let now = Instant::now();
        self.kernel_arrival(now)
            .map_or((now, false), |at| (at, true))
    }

    /// The last read's stamp on the monotonic clock, read against `now` (taken just before);
    /// `None` when that read had no stamp or its stamp is not believed ([`kernel_arrival`]).
    pub fn kernel_arrival(&self, now: Instant) -> Option<Instant> {
        let ns = self.unix_ns.load(Ordering::Relaxed);
        let rx = SystemTime::UNIX_EPOCH + Duration::from_nanos((ns > 0).then_some(ns)?);
        kernel_arrival(rx, SystemTime::now(), now)
    }
}

/// The arrival, on the monotonic clock, of data the kernel stamped `rx` (wall clock), seen at
/// `now_wall` / `now` (two readings taken together): `now` less the stamp's age. `None` for a
/// stamp from the future (the wall clock stepped back) or older than [`MAX_AGE`]; the caller
/// then uses the moment of the read ([`RxStamp::arrival`] does).
pub fn kernel_arrival(rx: SystemTime, now_wall: SystemTime, now: Instant) -> Option<Instant> {
    now_wall
        .duration_since(rx)
        .ok()
        .filter(|age| *age <= MAX_AGE)
        .and_then(|age| now.checked_sub(age))
}

/// Asks the kernel to stamp what `socket` receives (a listener: also every socket it
/// accepts). A no-op off Linux on a 64-bit target, where stamps are not read.
pub fn enable(socket: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    return linux::enable(socket);
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let _ = socket;
        Ok(())
    }
}

/// Reads once from `io` into `buf`'s unfilled part when it is readable, returning the
/// kernel's stamp of the data read (`None`: no stamp, or no bytes — the end of the stream).
/// Cancel-safe: nothing is read unless `Ready` is returned. `buf` must have room.
///
/// A read that returned fewer bytes than there was room for drained the socket, so the
/// runtime's readiness is cleared with it, as tokio's own `poll_read` does: the next call
/// waits for the next arrival instead of first trying a read that would block (a second
/// `recvmsg` per token event otherwise). Data that arrives after the read raises a new
/// readiness event, which the clearing does not touch.
pub fn poll_recv(
    io: &TcpStream,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<Option<SystemTime>>> {
    loop {
        std::task::ready!(io.poll_read_ready(cx))?;
        let room = buf.remaining();
        let mut drained = None;
        let read = io.try_io(tokio::io::Interest::READABLE, || {
            let before = buf.filled().len();
            let stamp = recv(io, buf)?;
            let n = buf.filled().len() - before;
            if n > 0 && n < room {
                // `try_io` clears the readiness it saw when told `WouldBlock`: the bytes
                // and their stamp are kept aside and returned below.
                drained = Some(stamp);
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(stamp)
        });
        match read {
            Ok(stamp) => return Poll::Ready(Ok(stamp)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Some(stamp) = drained {
                    return Poll::Ready(Ok(stamp));
                }
                // Readiness was stale: it is cleared, wait for the next.
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn recv(io: &TcpStream, buf: &mut ReadBuf<'_>) -> io::Result<Option<SystemTime>> {
    let before = buf.filled().len();
    let stamp = linux::recv(std::os::fd::AsFd::as_fd(io), buf)?;
    Ok(stamp.filter(|_| buf.filled().len() > before))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn recv(io: &TcpStream, buf: &mut ReadBuf<'_>) -> io::Result<Option<SystemTime>> {
    let n = io.try_read(buf.initialize_unfilled())?;
    buf.advance(n);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_moves_the_arrival_back_by_its_age() {
        let now = Instant::now() + Duration::from_secs(60);
        let wall = SystemTime::now();
        let rx = wall - Duration::from_millis(7);
        assert_eq!(
            kernel_arrival(rx, wall, now),
            Some(now - Duration::from_millis(7))
        );
        assert_eq!(kernel_arrival(wall, wall, now), Some(now));
    }

    #[test]
    fn a_future_stamp_or_a_stale_one_is_not_believed() {
        let now = Instant::now() + Duration::from_secs(60);
        let wall = SystemTime::now();
        let arrival = |rx| kernel_arrival(rx, wall, now);
        assert_eq!(arrival(wall + Duration::from_millis(1)), None);
        assert_eq!(arrival(wall - MAX_AGE - Duration::from_millis(1)), None);
        assert_eq!(arrival(wall - MAX_AGE), Some(now - MAX_AGE));
    }

    #[test]
    fn an_unstamped_read_forgets_the_previous_stamp() {
        let rx = RxStamp::default();
        let before = Instant::now();
        rx.set(Some(SystemTime::now() - Duration::from_secs(2)));
        let (at, kernel) = rx.arrival();
        assert!(kernel && at + Duration::from_millis(1900) < before);
        let now = Instant::now();
        assert!(
            rx.kernel_arrival(now)
                .is_some_and(|at| at + Duration::from_millis(1900) < now)
        );
        rx.set(None);
        let (at, kernel) = rx.arrival();
        assert!(!kernel && at >= before);
        assert_eq!(rx.kernel_arrival(now), None);
    }

    /// Reads once through [`poll_recv`].
    async fn read_once(io: &TcpStream) -> (Vec<u8>, Option<SystemTime>) {
        let mut bytes = [0u8; 64];
        let mut buf = ReadBuf::new(&mut bytes);
        let stamp = std::future::poll_fn(|cx| poll_recv(io, cx, &mut buf))
            .await
            .unwrap();
        (buf.filled().to_vec(), stamp)
    }

    /// Data that waited in a socket reads back with the kernel's stamp of its arrival, not
    /// the moment of the read: on an accepted socket (the listener asked) and on a connected
    /// one (it asked itself). The end of the stream carries no stamp.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    #[tokio::test]
    async fn a_read_returns_when_the_data_arrived() {
        use std::os::fd::AsFd;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        enable(listener.as_fd()).unwrap();
        let connected = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        enable(connected.as_fd()).unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        // A few bytes always fit in an empty socket buffer: one non-blocking write sends them.
        let send =
            |to: &TcpStream, bytes: &[u8]| assert_eq!(to.try_write(bytes).unwrap(), bytes.len());

        // The kernel turns stamping on in a deferred work item when the first socket asks
        // for it: what arrives in the first instants may be unstamped.
        send(&connected, b"first");
        send(&accepted, b"first");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(read_once(&accepted).await.0, b"first");
        assert_eq!(read_once(&connected).await.0, b"first");

        for (writer, reader) in [(&connected, &accepted), (&accepted, &connected)] {
            let sent = SystemTime::now();
            send(writer, b"hello");
            std::thread::sleep(Duration::from_millis(50));
            let (bytes, stamp) = read_once(reader).await;
            assert_eq!(bytes, b"hello");
            let stamp = stamp.expect("a stamp");
            let read_at = SystemTime::now();
            let after_send = stamp.duration_since(sent).unwrap();
            assert!(after_send < Duration::from_millis(20), "{after_send:?}");
            assert!(read_at.duration_since(stamp).unwrap() >= Duration::from_millis(50));
        }
        let mut accepted = accepted.into_std().unwrap();
        std::io::Write::flush(&mut accepted).unwrap();
        accepted.shutdown(std::net::Shutdown::Write).unwrap();
        let (bytes, stamp) = read_once(&connected).await;
        assert!(bytes.is_empty());
        assert_eq!(stamp, None);
    }

    /// A read that drained the socket clears the readiness it came from: the next poll waits
    /// (no read that would block is tried), and the next arrival wakes it. A read that filled
    /// the buffer keeps the readiness: more may be waiting.
    #[tokio::test]
    async fn a_draining_read_clears_readiness_and_the_next_arrival_sets_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (reader, _) = listener.accept().await.unwrap();
        let ready_now = |io: &TcpStream| {
            let mut cx = Context::from_waker(std::task::Waker::noop());
            io.poll_read_ready(&mut cx).is_ready()
        };
        let send = |bytes: &[u8]| assert_eq!(writer.try_write(bytes).unwrap(), bytes.len());

        send(&[b'x'; 80]);
        reader.readable().await.unwrap();
        // A full buffer (64 of 80 bytes): still ready, and the rest is there.
        let (bytes, _) = read_once(&reader).await;
        assert_eq!(bytes.len(), 64);
        assert!(ready_now(&reader));
        // A short read (the last 16): drained, readiness cleared.
        let (bytes, _) = read_once(&reader).await;
        assert_eq!(bytes.len(), 16);
        assert!(!ready_now(&reader), "readiness kept after a draining read");

        send(b"next");
        let read = tokio::time::timeout(Duration::from_secs(5), read_once(&reader));
        assert_eq!(
            read.await.expect("the next arrival wakes the reader").0,
            b"next"
        );
    }

    /// `RxStamp::poll_read` keeps the stamp of the data it read, and the end of the stream
    /// (a read of no bytes) keeps it too: the last data stays dated by its own arrival.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    #[tokio::test]
    async fn the_end_of_a_stream_keeps_the_last_stamp() {
        use std::os::fd::AsFd;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reader = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        enable(reader.as_fd()).unwrap();
        let (writer, _) = listener.accept().await.unwrap();
        let rx = RxStamp::default();
        async fn read(rx: &RxStamp, reader: &TcpStream) -> usize {
            let mut bytes = [0u8; 64];
            let mut buf = ReadBuf::new(&mut bytes);
            std::future::poll_fn(|cx| rx.poll_read(reader, cx, &mut buf))
                .await
                .unwrap();
            buf.filled().len()
        }
        // Stamping is turned on in deferred work: wait for a read that carries a stamp.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert_eq!(writer.try_write(b"tick").unwrap(), 4);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(read(&rx, &reader).await, 4);
            if rx.arrival().1 {
                break;
            }
            assert!(Instant::now() < deadline, "no read was ever stamped");
        }
        let (stamped, _) = rx.arrival();
        let mut writer = writer.into_std().unwrap();
        std::io::Write::flush(&mut writer).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(read(&rx, &reader).await, 0);
        let (at, kernel) = rx.arrival();
        assert!(kernel, "the end of the stream forgot the stamp");
        let apart = at.max(stamped).duration_since(at.min(stamped));
        assert!(apart < Duration::from_millis(5), "{apart:?} apart");
    }
}

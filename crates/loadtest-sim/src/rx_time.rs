//! When a request's bytes reached the simulator's socket: the kernel's receive timestamp.
//!
//! The truth's TTFT (and the `fixed` profile's schedule) count from a request's arrival. Taken
//! with `Instant::now()` when hyper hands the request over, that moment also holds however long
//! the simulator's own runtime took to get to the socket and parse the head — on a machine the
//! client shares, the simulator is often a millisecond behind, and that delay would then look
//! like the client's. On Linux the listening socket asks for `SO_TIMESTAMPNS` (accepted
//! sockets inherit it, and the kernel stamps every packet from then on), each read is a
//! `recvmsg` that also returns the stamp of the data it read, and the request's arrival is the
//! stamp of the last read before hyper handed it over. Elsewhere, or when a read carries no
//! stamp, the arrival stays the moment hyper handed the request over.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A stamp further in the past than this is not believed (a clock step, a stale stamp): the
/// arrival is then the moment the request was handed over.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(10);

/// A connection's latest receive stamp, set on every read that returned bytes.
#[derive(Debug, Default)]
pub(crate) struct RxStamp {
    /// Nanoseconds since the Unix epoch; 0 when the last read had no stamp.
    unix_ns: AtomicU64,
}

impl RxStamp {
    /// Bytes were just read, stamped `at` by the kernel (`None`: not stamped). An unstamped
    /// read forgets the previous stamp, so a later request is never dated by an earlier one's.
    pub(crate) fn set(&self, at: Option<SystemTime>) {
        let ns = at
            .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_nanos()).ok())
            .unwrap_or(0);
        self.unix_ns.store(ns, Ordering::Relaxed);
    }

    /// When the request just handed over arrived: the last read's stamp on the monotonic
    /// clock ([`arrival`]), or now without one.
    pub(crate) fn arrival(&self) -> Instant {
        let ns = self.unix_ns.load(Ordering::Relaxed);
        let rx = (ns > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_nanos(ns));
        arrival(rx, SystemTime::now(), Instant::now())
    }
}

/// The arrival, on the monotonic clock, of data the kernel stamped `rx` (wall clock), seen at
/// `now_wall` / `now`. Without a stamp, with a stamp from the future (the wall clock stepped
/// back) or older than [`MAX_AGE`], `now`.
pub(crate) fn arrival(rx: Option<SystemTime>, now_wall: SystemTime, now: Instant) -> Instant {
    rx.and_then(|rx| now_wall.duration_since(rx).ok())
        .filter(|age| *age <= MAX_AGE)
        .and_then(|age| now.checked_sub(age))
        .unwrap_or(now)
}

/// Asks the kernel to stamp what `listener` (and every socket it accepts) receives.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[allow(unsafe_code)]
pub(crate) fn enable(listener: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: `listener` is an open socket for the duration of the call; the option value
    // points at a live `c_int` and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Without `recvmsg` stamps: nothing to ask for.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub(crate) fn enable(_listener: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    Ok(())
}

/// One non-blocking `recvmsg` into `buf`'s unfilled part: the bytes read are added to `buf`,
/// and the kernel's stamp of the last of them is returned (`None` when it gave none).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
#[allow(unsafe_code)]
pub(crate) fn recv(
    fd: std::os::fd::BorrowedFd<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> io::Result<Option<SystemTime>> {
    use std::os::fd::AsRawFd;
    // SAFETY: the kernel only writes initialised bytes into the slice, and `assume_init` below
    // covers exactly the `n` bytes it reports written.
    let unfilled = unsafe { buf.unfilled_mut() };
    let mut iov = libc::iovec {
        iov_base: unfilled.as_mut_ptr().cast(),
        iov_len: unfilled.len(),
    };
    // Room for one `SCM_TIMESTAMPNS` message (CMSG_SPACE(16) = 32 bytes), 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: an all-zero `msghdr` is a valid empty header; its pointers are set below to
    // `iov` and `control`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `fd` is an open socket; `msg` points at live buffers of the lengths it gives.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
    let Ok(n) = usize::try_from(n) else {
        return Err(io::Error::last_os_error());
    };
    // SAFETY: the kernel wrote `n` bytes at the start of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    let mut stamp = None;
    // SAFETY: `msg` is the header the kernel just filled in; the CMSG_* helpers only walk
    // within `msg_control[..msg_controllen]`, and a message's data is read unaligned and only
    // when its length covers a `timespec`.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            let covers = header.cmsg_len as usize
                >= libc::CMSG_LEN(std::mem::size_of::<libc::timespec>() as u32) as usize;
            if header.cmsg_level == libc::SOL_SOCKET
                && header.cmsg_type == libc::SCM_TIMESTAMPNS
                && covers
            {
                let ts: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                stamp = wall_time(ts.tv_sec, ts.tv_nsec);
            }
            cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
        }
    }
    Ok(stamp)
}

/// A kernel `timespec` as a wall-clock time (`None` when out of range).
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn wall_time(sec: i64, nsec: i64) -> Option<SystemTime> {
    let sec = u64::try_from(sec).ok()?;
    let nsec = u32::try_from(nsec).ok().filter(|n| *n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(sec, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_moves_the_arrival_back_by_its_age() {
        let now = Instant::now() + Duration::from_secs(60);
        let wall = SystemTime::now();
        let rx = wall - Duration::from_millis(7);
        assert_eq!(arrival(Some(rx), wall, now), now - Duration::from_millis(7));
    }

    #[test]
    fn no_stamp_a_future_stamp_or_a_stale_one_is_now() {
        let now = Instant::now() + Duration::from_secs(60);
        let wall = SystemTime::now();
        assert_eq!(arrival(None, wall, now), now);
        assert_eq!(
            arrival(Some(wall + Duration::from_millis(1)), wall, now),
            now
        );
        assert_eq!(
            arrival(Some(wall - MAX_AGE - Duration::from_millis(1)), wall, now),
            now
        );
        assert_eq!(arrival(Some(wall - MAX_AGE), wall, now), now - MAX_AGE);
    }

    #[test]
    fn an_unstamped_read_forgets_the_previous_stamp() {
        let rx = RxStamp::default();
        let before = Instant::now();
        rx.set(Some(SystemTime::now() - Duration::from_secs(2)));
        assert!(rx.arrival() + Duration::from_millis(1900) < before);
        rx.set(None);
        assert!(rx.arrival() >= before);
    }

    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    #[test]
    fn kernel_times_are_checked() {
        assert_eq!(wall_time(-1, 0), None);
        assert_eq!(wall_time(1, 1_000_000_000), None);
        assert_eq!(
            wall_time(2, 5),
            Some(SystemTime::UNIX_EPOCH + Duration::new(2, 5))
        );
    }

    /// A read of data that waited in the socket returns the kernel's stamp of its arrival,
    /// not the moment of the read.
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    #[tokio::test]
    async fn a_read_returns_when_the_data_arrived() {
        use std::io::Write;
        use std::os::fd::AsFd;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        enable(listener.as_fd()).unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let read = || async {
            server.readable().await.unwrap();
            let mut bytes = [0u8; 16];
            let mut buf = tokio::io::ReadBuf::new(&mut bytes);
            let stamp = server
                .try_io(tokio::io::Interest::READABLE, || {
                    recv(server.as_fd(), &mut buf)
                })
                .unwrap();
            (buf.filled().to_vec(), stamp)
        };
        // The kernel turns stamping on in a deferred work item when the first socket asks
        // for it: what arrives in the first instants may be unstamped.
        client.write_all(b"first").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(read().await.0, b"first");
        let sent = SystemTime::now();
        client.write_all(b"hello").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let (bytes, stamp) = read().await;
        let stamp = stamp.expect("a stamp");
        assert_eq!(bytes, b"hello");
        let read_at = SystemTime::now();
        let after_send = stamp.duration_since(sent).unwrap();
        assert!(after_send < Duration::from_millis(20), "{after_send:?}");
        assert!(read_at.duration_since(stamp).unwrap() >= Duration::from_millis(50));
    }
}

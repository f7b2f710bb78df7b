//! `SO_TIMESTAMPNS` and `recvmsg` (Linux, 64-bit): the only unsafe code, each call with its
//! SAFETY argument.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, SystemTime};

/// `setsockopt(SO_TIMESTAMPNS)` on `socket`.
#[allow(unsafe_code)]
pub(crate) fn enable(socket: BorrowedFd<'_>) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `socket` is an open socket for the duration of the call; the option value
    // points at a live `c_int` and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
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

/// One non-blocking `recvmsg` into `buf`'s unfilled part: the bytes read are added to `buf`,
/// and the kernel's stamp of the last of them is returned (`None` when it gave none).
#[allow(unsafe_code)]
pub(crate) fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
) -> io::Result<Option<SystemTime>> {
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
fn wall_time(sec: i64, nsec: i64) -> Option<SystemTime> {
    let sec = u64::try_from(sec).ok()?;
    let nsec = u32::try_from(nsec).ok().filter(|n| *n < 1_000_000_000)?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(sec, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_times_are_checked() {
        assert_eq!(wall_time(-1, 0), None);
        assert_eq!(wall_time(1, 1_000_000_000), None);
        assert_eq!(
            wall_time(2, 5),
            Some(SystemTime::UNIX_EPOCH + Duration::new(2, 5))
        );
    }
}

//! How the periodic tasks of a quiet client sleep — the health ticker and the `/metrics`
//! scheduler: on Linux a `timerfd` polled by the runtime's I/O driver, elsewhere (or if the
//! timerfd cannot be made) tokio's timer.
//!
//! Why not tokio's timer everywhere: a sleep longer than 64 ms sits on the second level of
//! tokio's timer wheel, and the driver wakes once at that level's slot boundary to move it
//! down, then again when it is due: two wake-ups of a parked runtime per quiet tick. Each
//! costs 100–300 µs of CPU on a small VM (measured: 20 wake-ups and 4.2 ms of CPU a second at
//! one idle stream without `/metrics`; 10 and 2.1 ms with the timerfd). A timerfd is a kernel
//! hrtimer that makes the fd readable when due: one wake-up per sleep, and the ticker's
//! lateness still means what it meant — how long after its time a task that asked to wake up
//! ran on the runtime.

use std::time::Instant;

/// A periodic task's sleep.
#[derive(Debug)]
pub(crate) enum TickTimer {
    /// tokio's timer (and paused-clock tests).
    Tokio,
    /// A non-blocking monotonic timerfd registered with the runtime's reactor.
    #[cfg(target_os = "linux")]
    TimerFd(tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>),
}

impl TickTimer {
    /// A timerfd where the platform has one, else tokio's timer. Must run inside the runtime.
    pub(crate) fn new() -> Self {
        #[cfg(target_os = "linux")]
        {
            use rustix::time::{TimerfdClockId, TimerfdFlags, timerfd_create};
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )
            .map_err(std::io::Error::from)
            .and_then(register);
            match fd {
                Ok(fd) => return TickTimer::TimerFd(fd),
                Err(e) => tracing::debug!(error = %e, "no timerfd: the ticker uses tokio's timer"),
            }
        }
        TickTimer::Tokio
    }

    /// Sleeps until `deadline` (at once when it has passed).
    pub(crate) async fn sleep_until(&mut self, deadline: Instant) {
        match self {
            TickTimer::Tokio => tokio::time::sleep_until(deadline.into()).await,
            #[cfg(target_os = "linux")]
            TickTimer::TimerFd(fd) => {
                if let Err(e) = timerfd_sleep(fd, deadline).await {
                    tracing::debug!(error = %e, "timerfd failed: the ticker uses tokio's timer");
                    *self = TickTimer::Tokio;
                    tokio::time::sleep_until(deadline.into()).await;
                }
            }
        }
    }
}

/// Registers the timerfd with the runtime's reactor.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn register(
    fd: std::os::fd::OwnedFd,
) -> std::io::Result<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>> {
    // SAFETY: `register` needs the fd to stay open and be the same file while registered. An
    // `OwnedFd` is a valid open fd that only its owner closes, and the `AsyncFd` owns it until
    // it is dropped (deregistering first); nothing here closes or replaces it.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

#[cfg(target_os = "linux")]
async fn timerfd_sleep(
    fd: &tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
    deadline: Instant,
) -> std::io::Result<()> {
    use rustix::time::{Itimerspec, TimerfdTimerFlags, Timespec, timerfd_settime};
    let wait = deadline.saturating_duration_since(Instant::now());
    if wait.is_zero() {
        return Ok(());
    }
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let value = Timespec {
        tv_sec: i64::try_from(wait.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(wait.subsec_nanos()),
    };
    timerfd_settime(
        fd.get_ref(),
        TimerfdTimerFlags::empty(),
        &Itimerspec {
            it_interval: zero,
            it_value: value,
        },
    )?;
    loop {
        let mut guard = fd.readable().await?;
        let mut expirations = [0u8; 8];
        match guard.try_io(|inner| {
            rustix::io::read(inner.get_ref(), &mut expirations).map_err(std::io::Error::from)
        }) {
            Ok(Ok(_)) => {
                // The read drained the timerfd: clear the readiness now rather than learn it
                // from an `EAGAIN` read on the next sleep. (A newer expiry is kept: tokio only
                // clears the readiness event this guard came from.)
                guard.clear_ready();
                return Ok(());
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok(Err(e)) => return Err(e),
            // Not readable after all: wait again.
            Err(_would_block) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_timer_sleeps_until_its_deadline() {
        let mut timer = TickTimer::new();
        #[cfg(target_os = "linux")]
        assert!(matches!(timer, TickTimer::TimerFd(_)), "{timer:?}");
        for ms in [0u64, 1, 20, 70] {
            let start = Instant::now();
            let deadline = start + Duration::from_millis(ms);
            timer.sleep_until(deadline).await;
            assert!(Instant::now() >= deadline, "woke early for {ms} ms");
        }
        // A deadline in the past returns at once.
        timer
            .sleep_until(Instant::now() - Duration::from_millis(5))
            .await;
    }
}

//! Stopping a run from outside: SIGINT (Ctrl-C), SIGTERM and SIGHUP.
//!
//! The first signal of any kind cancels the run cleanly: outputs are still written and the
//! exit code is 130. Supervisors send more than one — `timeout(1)` signals the child and then
//! its process group, `kill -TERM -PGID` reaches every process, an ssh hang-up comes with a
//! SIGTERM — so repeated SIGTERM / SIGHUP never cut the outputs short. Only a second
//! *interactive* interrupt, a SIGINT arriving at least [`SECOND_INTERRUPT_AFTER`] after the
//! first was acknowledged, exits at once (requests.jsonl stays valid up to its last line).

use std::time::{Duration, Instant};

use loadtest_sweep::CancelToken;

use crate::output;

/// How long after the first signal a SIGINT counts as the user pressing Ctrl-C again,
/// rather than a second delivery of the same interrupt.
pub(crate) const SECOND_INTERRUPT_AFTER: Duration = Duration::from_millis(500);

/// Exit code after an interrupt.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// The signals that stop a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopSignal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, `timeout`, a supervisor.
    Terminate,
    /// The terminal (ssh session) went away.
    HangUp,
}

/// What to do with a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Cancel the run; outputs are written.
    Stop,
    /// Already stopping: nothing more.
    Ignore,
    /// Exit now, skipping the outputs.
    ExitNow,
}

/// The rule above: `first` is when the first signal was acknowledged, `None` before it.
pub(crate) fn react(signal: StopSignal, first: Option<Instant>, now: Instant) -> Reaction {
    match first {
        None => Reaction::Stop,
        Some(at)
            if signal == StopSignal::Interrupt
                && now.saturating_duration_since(at) >= SECOND_INTERRUPT_AFTER =>
        {
            Reaction::ExitNow
        }
        Some(_) => Reaction::Ignore,
    }
}

/// Watches the signals until the process ends, cancelling `cancel` on the first (with a note
/// on stderr unless `quiet`). The sweep's watcher: the note says that outputs are written.
pub(crate) async fn watch(cancel: CancelToken, quiet: bool) {
    if let Some(handlers) = Handlers::install() {
        handlers
            .watch(cancel, (!quiet).then_some("stopping, writing outputs"))
            .await;
    }
}

/// The installed handlers of SIGINT, SIGTERM and SIGHUP: from [`Handlers::install`] on, these
/// signals no longer kill the process; [`Handlers::watch`] acts on them.
pub(crate) struct Handlers {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Handlers {
    /// Installs the handlers now (inside a tokio runtime), or warns and returns `None`.
    pub(crate) fn install() -> Option<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(int), Ok(term), Ok(hup)) => Some(Handlers { int, term, hup }),
            _ => {
                tracing::warn!(
                    "cannot install signal handlers: Ctrl-C will kill the run without outputs"
                );
                None
            }
        }
    }

    /// Watches the signals until the process ends, cancelling `cancel` on the first (by
    /// [`react`]); `note` (e.g. "stopping") is printed on stderr after the signal's name, none
    /// when `None`.
    pub(crate) async fn watch(mut self, cancel: CancelToken, note: Option<&str>) {
        let mut first = None;
        loop {
            let received = tokio::select! {
                _ = self.int.recv() => StopSignal::Interrupt,
                _ = self.term.recv() => StopSignal::Terminate,
                _ = self.hup.recv() => StopSignal::HangUp,
            };
            match react(received, first, Instant::now()) {
                Reaction::Stop => {
                    first = Some(Instant::now());
                    if let Some(note) = note {
                        let name = match received {
                            StopSignal::Interrupt => "interrupted",
                            StopSignal::Terminate => "terminated (SIGTERM)",
                            StopSignal::HangUp => "hung up (SIGHUP)",
                        };
                        output::note(&format!("{name}: {note} (Ctrl-C again to exit at once)"));
                    }
                    cancel.cancel();
                }
                Reaction::Ignore => tracing::debug!(?received, "already stopping"),
                Reaction::ExitNow => std::process::exit(i32::from(EXIT_INTERRUPTED)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_later_sigint_exits_at_once() {
        let t0 = Instant::now();
        let soon = t0 + Duration::from_millis(20);
        let later = t0 + SECOND_INTERRUPT_AFTER;
        for s in [
            StopSignal::Interrupt,
            StopSignal::Terminate,
            StopSignal::HangUp,
        ] {
            assert_eq!(react(s, None, t0), Reaction::Stop);
            assert_eq!(react(s, Some(t0), soon), Reaction::Ignore);
        }
        assert_eq!(
            react(StopSignal::Interrupt, Some(t0), later),
            Reaction::ExitNow
        );
        assert_eq!(
            react(
                StopSignal::Terminate,
                Some(t0),
                later + Duration::from_secs(60)
            ),
            Reaction::Ignore
        );
        assert_eq!(react(StopSignal::HangUp, Some(t0), later), Reaction::Ignore);
    }
}

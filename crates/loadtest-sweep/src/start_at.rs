//! `--start-at`: every shard of a run begins its warmup at the same wall-clock instant.
//!
//! The shards' clocks are assumed to agree (NTP keeps a cluster's machines within a few
//! milliseconds); each records when it really started (`started_at` in config.json), so that
//! a merge can check their step edges line up.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cancel::CancelToken;

/// How far ahead a start may be: further is a typo, not a plan.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// A start later than this past the instant asked for is worth a warning: the shards that
/// started on time ran part of their warmup alone.
pub const LATE_START_WARNING: Duration = Duration::from_secs(1);

/// Why a `--start-at` text is not an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an RFC 3339 instant (e.g. 2026-11-30T14:00:00Z): {reason}")]
pub struct StartAtError {
    /// The text given (control characters dropped, at most 64 characters).
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// Reads an RFC 3339 instant (`2026-11-30T14:00:00Z`, `…+01:00`, fractions allowed).
///
/// # Errors
///
/// [`StartAtError`] when `text` is not one.
pub fn parse_start_at(text: &str) -> Result<SystemTime, StartAtError> {
    let error = |reason: String| StartAtError {
        text: text.chars().filter(|c| !c.is_control()).take(64).collect(),
        reason,
    };
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|e| error(e.to_string()))?;
    Ok(SystemTime::from(at))
}

/// The instant as RFC 3339 (UTC), for config.json.
pub fn format_start_at(at: SystemTime) -> String {
    OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "unrepresentable".to_owned())
}

/// Waits until `at` (at once when it has passed), or until `cancel` (`None`). Returns how
/// late the start is past `at` (zero when on time).
pub(crate) async fn wait_until(at: SystemTime, cancel: &CancelToken) -> Option<Duration> {
    if let Ok(ahead) = at.duration_since(SystemTime::now()) {
        tokio::select! {
            () = tokio::time::sleep(ahead) => {}
            () = cancel.cancelled() => return None,
        }
    }
    Some(
        SystemTime::now()
            .duration_since(at)
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_and_print() {
        let at = parse_start_at("2026-11-30T14:00:00Z").unwrap();
        assert_eq!(format_start_at(at), "2026-11-30T14:00:00Z");
        let offset = parse_start_at(" 2026-11-30T15:00:00.5+01:00 ").unwrap();
        assert_eq!(format_start_at(offset), "2026-11-30T14:00:00.5Z");
        for bad in [
            "tomorrow",
            "2026-11-30",
            "2026-11-30 14:00:00",
            "",
            "\u{1b}[2J",
        ] {
            let err = parse_start_at(bad).unwrap_err();
            assert!(!err.to_string().contains('\u{1b}'), "{err}");
        }
    }

    #[tokio::test]
    async fn waits_for_the_instant_or_the_cancel() {
        let cancel = CancelToken::new();
        let at = SystemTime::now() + Duration::from_millis(200);
        let t0 = std::time::Instant::now();
        let late = wait_until(at, &cancel).await.unwrap();
        assert!(t0.elapsed() >= Duration::from_millis(190));
        assert!(late < Duration::from_millis(200), "{late:?}");
        // Long past: at once, and how late.
        let past = SystemTime::now() - Duration::from_secs(5);
        assert!(wait_until(past, &cancel).await.unwrap() >= Duration::from_secs(5));
        // Cancelled while waiting.
        let far = SystemTime::now() + Duration::from_secs(3600);
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            c.cancel();
        });
        assert_eq!(wait_until(far, &cancel).await, None);
    }
}

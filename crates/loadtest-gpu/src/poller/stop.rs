//! The stop signal: `true` sent, or the sender (the poller handle) dropped.

use tokio::sync::watch;

/// Resolves once stop is requested or the handle is gone. Cancel-safe.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            return;
        }
    }
}

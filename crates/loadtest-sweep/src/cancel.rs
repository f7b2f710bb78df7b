//! A cloneable cancellation flag that tasks can await.

use std::sync::Arc;

use tokio::sync::watch;

/// Set once, seen by every clone; `cancelled().await` returns once it is set.
#[derive(Debug, Clone)]
pub struct CancelToken {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        CancelToken {
            tx: Arc::new(tx),
            rx,
        }
    }

    /// Cancels: every clone sees it, now and later.
    pub fn cancel(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        *self.rx.borrow()
    }

    /// Returns once the token is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        // The sender lives as long as any clone of the token, so `wait_for` only ends by
        // seeing `true`.
        let _ = rx.wait_for(|cancelled| *cancelled).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clones_see_the_cancel() {
        let token = CancelToken::new();
        let other = token.clone();
        let waiter = tokio::spawn(async move { other.cancelled().await });
        assert!(!token.is_cancelled());
        token.cancel();
        waiter.await.unwrap();
        assert!(token.is_cancelled());
        token.cancelled().await; // already cancelled: returns at once
    }
}

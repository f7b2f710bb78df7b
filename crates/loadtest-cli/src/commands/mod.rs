//! One module per subcommand: its clap arguments and its `run`.

pub(crate) mod common;
pub(crate) mod compare;
pub(crate) mod live;
pub(crate) mod merge;
pub(crate) mod metrics;
pub(crate) mod probe;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod signals;
pub(crate) mod sim;
pub(crate) mod sweep;

/// Raises the open-file soft limit to the hard limit (every stream is a socket) and returns
/// the limit now in force, or `None` where it cannot be read.
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(err) => tracing::warn!(%err, "cannot raise the open-file limit"),
        }
    }
    // `None` means unlimited.
    Some(limit.current.unwrap_or(u64::MAX))
}

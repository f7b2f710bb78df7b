//! The one error type of the crate.

use std::io;

/// What can go wrong starting the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A config field is out of range.
    #[error("invalid simulator setting {field} = {value:?}: expected {expected}")]
    Config {
        /// The [`SimConfig`](crate::SimConfig) field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// The host name did not resolve to any address.
    #[error("cannot resolve host {host:?}: {source}")]
    Resolve {
        /// The host as configured.
        host: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// Creating, binding or listening on the socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: String,
        /// The operating system's error.
        source: io::Error,
    },
    /// A bug: something that cannot fail did.
    #[error("internal error: {0}")]
    Internal(String),
}

//! Binding, accepting, and the handle that stops it all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};

use crate::counts::RequestCounts;
use crate::engine::{self, EngineHandle};
use crate::state::Shared;
use crate::tap::{ConnTap, TappedIo};
use crate::truth::{Truth, TruthSnapshot};
use crate::{Profile, SimConfig, SimError, routes};

/// Listen backlog: thousands of connections arrive at once when a load step starts (§12).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Starts simulators.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// Validates `config`, binds `host:port` (port 0 picks a free one) with a large listen
    /// backlog, and serves on the current tokio runtime until the handle is shut down or
    /// dropped.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        config.validate()?;
        let addr = resolve(&config.host, config.port).await?;
        let listener = listen(addr)?;
        let local_addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let truth = Truth::new()?;
        let (engine, engine_rx) = match config.profile {
            Profile::Batching => {
                let (handle, rx) = EngineHandle::new();
                (Some(handle), Some(rx))
            }
            Profile::Fixed => (None, None),
        };
        let shared = Arc::new(Shared::new(config, truth, engine));
        let engine_task = engine_rx.map(|rx| {
            tokio::spawn(engine::run(
                shared.config.clone(),
                Arc::clone(&shared.metrics),
                rx,
            ))
        });
        let server_task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        tracing::info!(%local_addr, "simulator listening");
        Ok(SimHandle {
            local_addr,
            shared,
            server_task: Some(server_task),
            engine_task,
        })
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, SimError> {
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| SimError::Resolve {
            host: host.to_owned(),
            source,
        })?;
    addrs.next().ok_or_else(|| SimError::Resolve {
        host: host.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
    })
}

fn listen(addr: SocketAddr) -> Result<TcpListener, SimError> {
    let err = |source| SimError::Bind {
        addr: addr.to_string(),
        source,
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    // Requests' arrival times from the kernel (`loadtest_net`); without them the arrival is
    // when a request was handed over, as before.
    if let Err(e) = loadtest_net::enable(std::os::fd::AsFd::as_fd(&socket)) {
        tracing::debug!("receive timestamps not enabled: {e}");
    }
    socket.bind(addr).map_err(err)?;
    socket.listen(LISTEN_BACKLOG).map_err(err)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder.keep_alive(true);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY not set: {err}");
                    }
                    let tap = ConnTap::new(Arc::clone(&shared));
                    let io = TokioIo::new(TappedIo::new(stream, Arc::clone(&tap)));
                    let conn_shared = Arc::clone(&shared);
                    let service = service_fn(move |req| {
                        routes::serve(Arc::clone(&conn_shared), Arc::clone(&tap), req)
                    });
                    let conn = builder.serve_connection(io, service);
                    connections.spawn(async move {
                        if let Err(err) = conn.await {
                            tracing::debug!("connection ended: {err}");
                        }
                    });
                }
                Err(err) => {
                    // Out of file descriptors, typically: wait a little rather than spin.
                    tracing::warn!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A running simulator. Dropping it stops the simulator too (without waiting).
#[derive(Debug)]
pub struct SimHandle {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    server_task: Option<JoinHandle<()>>,
    engine_task: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// The address bound (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<addr>`: the base URL to give a client (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The config it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Requests received and answered so far, by endpoint and status.
    pub fn counts(&self) -> RequestCounts {
        self.shared.counts.snapshot()
    }

    /// What `GET /sim/truth` would answer now.
    pub fn truth(&self) -> TruthSnapshot {
        self.shared.truth.snapshot()
    }

    /// What `POST /sim/truth/reset` does.
    pub fn reset_truth(&self) {
        self.shared.truth.reset();
    }

    /// What `GET /metrics` would answer now (without the `/metrics` faults).
    pub fn metrics_text(&self) -> String {
        let c = &self.shared.config;
        crate::metrics::render(&self.shared.metrics, c.metrics_flavor, &c.model)
    }

    /// Stops accepting, closes every connection (streams in flight are cut) and stops the
    /// engine; returns once all of it has stopped.
    pub async fn shutdown(mut self) {
        for task in [self.server_task.take(), self.engine_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
            if let Err(err) = task.await
                && !err.is_cancelled()
            {
                tracing::warn!("simulator task ended badly: {err}");
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        for task in [self.server_task.take(), self.engine_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

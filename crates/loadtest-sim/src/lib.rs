//! A vLLM simulator for load testing without a GPU.
//!
//! It serves the OpenAI endpoints vLLM serves (`/v1/chat/completions`, `/v1/completions`,
//! streaming or not, `/v1/models`, `/version`, `/health`) with the same SSE framing and JSON
//! as vLLM 0.32, and `/metrics` in vLLM V1, V0 or SGLang names with the true numbers of what
//! it did. Two timing models ([`Profile`]): `fixed` (exact TTFT and inter-token gaps, for
//! calibrating a client) and `batching` (a continuous-batching engine loop that saturates
//! like a real server). Faults ([`Faults`]) are seeded per request. It also records when
//! every token event really left (stamped after the socket write) and serves the HDR
//! percentiles at `GET /sim/truth` ([`TruthSnapshot`]): the yardstick for a client's own
//! timing accuracy.
//!
//! ```
//! use loadtest_sim::{SimConfig, Simulator};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start(SimConfig::ephemeral()).await?; // 127.0.0.1, a free port
//! let mut conn = tokio::net::TcpStream::connect(sim.local_addr()).await?;
//! conn.write_all(b"GET /health HTTP/1.1\r\nhost: sim\r\nconnection: close\r\n\r\n").await?;
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer).await?;
//! assert!(answer.starts_with("HTTP/1.1 200 OK"));
//! assert_eq!(sim.counts().received(loadtest_sim::Endpoint::Health), 1);
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Prompt length is the number of whitespace-separated words (of every message's content for
//! chat), the same rule the tool's synthetic prompts are sized by; with
//! [`SimConfig::tokenizer`] it is counted in tokens of that tokenizer. See `docs/simulator.md` for
//! the model, every setting and the default saturation curve.

mod api_error;
mod body;
mod chunks;
mod config;
mod counts;
mod engine;
mod error;
mod faults;
mod metrics;
mod request;
mod routes;
mod seeded;
mod server;
mod source;
mod state;
mod tap;
mod tokens;
mod truth;

pub use config::{Faults, MetricsFlavor, Profile, SimConfig};
pub use counts::{Endpoint, RequestCounts};
pub use error::SimError;
pub use server::{LISTEN_BACKLOG, SimHandle, Simulator};
pub use tokens::{SimTokenizer, TokenizerError};
pub use truth::{FaultCounts, Percentiles, TruthSnapshot};

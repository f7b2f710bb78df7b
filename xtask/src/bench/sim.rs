//! The simulator as a separate process (`vllm-loadtest sim --profile fixed`), and its truth.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::http;

/// A running simulator; killed when dropped.
pub struct Sim {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub authority: String,
}

/// What `/sim/truth` said, in the units the bench reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Truth {
    /// Token events written since the reset.
    pub token_events: u64,
    /// Generation requests accepted.
    pub requests: u64,
    /// Arrival → first token written, p50 / p99, ms.
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p99_ms: Option<f64>,
    /// Gap between a stream's token events as written, p50 / p99, ms.
    pub gap_p50_ms: Option<f64>,
    pub gap_p99_ms: Option<f64>,
    /// Written − scheduled, p50 / p99, ms.
    pub lateness_p50_ms: Option<f64>,
    pub lateness_p99_ms: Option<f64>,
    /// Seconds since the reset.
    pub window_s: f64,
}

impl Sim {
    /// Starts `bin sim --profile fixed --ttft-ms TTFT --itl-ms ITL --port 0 --threads N` and
    /// waits for its `listening on URL` line. The open-file soft limit is raised to the hard
    /// limit first (every stream is a socket).
    pub fn start(bin: &Path, ttft_ms: f64, itl_ms: f64, threads: usize, log: &Path) -> Result<Sim> {
        let err = std::fs::File::create(log)?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@""#)
            .arg("sh")
            .arg(bin)
            .args(["sim", "--profile", "fixed", "--port", "0"])
            .args(["--ttft-ms", &ttft_ms.to_string()])
            .args(["--itl-ms", &itl_ms.to_string()])
            .args(["--threads", &threads.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .context("could not start the simulator")?;
        let stdout = child.stdout.take().context("no simulator stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the simulator's first line")?;
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "the simulator did not start (first line {:?}; see {})",
                line.trim(),
                log.display()
            );
        };
        let url = url.to_owned();
        let authority = url
            .strip_prefix("http://")
            .context("simulator URL is not http://")?
            .to_owned();
        Ok(Sim {
            child,
            url,
            authority,
        })
    }

    /// `POST /sim/truth/reset`: the truth starts afresh.
    pub fn reset(&self) -> Result<()> {
        http::request(&self.authority, "POST", "/sim/truth/reset").map(drop)
    }

    /// `GET /sim/truth`, waiting a moment first so the last flushes are stamped.
    pub fn truth(&self) -> Result<Truth> {
        std::thread::sleep(Duration::from_millis(100));
        let text = http::request(&self.authority, "GET", "/sim/truth")?;
        let v: Value = serde_json::from_str(&text).context("/sim/truth is not JSON")?;
        let us = |hist: &str, q: &str| v[hist][q].as_f64().map(|x| x / 1e3);
        Ok(Truth {
            token_events: v["token_events"].as_u64().context("truth: token_events")?,
            requests: v["requests"].as_u64().context("truth: requests")?,
            ttft_p50_ms: us("ttft_us", "p50"),
            ttft_p99_ms: us("ttft_us", "p99"),
            gap_p50_ms: us("gap_us", "p50"),
            gap_p99_ms: us("gap_us", "p99"),
            lateness_p50_ms: us("lateness_us", "p50"),
            lateness_p99_ms: us("lateness_us", "p99"),
            window_s: v["window_s"].as_f64().unwrap_or(0.0),
        })
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

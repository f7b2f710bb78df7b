//! The floor: `wrk` (a C load generator that parses nothing but HTTP framing) posting the same
//! streaming request at the same concurrency, measured the same way.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use super::client::{OUTPUT_TOKENS, PROMPT};
use super::proc::{Usage, run_measured};

/// `wrk` on PATH, if any.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wrk"))
        .find(|p| p.is_file())
}

/// Installs wrk with `apt-get` (where there is one and it may install: root), logging to
/// `log`; `None` when that did not give a `wrk` on PATH.
pub fn install(log: &Path) -> Option<PathBuf> {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
    };
    if !on_path("apt-get") {
        return None;
    }
    println!(
        "bench: wrk is missing: installing it with apt-get (log: {})",
        log.display()
    );
    let run = |args: &[&str]| -> bool {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log);
        let Ok(out) = file.and_then(|f| Ok((f.try_clone()?, f))) else {
            return false;
        };
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(out.0)
            .stderr(out.1)
            .status()
            .is_ok_and(|s| s.success())
    };
    // The package lists may be missing on a fresh machine: update once, then try again.
    if !run(&["install", "-y", "-qq", "wrk"]) {
        let _ = run(&["update", "-qq"]) && run(&["install", "-y", "-qq", "wrk"]);
    }
    find()
}

/// Writes the Lua script that makes wrk post the bench's chat request.
pub fn write_script(dir: &Path) -> Result<PathBuf> {
    let body = serde_json::json!({
        "model": "tiny-llama",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": OUTPUT_TOKENS,
        "ignore_eos": true,
        "stream": true,
        "stream_options": {"include_usage": true},
    })
    .to_string();
    let script = format!(
        "-- Posts the bench's streaming chat request (written by cargo xtask bench).\n\
         wrk.method = \"POST\"\n\
         wrk.path = \"/v1/chat/completions\"\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Accept\"] = \"text/event-stream\"\n\
         wrk.body = [[{body}]]\n"
    );
    let path = dir.join("wrk.lua");
    std::fs::write(&path, script).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// What one wrk run did.
#[derive(Debug, Clone)]
pub struct WrkResult {
    pub usage: Usage,
    /// Responses wrk completed.
    pub requests: Option<u64>,
    /// Its error line (socket errors, non-2xx), if it printed one.
    pub errors: Option<String>,
}

/// Runs `wrk -c C -t T -d D --timeout 60s -s script url`.
pub fn run(
    wrk: &Path,
    script: &Path,
    url: &str,
    concurrency: u32,
    duration: Duration,
    log: &Path,
) -> Result<WrkResult> {
    let threads = concurrency.clamp(1, 2);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@""#)
        .arg("sh")
        .arg(wrk)
        .args(["-c", &concurrency.to_string()])
        .args(["-t", &threads.to_string()])
        .args(["-d", &format!("{}s", duration.as_secs().max(1))])
        .args(["--timeout", "60s", "-s"])
        .arg(script)
        .arg(url);
    let usage = run_measured(cmd, log)?;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok());
    let errors: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Socket errors") || l.starts_with("Non-2xx"))
        .collect();
    Ok(WrkResult {
        usage,
        requests,
        errors: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

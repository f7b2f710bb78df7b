//! The large-dataset measurement (issue 17): a 1 GiB synthetic ShareGPT file in
//! `target/bench/`, and a sweep with `--dataset sharegpt:FILE` against `--simulate`, measured
//! from outside: start-up time from spawn to the first request's start (`requests.jsonl`),
//! and peak RSS. The file is made once and reused while its size matches.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::proc;

/// Size of the generated file.
const BYTES: u64 = 1 << 30;

/// What the measurement found.
#[derive(Debug, Clone)]
pub struct DatasetResult {
    /// The file's size.
    pub bytes: u64,
    /// Seconds from spawning the sweep to its first request.
    pub startup_s: Option<f64>,
    /// Peak resident set of the sweep process, KiB.
    pub peak_rss_kib: u64,
    /// Wall time of the whole process.
    pub wall_s: f64,
}

/// Makes (or reuses) the file, runs the sweep, measures.
pub fn run(bin: &Path, root: &Path, dir: &Path) -> Result<DatasetResult> {
    let file = root.join("target/bench/dataset-1g.json");
    ensure_file(&file)?;
    let run_dir = dir.join("dataset-run");
    let mut cmd = Command::new(bin);
    cmd.args(["--simulate", "--dataset"])
        .arg(format!("sharegpt:{}", file.display()))
        .args([
            "--steps",
            "4",
            "--step-duration-s",
            "1",
            "--warmup-s",
            "0",
            "--max-output-tokens",
            "4",
            "--no-gpu",
            "--quiet",
            "--run-dir",
        ])
        .arg(&run_dir);
    let spawned = unix_now();
    let usage = proc::run_measured(cmd, &dir.join("dataset.log"))?;
    let first = first_request_unix_s(&run_dir.join("requests.jsonl"));
    Ok(DatasetResult {
        bytes: std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0),
        startup_s: first.map(|t| t - spawned),
        peak_rss_kib: usage.peak_rss_kib,
        wall_s: usage.wall.as_secs_f64(),
    })
}

/// The JSON block of bench.json.
pub fn json(r: &DatasetResult) -> Value {
    json!({
        "bytes": r.bytes,
        "startup_to_first_request_s": r.startup_s,
        "peak_rss_kib": r.peak_rss_kib,
        "wall_s": r.wall_s,
    })
}

/// The markdown section of bench.md.
pub fn markdown(r: &DatasetResult) -> String {
    format!(
        "\n## 1 GiB ShareGPT dataset (`--dataset sharegpt:…`)\n\n| file | start-up to first request | peak RSS |\n|---|---|---|\n| {:.0} MiB | {} | {:.1} MiB |\n",
        r.bytes as f64 / (1024.0 * 1024.0),
        r.startup_s
            .map_or_else(|| "–".to_owned(), |s| format!("{s:.2} s")),
        r.peak_rss_kib as f64 / 1024.0,
    )
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The earliest `start_unix_s` in requests.jsonl.
fn first_request_unix_s(path: &PathBuf) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["start_unix_s"].as_f64())
        .reduce(f64::min)
}

/// Writes a ShareGPT file of at least [`BYTES`] (rows of varied lengths) unless one is there.
fn ensure_file(path: &Path) -> Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= BYTES) {
        return Ok(());
    }
    println!(
        "bench: writing a 1 GiB ShareGPT dataset to {}",
        path.display()
    );
    let tmp = path.with_extension("tmp");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let words = [
        "time", "year", "people", "way", "day", "thing", "world", "school", "state", "family",
        "question", "number", "system", "program", "water", "story",
    ];
    let mut written = 1u64;
    out.write_all(b"[")?;
    let mut i = 0u64;
    while written < BYTES {
        let mut prompt = String::new();
        let mut answer = String::new();
        for k in 0..(20 + i % 200) {
            prompt.push_str(words[((i * 7 + k * 13) % 16) as usize]);
            prompt.push(' ');
        }
        for k in 0..(10 + i % 300) {
            answer.push_str(words[((i * 11 + k * 5) % 16) as usize]);
            answer.push(' ');
        }
        let row = json!({"id": format!("row{i}"), "conversations": [
            {"from": "human", "value": prompt},
            {"from": "gpt", "value": answer},
        ]});
        let text = row.to_string();
        if i > 0 {
            out.write_all(b",\n")?;
            written += 2;
        }
        out.write_all(text.as_bytes())?;
        written += text.len() as u64;
        i += 1;
    }
    out.write_all(b"]\n")?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

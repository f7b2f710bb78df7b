//! The criterion micro-benchmarks (`cargo bench`), run in `--quick` mode, and their figures
//! collected from `target/criterion/**/new/{benchmark,estimates}.json`.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

/// (package, bench target) of every micro-benchmark.
pub const BENCHES: &[(&str, &str)] = &[
    ("loadtest-client", "sse"),
    ("loadtest-prom", "prom"),
    ("loadtest-dist", "dist"),
];

/// Runs every bench (criterion `--quick`) and returns `{full_id: {ns_per_iter, per_s, unit}}`.
pub fn run(root: &Path) -> Result<Value> {
    let started = SystemTime::now();
    for (package, bench) in BENCHES {
        println!("$ cargo bench -p {package} --bench {bench} -- --quick --noplot");
        let status = crate::cargo_command(root)
            .args(["bench", "-p", package, "--bench", bench, "--"])
            .args(["--quick", "--noplot"])
            .status()
            .context("could not start cargo bench")?;
        if !status.success() {
            bail!("cargo bench -p {package} --bench {bench} failed ({status})");
        }
    }
    let mut out = Map::new();
    collect(&root.join("target/criterion"), started, &mut out)?;
    Ok(Value::Object(out))
}

/// Walks `dir` for `new/benchmark.json` files written since `since`.
fn collect(dir: &Path, since: SystemTime, out: &mut Map<String, Value>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let bench = path.join("benchmark.json");
        let fresh = std::fs::metadata(&bench)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if path.file_name().is_some_and(|n| n == "new") && fresh {
            if let Some((id, figures)) = read_one(&path)? {
                out.insert(id, figures);
            }
        } else {
            collect(&path, since, out)?;
        }
    }
    Ok(())
}

fn read_one(new_dir: &Path) -> Result<Option<(String, Value)>> {
    let read = |name: &str| -> Result<Value> {
        let text = std::fs::read_to_string(new_dir.join(name))?;
        Ok(serde_json::from_str(&text)?)
    };
    let bench = read("benchmark.json")?;
    let estimates = read("estimates.json")?;
    let Some(id) = bench["full_id"].as_str() else {
        return Ok(None);
    };
    let Some(ns) = estimates["mean"]["point_estimate"].as_f64() else {
        return Ok(None);
    };
    let (amount, unit) = match &bench["throughput"] {
        Value::Object(t) => match (t.get("Elements"), t.get("Bytes")) {
            (Some(n), _) => (n.as_f64(), "elements"),
            (_, Some(n)) => (n.as_f64(), "bytes"),
            _ => (None, "iterations"),
        },
        _ => (None, "iterations"),
    };
    let per_s = amount.unwrap_or(1.0) / (ns * 1e-9);
    Ok(Some((
        id.to_owned(),
        json!({"ns_per_iter": ns, "per_s": per_s, "unit": unit}),
    )))
}

//! `cargo xtask fuzz`: seeds every fuzz target's corpus from the real captures in `testdata/`,
//! then runs the targets one after another with `cargo +nightly fuzz run` and reports
//! executions per target.
//!
//! Flags: `--seconds N` per target (default 60), `--max-len BYTES` (default 4096),
//! `--nice` (run at `nice -n 19`, for long campaigns beside other work), and target names to
//! run only those. Corpora live in `fuzz/corpus/<target>/` (git-ignored); crashes in
//! `fuzz/artifacts/<target>/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Every fuzz target, in the order they run.
const TARGETS: [&str; 8] = [
    "sse_parse",
    "http1_response",
    "chunk_decode",
    "prom_parse",
    "dist_spec",
    "prompt_row",
    "dataset_file",
    "trace_file",
];

struct Options {
    seconds: u64,
    max_len: u64,
    nice: bool,
    targets: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        seconds: 60,
        max_len: 4096,
        nice: false,
        targets: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut number = |flag: &str| -> Result<u64> {
            let value = it.next().with_context(|| format!("{flag} needs a value"))?;
            value
                .parse()
                .with_context(|| format!("invalid {flag} {value:?}: expected a whole number"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = number("--seconds")?,
            "--max-len" => options.max_len = number("--max-len")?,
            "--nice" => options.nice = true,
            name if TARGETS.contains(&name) => options.targets.push(name.to_owned()),
            other => bail!(
                "unknown fuzz argument {other:?} (targets: {})",
                TARGETS.join(", ")
            ),
        }
    }
    if options.targets.is_empty() {
        options.targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok(options)
}

/// Runs the `fuzz` task.
pub(crate) fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let options = parse(args)?;
    let fuzz_dir = root.join("fuzz");
    let fixtures = root.join("testdata");
    let mut results = Vec::new();
    for target in &options.targets {
        let corpus = fuzz_dir.join("corpus").join(target);
        let seeded = seed(target, &corpus, root, &fixtures)?;
        println!(
            "xtask fuzz: {target}: {seeded} seed file(s) in {}",
            corpus.display()
        );
        let execs = run_target(&fuzz_dir, target, &options)?;
        results.push((target.clone(), execs));
    }
    println!(
        "\nxtask fuzz: {} s per target, -max_len={}",
        options.seconds, options.max_len
    );
    println!("| target | executions |\n|---|---:|");
    let mut total = 0;
    for (target, execs) in &results {
        total += execs;
        println!("| {target} | {execs} |");
    }
    println!("| total | {total} |");
    Ok(())
}

/// `cargo +nightly fuzz run TARGET` for the configured time; returns the executions made.
fn run_target(fuzz_dir: &Path, target: &str, options: &Options) -> Result<u64> {
    let mut command = if options.nice {
        let mut c = Command::new("nice");
        c.args(["-n", "19", "cargo"]);
        c
    } else {
        Command::new("cargo")
    };
    command
        .args(["+nightly", "fuzz", "run", target, "--"])
        .arg(format!("-max_total_time={}", options.seconds))
        .arg(format!("-max_len={}", options.max_len))
        .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048"])
        .current_dir(fuzz_dir);
    println!(
        "$ (cd fuzz && cargo +nightly fuzz run {target} -- -max_total_time={} …)",
        options.seconds
    );
    let output = command
        .output()
        .context("could not start `cargo +nightly fuzz` (needs `cargo install cargo-fuzz` and a nightly toolchain)")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let execs = stderr
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .and_then(|n| n.trim().parse().ok());
    if !output.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "fuzz target {target} failed ({}): see fuzz/artifacts/{target}/\n{}",
            output.status,
            tail.join("\n")
        );
    }
    execs.with_context(|| format!("{target}: no execution count in libFuzzer's output"))
}

/// Copies the real fixtures that fit `target` into its corpus folder; returns how many.
fn seed(target: &str, corpus: &Path, root: &Path, fixtures: &Path) -> Result<usize> {
    std::fs::create_dir_all(corpus)
        .with_context(|| format!("cannot create {}", corpus.display()))?;
    let vllm = fixtures.join("vllm-0.32.0");
    let llamacpp = fixtures.join("llamacpp-0c1e57098");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    match target {
        "sse_parse" => {
            // Two control bytes (split points, size cap) then the stream.
            for path in files(&[&vllm, &llamacpp], "sse_", ".txt") {
                let mut bytes = vec![0x80, 0x40];
                bytes.extend(read(&path)?);
                seeds.push((seed_name(&path), bytes));
            }
        }
        "http1_response" => {
            // A split byte, then each capture as a chunked and as a Content-Length response.
            for path in files(&[&vllm, &llamacpp], "sse_", ".txt") {
                let body = read(&path)?;
                let mut chunked = b"\x80HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
                for piece in body.chunks(200) {
                    chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    chunked.extend_from_slice(piece);
                    chunked.extend_from_slice(b"\r\n");
                }
                chunked.extend_from_slice(b"0\r\n\r\n");
                seeds.push((format!("{}_chunked", seed_name(&path)), chunked));
                let mut length = format!(
                    "\x40HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                length.extend_from_slice(&body);
                seeds.push((format!("{}_length", seed_name(&path)), length));
            }
            for path in files(&[&vllm], "raw_", ".http") {
                let mut bytes = vec![0x80];
                bytes.extend(read(&path)?);
                seeds.push((seed_name(&path), bytes));
            }
        }
        "chunk_decode" => {
            for path in files(&[&vllm, &llamacpp], "sse_", ".txt") {
                let text = String::from_utf8_lossy(&read(&path)?).into_owned();
                for (i, payload) in text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .enumerate()
                {
                    seeds.push((format!("{}_{i}", seed_name(&path)), payload.trim().into()));
                }
            }
            for path in files(&[&vllm, &llamacpp], "err_", ".json") {
                seeds.push((seed_name(&path), read(&path)?));
            }
        }
        "prom_parse" => {
            for path in files(&[&vllm, &llamacpp], "metrics_", ".txt") {
                seeds.push((seed_name(&path), read(&path)?));
            }
            let data = root.join("crates/loadtest-prom/tests/data");
            for path in files(&[&data], "", ".txt") {
                seeds.push((seed_name(&path), read(&path)?));
            }
        }
        "dist_spec" => {
            for (i, spec) in [
                "128",
                "1",
                "normal:256:64:32:1024",
                "lognormal:5.5:0.6:16:4096",
                "uniform:9:300",
                "normal:10:x:1:5",
                "uniform:9:3",
                "normal:1e308:1e308:1:18446744073709551615",
            ]
            .iter()
            .enumerate()
            {
                seeds.push((format!("spec_{i}"), spec.as_bytes().to_vec()));
            }
        }
        "prompt_row" => {
            for path in files(&[&vllm.join("requests")], "", ".json") {
                seeds.push((seed_name(&path), read(&path)?));
            }
            for (i, row) in [
                "plain text prompt",
                "\"a json string\"",
                "{\"prompt\": \"p\"}",
                "{\"text\": \"t t\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"m m m\"}]}",
                "",
                "[1, 2]",
            ]
            .iter()
            .enumerate()
            {
                seeds.push((format!("row_{i}"), row.as_bytes().to_vec()));
            }
        }
        "dataset_file" => {
            // Small files of both formats, and a prompt row or two as JSONL.
            let rows = [
                r#"[{"conversations": [{"from": "human", "value": "hi there"}, {"from": "gpt", "value": "hello, how can I help?"}]}]"#,
                r#"[{"id": "x", "conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"}]}, {"conversations": []}]"#,
                "{\"prompt\": \"p q r\", \"output_tokens\": 12}\n{\"messages\": [{\"role\": \"user\", \"content\": \"m\"}]}\n",
                "\u{feff}{\"prompt\": \"bom first\"}\n\n{\"text\": 3}\n",
            ];
            for (i, row) in rows.iter().enumerate() {
                seeds.push((format!("dataset_{i}"), row.as_bytes().to_vec()));
            }
        }
        "trace_file" => {
            for path in files(&[&fixtures.join("traces")], "", "") {
                if path.extension().is_some_and(|e| e == "jsonl" || e == "csv") {
                    seeds.push((seed_name(&path), read(&path)?));
                }
            }
        }
        other => bail!("no seeds known for {other}"),
    }
    for (name, bytes) in &seeds {
        let path = corpus.join(format!("seed_{name}"));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(seeds.len())
}

/// Files directly in `dirs` whose names start with `prefix` and end with `suffix`, sorted;
/// folders that do not exist give nothing.
fn files(dirs: &[&Path], prefix: &str, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix))
        })
        .collect();
    out.sort();
    out
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `vllm-0.32.0_sse_chat_usage.txt` for a fixture path.
fn seed_name(path: &Path) -> String {
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{parent}_{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn parses_flags_and_targets() {
        let o = parse(&args(&["--seconds", "5", "dist_spec", "--nice"])).unwrap();
        assert_eq!((o.seconds, o.max_len, o.nice), (5, 4096, true));
        assert_eq!(o.targets, ["dist_spec"]);
        assert_eq!(parse(&[]).unwrap().targets.len(), TARGETS.len());
        assert!(parse(&args(&["--seconds", "x"])).is_err());
        assert!(parse(&args(&["nope"])).is_err());
    }

    #[test]
    fn seeds_every_target_from_the_fixtures() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let fixtures = root.join("testdata");
        let dir = std::env::temp_dir().join(format!("xtask-fuzz-seed-{}", std::process::id()));
        for target in TARGETS {
            let n = seed(target, &dir.join(target), &root, &fixtures).unwrap();
            assert!(n > 0, "{target}: no seeds");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

//! Workloads from the command line: `--tokenizer`, `--dataset` and its filters, against a
//! `vllm-loadtest sim --tokenizer` that counts prompt tokens with the same tokenizer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, TINY_RUN, start_sim};
use serde_json::Value;

fn tokenizer() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tiny-llama-tokenizer")
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sweep(url: &str, args: &[&str], run_dir: &Path) -> Output {
    Command::new(BIN)
        .args(["--base-url", url, "--endpoint", "completions"])
        .args(TINY_RUN)
        .args(["--poll-interval-s", "0.1", "--run-dir"])
        .arg(run_dir)
        .args(args)
        .output()
        .unwrap()
}

fn rows(run_dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(run_dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn config(run_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("config.json")).unwrap()).unwrap()
}

fn sharegpt(dir: &Path) -> PathBuf {
    let rows: Vec<Value> = (0..60)
        .map(|i| {
            serde_json::json!({"conversations": [
                {"from": "human", "value": format!("Question {i}: {}", "tell me more ".repeat(i))},
                {"from": "gpt", "value": "Sure. ".repeat(i % 5 + 1)},
            ]})
        })
        .collect();
    let path = dir.join("sharegpt.json");
    std::fs::write(&path, serde_json::to_vec(&rows).unwrap()).unwrap();
    path
}

#[test]
fn a_sharegpt_dataset_counted_with_the_tokenizer() {
    let tok = tokenizer();
    let (mut sim, url) = start_sim(&["--tokenizer", &tok]);
    let out = tempfile::tempdir().unwrap();
    let file = sharegpt(out.path());
    let run_dir = out.path().join("run");
    let o = sweep(
        &url,
        &[
            "--dataset",
            &format!("sharegpt:{}", file.display()),
            "--tokenizer",
            &tok,
            "--output-len",
            "dataset",
            "--ignore-eos",
            "--dataset-max-prompt-tokens",
            "60",
            "--max-model-len",
            "64",
            "--dataset-pool-size",
            "10",
        ],
        &run_dir,
    );
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rows = rows(&run_dir);
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["prompt_tokens"], row["input_tokens_target"], "{row}");
        let prompt = row["prompt_tokens"].as_u64().unwrap();
        assert!(prompt <= 60, "{row}");
        assert!(prompt + row["max_tokens"].as_u64().unwrap() <= 64, "{row}");
        assert_eq!(row["completion_tokens"], row["max_tokens"], "{row}");
    }
    let c = config(&run_dir);
    let settings = &c["settings"];
    assert_eq!(settings["input_mode"], "dataset");
    assert_eq!(settings["token_counting"]["method"], "tokenizer");
    let d = &settings["dataset"];
    assert_eq!(d["format"], "sharegpt");
    assert_eq!(d["rows_read"], 60);
    assert_eq!(d["rows_kept"], 10);
    assert_eq!(d["max_model_len"], 64);
    assert_eq!(d["output_len"], "dataset");
    assert!(d["skipped_max_prompt_tokens"].as_u64().unwrap() > 0, "{d}");
}

#[test]
fn synthetic_prompts_are_exact_and_words_are_said_to_be_words() {
    let tok = tokenizer();
    let (mut sim, url) = start_sim(&["--tokenizer", &tok]);
    let out = tempfile::tempdir().unwrap();
    let exact = out.path().join("exact");
    let o = sweep(
        &url,
        &["--input-size", "uniform:1:300", "--tokenizer", &tok],
        &exact,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    for row in rows(&exact) {
        assert_eq!(row["prompt_tokens"], row["input_tokens_target"], "{row}");
    }
    let words = out.path().join("words");
    let o = sweep(&url, &["--input-size", "32"], &words);
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let counting = &config(&words)["settings"]["token_counting"];
    assert_eq!(counting, &serde_json::json!({"method": "words"}));
}

#[test]
fn shared_prefixes_from_the_command_line() {
    let tok = tokenizer();
    let (mut sim, url) = start_sim(&["--tokenizer", &tok]);
    let out = tempfile::tempdir().unwrap();
    let run_dir = out.path().join("run");
    let o = sweep(
        &url,
        &[
            "--input-size",
            "16",
            "--shared-prefix-tokens",
            "64",
            "--prefix-groups",
            "2",
            "--tokenizer",
            &tok,
        ],
        &run_dir,
    );
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    for row in rows(&run_dir) {
        assert_eq!(row["prompt_tokens"], 80, "{row}");
    }
    let c = config(&run_dir);
    assert_eq!(c["settings"]["shared_prefix"]["groups"], 2);
}

#[test]
fn vllm_bench_dataset_flags_map_onto_dataset() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let file = sharegpt(out.path());
    let run_dir = out.path().join("run");
    let o = sweep(
        &url,
        &[
            "--dataset-name",
            "sharegpt",
            "--dataset-path",
            &file.display().to_string(),
        ],
        &run_dir,
    );
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let c = config(&run_dir);
    assert_eq!(c["settings"]["dataset"]["format"], "sharegpt");
    assert_eq!(c["settings"]["token_counting"]["method"], "words");
}

#[test]
fn bad_workload_flags_name_the_flag_and_the_path() {
    let out = tempfile::tempdir().unwrap();
    let file = sharegpt(out.path());
    let sg = format!("sharegpt:{}", file.display());
    let chat_rows = out.path().join("chat.jsonl");
    std::fs::write(
        &chat_rows,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
    )
    .unwrap();
    let chat = format!("jsonl:{}", chat_rows.display());
    for (args, needles) in [
        (
            vec!["--input-size", "8", "--tokenizer", "no/such/dir"],
            vec!["--tokenizer", "no/such/dir", "nothing is downloaded"],
        ),
        (
            vec!["--dataset", "csv:x.csv"],
            vec!["--dataset", "sharegpt:PATH or jsonl:PATH"],
        ),
        (
            vec!["--dataset", "sharegpt:missing.json"],
            vec!["--dataset", "missing.json"],
        ),
        (
            vec!["--dataset", &sg, "--input-size", "8"],
            vec!["exclude each other"],
        ),
        (
            vec!["--input-size", "8", "--output-len", "dataset"],
            vec!["--output-len applies to --dataset only"],
        ),
        (
            vec!["--dataset", &sg, "--output-len", "64"],
            vec!["invalid --output-len"],
        ),
        (
            vec!["--dataset", &sg, "--dataset-max-prompt-tokens", "1"],
            vec!["no usable row", "filtered out"],
        ),
        (
            vec!["--dataset", &chat, "--endpoint", "completions"],
            vec!["--endpoint", "\"messages\" rows of the dataset"],
        ),
        (
            vec!["--input-size", "8", "--prefix-groups", "2"],
            vec!["--shared-prefix-tokens"],
        ),
        (
            vec!["--prompt-text", "hi", "--shared-prefix-tokens", "8"],
            vec!["--shared-prefix-tokens applies to synthetic prompts"],
        ),
        (
            vec![
                "--input-size",
                "8",
                "--shared-prefix-tokens",
                "8",
                "--prefix-groups",
                "0",
            ],
            vec!["invalid --shared-prefix-tokens 8 --prefix-groups 0"],
        ),
    ] {
        let o = Command::new(BIN)
            .args(["--base-url", "http://127.0.0.1:1"])
            .args(&args)
            .output()
            .unwrap();
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{args:?}: {stderr}");
        }
    }
    let o = Command::new(BIN)
        .args([
            "sim",
            "--port",
            "0",
            "--tokenizer",
            "no/such/tokenizer.json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("no/such/tokenizer.json"));
}

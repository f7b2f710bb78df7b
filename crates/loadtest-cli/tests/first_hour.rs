//! A new user's first hour: `/v1` base URLs, failing `/metrics` said loudly, runs where nothing
//! succeeded, `vllm bench serve` habits, extra request fields, a reproducible config.json,
//! `--run-dir`, `--quiet`, and errors that name the flag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, TINY_RUN, canned_server, models_answer, one_token_stream, start_sim};
use serde_json::Value;

/// [`TINY_RUN`] with frequent scrapes: a run takes about a second.
const FAST_SCRAPES: [&str; 2] = ["--poll-interval-s", "0.1"];

/// Runs the sweep with `args` plus [`TINY_RUN`] and [`FAST_SCRAPES`], writing under `out`.
fn sweep(args: &[&str], out: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .args(TINY_RUN)
        .args(FAST_SCRAPES)
        .arg("--output-dir")
        .arg(out)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one run folder under `out`.
fn run_dir(out: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.remove(0)
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_v1_base_url_scrapes_metrics_at_the_server_root() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let o = sweep(
        &["--base-url", &format!("{url}/v1"), "--prompt-text", "hi"],
        out.path(),
    );
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dir = run_dir(out.path());
    let config = json(&dir.join("config.json"));
    assert_eq!(config["target"]["base_url"], url.as_str());
    assert_eq!(config["target"]["metrics_url"], format!("{url}/metrics"));
    let telemetry = &config["telemetry"];
    assert!(telemetry["metrics_scrapes_ok"].as_u64().unwrap() >= 2);
    assert_eq!(telemetry["metrics_scrapes_failed"], 0);
    let summary = json(&dir.join("step_summary.json"));
    assert!(summary["steps"][0]["server"].is_object(), "{summary}");
    assert!(!text(&o.stderr).contains("failed every time"));
}

#[test]
fn a_metrics_url_that_always_fails_is_said_loudly() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let wrong = format!("{url}/v1/metrics");
    let o = sweep(
        &[
            "--base-url",
            &url,
            "--metrics-url",
            &wrong,
            "--prompt-text",
            "hi",
        ],
        out.path(),
    );
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("failed every time"))
        .unwrap_or_else(|| panic!("no warning in {stderr}"));
    assert!(line.starts_with("warning: "), "{line}");
    assert!(line.contains(&wrong) && line.contains("404"), "{line}");
    let md = std::fs::read_to_string(run_dir(out.path()).join("summary.md")).unwrap();
    assert!(md.contains("**every scrape failed**"), "{md}");
    assert!(md.contains(&wrong), "{md}");
}

#[test]
fn a_run_where_nothing_succeeded_exits_1_with_the_dominant_error() {
    // Every request refused for its credentials, with --model given (no preflight 401).
    let (url, _) = canned_server(|head, _| {
        if head.starts_with("GET /v1/models") {
            models_answer()
        } else {
            (
                "401 Unauthorized",
                "application/json",
                r#"{"error":"Unauthorized"}"#.to_owned(),
            )
        }
    });
    let out = tempfile::tempdir().unwrap();
    let o = sweep(
        &[
            "--base-url",
            &url,
            "--model",
            "m",
            "--prompt-text",
            "hi",
            "--no-metrics",
        ],
        out.path(),
    );
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let line = stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(line.contains("none of the"), "{line}");
    assert!(line.contains("http_error"), "{line}");
    assert!(line.contains("check --api-key / OPENAI_API_KEY"), "{line}");
    assert!(
        !text(&o.stdout).contains("Peak"),
        "the outcome table is still printed"
    );

    // Without --model, preflight meets the 401 first: exit 2, with the same hint.
    let (url, _) = canned_server(|_, _| {
        (
            "401 Unauthorized",
            "application/json",
            r#"{"error":"Unauthorized"}"#.to_owned(),
        )
    });
    let o = sweep(&["--base-url", &url, "--prompt-text", "hi"], out.path());
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("check --api-key / OPENAI_API_KEY"),
        "{stderr}"
    );
    assert!(!stderr.contains("give one with --model"), "{stderr}");

    // Server errors: no credential hint.
    let (mut sim, url) = start_sim(&["--fault-http-500", "1"]);
    let out = tempfile::tempdir().unwrap();
    let o = sweep(&["--base-url", &url, "--prompt-text", "hi"], out.path());
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("none of the"), "{stderr}");
    assert!(!stderr.contains("--api-key"), "{stderr}");
}

#[test]
fn extra_body_fields_reach_every_request_and_config_json() {
    let (url, seen) = canned_server(|head, _| {
        if head.starts_with("GET /v1/models") {
            models_answer()
        } else {
            one_token_stream()
        }
    });
    let out = tempfile::tempdir().unwrap();
    let o = sweep(
        &[
            "--base-url",
            &url,
            "--prompt-text",
            "hi",
            "--no-metrics",
            "--extra-body",
            r#"{"min_tokens": 2, "chat_template_kwargs": {"enable_thinking": false}}"#,
            "--temperature",
            "0.5",
            "--top-p",
            "0.9",
        ],
        out.path(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let posts: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.head.starts_with("POST "))
        .map(|s| serde_json::from_slice(&s.body).unwrap())
        .collect();
    assert!(!posts.is_empty());
    for body in &posts {
        assert_eq!(body["min_tokens"], 2, "{body}");
        assert_eq!(body["temperature"], 0.5, "{body}");
        assert_eq!(body["top_p"], 0.9, "{body}");
        assert_eq!(body["chat_template_kwargs"]["enable_thinking"], false);
        assert_eq!(body["stream"], true, "the client's own fields stay");
    }
    let config = json(&run_dir(out.path()).join("config.json"));
    let extra = &config["settings"]["extra_body"];
    assert_eq!(extra["min_tokens"], 2);
    assert_eq!(extra["temperature"], 0.5);
    assert_eq!(extra["top_p"], 0.9);

    // A field the client sets itself, or the same field twice, is refused before the run.
    for (args, needle) in [
        (vec!["--extra-body", r#"{"stream": false}"#], "\"stream\""),
        (
            vec![
                "--extra-body",
                r#"{"temperature": 1}"#,
                "--temperature",
                "0",
            ],
            "--temperature and --extra-body",
        ),
        (vec!["--extra-body", "[1]"], "JSON object"),
    ] {
        let mut all = vec!["--base-url", &url, "--prompt-text", "hi"];
        all.extend(args);
        let o = sweep(&all, out.path());
        assert_eq!(o.status.code(), Some(2));
        assert!(text(&o.stderr).contains(needle), "{}", text(&o.stderr));
    }
}

#[test]
fn config_json_records_what_reproduces_the_run() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let prompts = out.path().join("prompts.jsonl");
    std::fs::write(&prompts, "hello\n").unwrap();
    let results = out.path().join("results");
    let o = sweep(
        &[
            "--base-url",
            &url,
            "--prompt-file",
            prompts.to_str().unwrap(),
            "--api-key",
            "sk-hidden-1",
            "--header",
            "X-Api-Key: sk-hidden-2",
        ],
        &results,
    );
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let config = json(&run_dir(&results).join("config.json"));
    let file = &config["settings"]["prompt_file"];
    assert_eq!(file["path"], prompts.to_str().unwrap());
    // sha256("hello\n")
    assert_eq!(
        file["sha256"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    );
    assert_eq!(file["rows"], 1);
    let line: Vec<&str> = config["command_line"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(line[0], "vllm-loadtest");
    assert!(line.contains(&"--prompt-file") && line.contains(&"--step-duration-s"));
    assert!(line.contains(&"X-Api-Key: <redacted>"), "{line:?}");
    let all = serde_json::to_string(&config).unwrap();
    assert!(!all.contains("sk-hidden"), "{all}");

    let o = sweep(
        &["--base-url", &url, "--prompt-text", "the fixed prompt"],
        &out.path().join("fixed"),
    );
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let config = json(&run_dir(&out.path().join("fixed")).join("config.json"));
    assert_eq!(config["settings"]["prompt_text"], "the fixed prompt");
}

#[test]
fn run_dir_is_used_as_is_and_quiet_prints_only_its_path() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let exact = out.path().join("nested/my-run");
    let args = [
        "--base-url",
        &url,
        "--prompt-text",
        "hi",
        "--quiet",
        "--run-dir",
        exact.to_str().unwrap(),
        "--nvidia-smi",
        "/nonexistent/nvidia-smi",
    ];
    let o = Command::new(BIN)
        .args(args)
        .args(TINY_RUN.iter().filter(|a| **a != "--no-gpu"))
        .args(FAST_SCRAPES)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), format!("{}\n", exact.display()));
    assert_eq!(text(&o.stderr), "", "--quiet prints no warning");
    assert!(exact.join("summary.md").is_file());
    // Never reused.
    let o = Command::new(BIN)
        .args(args)
        .args(TINY_RUN)
        .output()
        .unwrap();
    sim.kill().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid --run-dir"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("already exists"));
}

#[test]
fn without_a_gpu_the_warning_shows_once_and_the_facts_say_unavailable() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--prompt-text", "hi"])
        .args(["--nvidia-smi", "/nonexistent/nvidia-smi"])
        .args(TINY_RUN.iter().filter(|a| **a != "--no-gpu"))
        .args(FAST_SCRAPES)
        .arg("--output-dir")
        .arg(out.path())
        .output()
        .unwrap();
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("/nonexistent/nvidia-smi").count(),
        1,
        "{stderr}"
    );
    let md = std::fs::read_to_string(run_dir(out.path()).join("summary.md")).unwrap();
    let facts = md
        .lines()
        .find(|l| l.starts_with("| GPU telemetry"))
        .unwrap();
    assert!(facts.contains("unavailable"), "{facts}");
    assert!(!facts.contains("every"), "{facts}");
}

#[test]
fn vllm_bench_serve_flags_work_or_name_ours() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--prompt-text", "hi", "--no-gpu"])
        .args(["--request-rate", "20", "--burstiness", "0.5"])
        .args(["--step-duration-s", "0.5", "--warmup-s", "0"])
        .args(["--random-output-len", "4", "--output-dir"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let config = json(&run_dir(out.path()).join("config.json"));
    assert_eq!(config["settings"]["load_mode"], "rate");
    assert_eq!(config["settings"]["steps"], serde_json::json!([20.0]));
    assert_eq!(config["settings"]["arrival"]["gamma"]["burstiness"], 0.5);
    assert_eq!(config["settings"]["max_output_tokens"], "4");

    let out = tempfile::tempdir().unwrap();
    let o = Command::new(BIN)
        .args(["--base-url", &url, "--random-input-len", "16", "--no-gpu"])
        .args(["--max-concurrency", "2", "--step-duration-s", "0.5"])
        .args([
            "--warmup-s",
            "0",
            "--max-output-tokens",
            "4",
            "--output-dir",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    sim.kill().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let config = json(&run_dir(out.path()).join("config.json"));
    assert_eq!(config["settings"]["steps"], serde_json::json!([2.0]));
    assert_eq!(config["settings"]["input_size"], "16");

    for (args, needle) in [
        (
            vec!["--num-prompts", "100", "--step-duration-s", "5"],
            "--num-prompts and --step-duration-s",
        ),
        (
            vec!["--dataset-name", "sharegpt"],
            "--dataset sharegpt:PATH",
        ),
        (vec!["--dataset-name", "sonnet"], "--dataset sharegpt:PATH"),
        (vec!["--dataset-path", "x.json"], "--dataset sharegpt:PATH"),
        (vec!["--request-rate", "inf"], "--steps N"),
        (vec!["--request-rate", "1", "--steps", "2"], "--steps"),
        (vec!["--burstiness", "2"], "--request-rate"),
    ] {
        let stderr = common::refusal(
            &["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"],
            &args,
            needle,
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn conflicting_or_misplaced_values_are_refused_naming_the_flag() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    for (args, needle) in [
        (
            vec![
                "--api-key",
                "sk-x",
                "--header",
                "Authorization: Bearer sk-y",
            ],
            "--api-key and --header 'Authorization: …'",
        ),
        (
            vec!["--output-dir", file.to_str().unwrap()],
            "is a file, not a folder",
        ),
    ] {
        let stderr = common::refusal(
            &["--base-url", "http://127.0.0.1:1", "--prompt-text", "hi"],
            &args,
            needle,
        );
        assert!(!stderr.contains("sk-"), "{stderr}");
    }
    let o = Command::new(BIN)
        .args(["sim", "--fault-429", "2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("invalid --fault-429 2"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_misread_lognormal_spec_is_warned_about() {
    let (mut sim, url) = start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let o = sweep(
        &[
            "--base-url",
            &url,
            "--input-size",
            "lognormal:400:100:128:4096",
        ],
        out.path(),
    );
    sim.kill().unwrap();
    let stderr = text(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("--input-size lognormal:400:100:128:4096"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.starts_with("warning: "), "{line}");
    assert!(line.contains("5.99"), "{line}");
}

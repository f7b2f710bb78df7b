//! The main command end to end: `vllm-loadtest --simulate …` as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");

const SHORT: [&str; 9] = [
    "--simulate",
    "--steps",
    "1,2",
    "--step-duration-s",
    "1",
    "--warmup-s",
    "0.5",
    "--no-gpu",
    "--max-output-tokens",
];

fn run(args: &[&str], out: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--output-dir")
        .arg(out)
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_API_KEY")
        .output()
        .unwrap()
}

fn run_dirs(out: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(out) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn simulate_runs_a_sweep_and_writes_the_run_folder() {
    let out = tempfile::tempdir().unwrap();
    let mut args = SHORT.to_vec();
    args.extend([
        "16",
        "--api-key",
        "sk-TOPSECRET-123",
        "--header",
        "X-Trace: abc",
    ]);
    let o = run(&args, out.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("results: "), "{stdout}");
    let dirs = run_dirs(out.path());
    assert_eq!(dirs.len(), 1);
    let names: Vec<String> = std::fs::read_dir(&dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for file in [
        "config.json",
        "requests.jsonl",
        "vllm_metrics.csv",
        "gpu_metrics.csv",
        "step_summary.json",
        "vllm_step_deltas.json",
        "summary.md",
    ] {
        assert!(names.iter().any(|n| n == file), "{file} missing: {names:?}");
    }
    // The api key never reaches disk (nor the output).
    let mut pending = vec![dirs[0].clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(!text.contains("TOPSECRET"), "{}", path.display());
            }
        }
    }
    assert!(dirs[0].join("charts/throughput.svg").is_file());
    assert!(!stdout.contains("TOPSECRET") && !stderr(&o).contains("TOPSECRET"));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["target"]["api_key"], "<redacted>");
    assert_eq!(config["settings"]["steps"], serde_json::json!([1.0, 2.0]));
    assert_eq!(config["settings"]["input_size"], "normal:256:64:32:1024");
}

#[test]
fn bad_flags_are_one_line_errors_with_exit_2_and_no_run_folder() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--simulate", "--input-size", "normal:10:x:1:5"],
            "invalid --input-size \"normal:10:x:1:5\": std \"x\" is not a number (expected normal:<mean>:<std>:<min>:<max>)",
        ),
        (&["--simulate", "--steps", "0,1"], "invalid --steps"),
        (
            &["--base-url", "localhost:8000", "--prompt-text", "hi"],
            "invalid --base-url",
        ),
        (&["--prompt-text", "hi"], "--base-url is required"),
        (
            &["--simulate", "--max-output-tokens", "uniform:9:3"],
            "invalid --max-output-tokens",
        ),
        (
            &["--simulate", "--step-duration-s", "-1"],
            "invalid --step-duration-s",
        ),
        (&["--simulate", "--header", "nocolon"], "invalid --header"),
        (
            &["--simulate", "--steps", "8", "--max-inflight", "4"],
            "--max-inflight",
        ),
    ];
    for (args, expected) in cases {
        let out = tempfile::tempdir().unwrap();
        let o = run(args, out.path());
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"));
        assert!(
            run_dirs(out.path()).is_empty(),
            "{args:?} left a run folder"
        );
    }
}

#[test]
fn unreachable_server_exits_2_before_writing() {
    let out = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let o = run(
        &["--base-url", &url, "--prompt-text", "hi", "--no-gpu"],
        out.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot reach"), "{}", stderr(&o));
    assert!(run_dirs(out.path()).is_empty());
}

#[test]
fn sigint_mid_step_writes_partial_outputs_and_exits_130() {
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--simulate",
            "--steps",
            "4,8",
            "--step-duration-s",
            "5",
            "--warmup-s",
            "0.5",
            "--no-gpu",
            "--quiet",
            "--output-dir",
        ])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let dirs = run_dirs(out.path());
    assert_eq!(dirs.len(), 1);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dirs[0].join("step_summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["steps"][0]["partial"], true);
    let requests = std::fs::read_to_string(dirs[0].join("requests.jsonl")).unwrap();
    assert!(requests.ends_with('\n'), "torn last line");
    for line in requests.lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
    assert!(dirs[0].join("summary.md").is_file());
}

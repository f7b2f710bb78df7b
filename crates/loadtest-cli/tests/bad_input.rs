//! Bad input (§4, §12): every sweep flag with a wrong value, missing flags, bad prompt files,
//! an output folder that cannot be written or fills up, unreachable or wrong-protocol
//! servers. Each is one line naming the problem, exit 2, no panic or backtrace, and no run
//! folder left behind for usage errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;

use common::BIN;

fn run(args: &[&str], out: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--output-dir")
        .arg(out)
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_API_KEY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_no_crash(what: &str, err: &str) {
    assert!(
        !err.contains("panicked") && !err.contains("backtrace") && !err.contains("RUST_BACKTRACE"),
        "{what}: {err}"
    );
}

/// Exit 2, exactly one stderr line, containing `expected`, nothing in `out`.
fn assert_usage_error(args: &[&str], expected: &str) {
    let out = tempfile::tempdir().unwrap();
    let o = run(args, out.path());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_no_crash(&format!("{args:?}"), &err);
    assert!(o.stdout.is_empty(), "{args:?}: stdout {:?}", o.stdout);
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "{args:?} left something in the output folder"
    );
}

#[test]
fn every_flag_with_a_wrong_value() {
    let s = "--simulate";
    let cases: &[(&[&str], &str)] = &[
        (&[s, "--steps", "x"], "invalid --steps"),
        (&[s, "--steps", ""], "invalid --steps"),
        (&[s, "--steps", "1,,2"], "invalid --steps"),
        (&[s, "--steps", "-4"], "invalid --steps"),
        (&[s, "--steps"], "--steps"),
        (&[s, "--step-duration-s", "abc"], "--step-duration-s"),
        (&[s, "--step-duration-s", "0"], "invalid --step-duration-s"),
        (
            &[s, "--step-duration-s", "nan"],
            "invalid --step-duration-s",
        ),
        (
            &[s, "--step-duration-s", "inf"],
            "invalid --step-duration-s",
        ),
        (&[s, "--warmup-s", "-1"], "invalid --warmup-s"),
        (&[s, "--ramp-s", "-0.5"], "invalid --ramp-s"),
        (&[s, "--cooldown-s", "x"], "--cooldown-s"),
        (&[s, "--input-mode", "bogus"], "--input-mode"),
        (&[s, "--input-size", "0"], "invalid --input-size"),
        (&[s, "--input-size", "normal:1:2"], "invalid --input-size"),
        (
            &[s, "--max-output-tokens", "uniform:9:3"],
            "invalid --max-output-tokens",
        ),
        (
            &[s, "--max-output-tokens", "-5"],
            "invalid --max-output-tokens",
        ),
        (&[s, "--seed", "-1"], "--seed"),
        (&[s, "--seed", "99999999999999999999999"], "--seed"),
        (&[s, "--timeout-s", "0"], "invalid --timeout-s"),
        (&[s, "--max-inflight", "0"], "invalid --max-inflight"),
        (&[s, "--max-inflight", "x"], "--max-inflight"),
        (&[s, "--poll-interval-s", "0"], "invalid --poll-interval-s"),
        (
            &[s, "--gpu-poll-interval-s", "-1"],
            "invalid --gpu-poll-interval-s",
        ),
        (&[s, "--run-name", "a/b"], "invalid --run-name"),
        (&[s, "--run-name", ""], "invalid --run-name"),
        (&[s, "--run-name", ".hidden"], "invalid --run-name"),
        (&[s, "--endpoint", "bogus"], "--endpoint"),
        (&[s, "--header", "nocolon"], "invalid --header"),
        (&[s, "--header", "bad name: v"], "invalid --header"),
        (&[s, "--header", "X-A: a\u{7}b"], "invalid --header"),
        (&[s, "--load-mode", "bogus"], "--load-mode"),
        (
            &[s, "--metrics-url", "ftp://x/metrics"],
            "invalid --metrics-url",
        ),
        (&[s, "--max-error-rate", "2"], "invalid --max-error-rate"),
        (&[s, "--max-error-rate", "x"], "--max-error-rate"),
        (
            &[s, "--prompt-text", "   ", "--input-mode", "fixed-prompt"],
            "invalid --prompt-text",
        ),
        // Burstiness outside 0.01..=1000: gamma:1e-12 scheduled ~90,000 requests in a
        // 5 req/s step.
        (
            &[
                s,
                "--load-mode",
                "rate",
                "--steps",
                "5",
                "--arrival",
                "gamma:1e-12",
            ],
            "invalid --arrival \"gamma:1e-12\": burstiness 1e-12 is outside 0.01..=1000",
        ),
        (
            &[
                s,
                "--load-mode",
                "rate",
                "--steps",
                "5",
                "--arrival",
                "gamma:5000",
            ],
            "outside 0.01..=1000",
        ),
        (
            &[s, "--request-rate", "5", "--burstiness", "0.001"],
            "invalid --burstiness",
        ),
        (&[s, "--bogus-flag"], "--bogus-flag"),
        (&[s, "--quiet=yes"], "--quiet"),
        (
            &["--base-url", "ftp://127.0.0.1:1", "--prompt-text", "hi"],
            "invalid --base-url",
        ),
        (
            &["--base-url", "http://", "--prompt-text", "hi"],
            "invalid --base-url",
        ),
        (
            &[
                "--base-url",
                "http://h:1",
                "--simulate",
                "--prompt-text",
                "hi",
            ],
            "--simulate",
        ),
    ];
    for (args, expected) in cases {
        assert_usage_error(args, expected);
    }
}

#[test]
fn missing_required_flags() {
    assert_usage_error(&["--prompt-text", "hi"], "--base-url is required");
    assert_usage_error(&["--base-url", "http://127.0.0.1:1"], "no input given");
    assert_usage_error(
        &[
            "--base-url",
            "http://127.0.0.1:1",
            "--input-mode",
            "prompt-file",
        ],
        "needs --prompt-file",
    );
}

#[test]
fn bad_prompt_files() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let empty = write("empty.jsonl", b"");
    let blank = write("blank.jsonl", b"\n  \n\r\n");
    let not_utf8 = write("latin1.jsonl", b"ok line\n\xff\xfe caf\xe9\n");
    let bad_row = write("bad.jsonl", b"fine\n{\"prompt\": 5}\n");
    let bad_json = write("json.jsonl", b"{\"prompt\": \"unterminated\n");
    let number = write("number.jsonl", b"\xEF\xBB\xBF{\"prompt\": \"ok\"}\n42\n");
    // Bigger than the 512 MiB limit without writing it: a sparse file.
    let huge = dir.path().join("huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(loadtest_sweep::prompt_file::MAX_PROMPT_FILE_BYTES + 1)
        .unwrap();
    let missing = dir.path().join("missing.jsonl");
    let folder = dir.path().to_owned();
    let cases: [(&PathBuf, &str); 9] = [
        (&empty, "holds no prompts"),
        (&blank, "holds no prompts"),
        (&not_utf8, "line 2: not valid UTF-8"),
        (&bad_row, "line 2: \"prompt\" is not a string"),
        (&bad_json, "line 1: invalid JSON"),
        // The BOM of line 1 is skipped; line 2 is a JSON number, refused like an array.
        (&number, "line 2: a JSON number is not a prompt"),
        (&huge, "more than the 536870912 bytes allowed"),
        (&missing, "No such file or directory"),
        (&folder, "Is a directory"),
    ];
    for (path, expected) in cases {
        let p = path.to_str().unwrap();
        // The file alone (it implies the mode), and with the mode given.
        for args in [
            vec!["--base-url", "http://127.0.0.1:1", "--prompt-file", p],
            vec![
                "--simulate",
                "--input-mode",
                "prompt-file",
                "--prompt-file",
                p,
            ],
        ] {
            assert_usage_error(&args, expected);
            let out = tempfile::tempdir().unwrap();
            let err = stderr(&run(&args, out.path()));
            assert!(err.contains(p), "{err} does not name the file");
            // The OS error is said once, not repeated by the error chain.
            assert!(
                err.matches("(os error").count() <= 1,
                "cause repeated: {err}"
            );
        }
    }
}

#[test]
fn simulate_with_a_prompt_file_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.jsonl");
    std::fs::write(&path, b"").unwrap();
    assert_usage_error(
        &["--simulate", "--prompt-file", path.to_str().unwrap()],
        "holds no prompts",
    );
}

#[test]
fn output_folder_that_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    // Tests may run as root, for whom permissions do not stop a write: a folder under a
    // regular file, and /proc, fail for everyone.
    let under_file = file.join("sub");
    for (target, expected) in [
        (under_file.as_path(), "Not a directory"),
        (
            Path::new("/proc/vllm-loadtest-test"),
            "/proc/vllm-loadtest-test",
        ),
    ] {
        let o = Command::new(BIN)
            .args(["--simulate", "--quiet", "--no-gpu", "--steps", "1"])
            .args(["--step-duration-s", "1", "--warmup-s", "0", "--output-dir"])
            .arg(target)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("cannot write") && err.contains(expected),
            "{err}"
        );
        assert_eq!(err.matches("(os error").count(), 1, "cause repeated: {err}");
        assert_no_crash("output dir", &err);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

/// A tmpfs of `size`, unmounted when dropped; `None` where mounting is not allowed.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_one_line_and_requests_jsonl_stays_valid() {
    let Some(disk) = Tmpfs::mount("16k") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let o = Command::new(BIN)
        .args(["--simulate", "--quiet", "--no-gpu", "--steps", "4"])
        .args(["--step-duration-s", "1.5", "--warmup-s", "0.2"])
        .args(["--max-output-tokens", "16", "--output-dir"])
        .arg(disk.0.path())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert_eq!(err.matches("(os error").count(), 1, "cause repeated: {err}");
    assert_no_crash("disk full", &err);
    // What was recorded before the disk filled is whole lines: no torn last line.
    let run_dir = std::fs::read_dir(disk.0.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let requests = std::fs::read(run_dir.join("requests.jsonl")).unwrap();
    assert!(
        requests.is_empty() || requests.ends_with(b"\n"),
        "torn last line"
    );
    for line in String::from_utf8(requests).unwrap().lines() {
        let _: serde_json::Value = serde_json::from_str(line).unwrap();
    }
}

#[test]
fn unreachable_wrong_protocol_and_wrong_model() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = format!("http://127.0.0.1:{port}");
    assert_usage_error(
        &["--base-url", &closed, "--prompt-text", "hi", "--no-gpu"],
        "cannot reach",
    );
    let (mut sim, url) = common::start_sim(&[]);
    let tls = url.replace("http://", "https://");
    assert_usage_error(
        &["--base-url", &tls, "--prompt-text", "hi", "--no-gpu"],
        "is it http://?",
    );
    assert_usage_error(
        &[
            "--base-url",
            &url,
            "--prompt-text",
            "hi",
            "--no-gpu",
            "--model",
            "nope",
        ],
        "--model \"nope\" is not served",
    );
    assert_usage_error(
        &[
            "--base-url",
            &url,
            "--prompt-text",
            "hi",
            "--no-gpu",
            "--model",
            "",
        ],
        "invalid --model \"\": expected a model name",
    );
    sim.kill().unwrap();
    sim.wait().unwrap();
}

//! Progress without a terminal (CI logs): one line per step, each with that step's own
//! figures, the last step's included, all before the outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_vllm-loadtest");

/// One parsed `step i/n (load L) measured…` line.
#[derive(Debug)]
struct StepLine {
    /// Where in the combined output it is.
    line_no: usize,
    step: usize,
    steps: usize,
    load: f64,
    inflight_mean: f64,
    inflight_max: u64,
    ok: u64,
}

/// `… step 2/3 (load 2) measured: 40 ok, 0 errors finished in the window; in flight mean
/// 2.0, max 2; TTFT mean 5.1 ms`
fn parse_step_line(line_no: usize, line: &str) -> Option<StepLine> {
    let rest = &line[line.find("] step ")? + "] step ".len()..];
    let (step, rest) = rest.split_once('/')?;
    let (steps, rest) = rest.split_once(" (load ")?;
    let (load, rest) = rest.split_once(") measured")?;
    let (_, rest) = rest.split_once(": ")?;
    let (ok, rest) = rest.split_once(" ok, ")?;
    let (_, rest) = rest.split_once("in flight mean ")?;
    let (mean, rest) = rest.split_once(", max ")?;
    let (max, _) = rest.split_once(';')?;
    Some(StepLine {
        line_no,
        step: step.parse().ok()?,
        steps: steps.parse().ok()?,
        load: load.parse().ok()?,
        inflight_mean: mean.parse().ok()?,
        inflight_max: max.parse().ok()?,
        ok: ok.parse().ok()?,
    })
}

#[test]
fn without_a_terminal_every_step_gets_one_line_with_its_own_figures() {
    let out = tempfile::tempdir().unwrap();
    // stdout and stderr into one file (not a terminal), so their order can be checked.
    let log_path = out.path().join("log.txt");
    let log = std::fs::File::create(&log_path).unwrap();
    let status = Command::new(BIN)
        .args(["--simulate", "--steps", "1,2,3", "--step-duration-s", "1"])
        .args(["--warmup-s", "0.5", "--no-gpu", "--max-output-tokens", "16"])
        .arg("--output-dir")
        .arg(out.path().join("runs"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("VLLM_API_KEY")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(status.success(), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let step_lines: Vec<StepLine> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("] step ") && l.contains(" measured"))
        .map(|(i, l)| parse_step_line(i, l).unwrap_or_else(|| panic!("unparsed: {l:?}\n{text}")))
        .collect();
    // Exactly one line per step, in order, the last one included.
    assert_eq!(
        step_lines.iter().map(|s| s.step).collect::<Vec<_>>(),
        vec![1, 2, 3],
        "{text}"
    );
    let outcome_header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("load") && l.contains("TTFT p50"))
        .unwrap_or_else(|| panic!("no outcome table:\n{text}"));
    for (s, level) in step_lines.iter().zip([1.0, 2.0, 3.0]) {
        assert_eq!(s.steps, 3, "{text}");
        // Each names its own load level…
        assert_eq!(s.load, level, "{text}");
        // …and its own in-flight figure: in concurrency mode at most the step's level
        // (the next step's higher level would show if read after the engine moved on).
        assert!(
            (s.inflight_max as f64) <= level,
            "step {} (load {level}) in flight max {}:\n{text}",
            s.step,
            s.inflight_max
        );
        assert!(
            s.inflight_mean <= level && s.inflight_mean > 0.0,
            "step {} (load {level}) in flight mean {}:\n{text}",
            s.step,
            s.inflight_mean
        );
        assert!(s.ok > 0, "{text}");
        // Every step line comes before the outcome.
        assert!(s.line_no < outcome_header, "{text}");
    }
}

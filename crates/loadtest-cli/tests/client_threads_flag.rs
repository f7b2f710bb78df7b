//! `--client-threads N`, run as the binary against the simulator: the run is carried by a
//! runtime of N worker threads (config.json's `client_threads`, and each step's client health
//! block, whose CPU ceiling follows from it), one per core without the flag, and a count
//! outside 1–1024 is refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
fn the_runtime_has_the_threads_asked_for() {
    let (mut sim, url) = common::start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for (flag, want) in [(None, cores), (Some("1"), 1), (Some("3"), 3)] {
        let run_dir = out.path().join(flag.unwrap_or("default"));
        let extra: Vec<&str> = flag
            .map(|f| vec!["--client-threads", f])
            .unwrap_or_default();
        common::tiny_run_all_ok(&url, &run_dir, &extra, &format!("{flag:?}"));
        let config = common::json(&run_dir, "config.json");
        assert_eq!(config["settings"]["client_threads"], want, "{flag:?}");
        let summary = common::json(&run_dir, "step_summary.json");
        let client = &summary["steps"][0]["client"];
        assert_eq!(client["workers"], want, "{flag:?}: {client}");
    }
    sim.kill().unwrap();
    let base = ["--base-url", &url, "--prompt-text", "hi"];
    for bad in ["0", "1025"] {
        common::refusal(&base, &["--client-threads", bad], "1 to 1024");
    }
    common::refusal(&base, &["--client-threads", "two"], "--client-threads");
}

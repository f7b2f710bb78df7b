//! `--http-client native|hyper`, run as the binary against the simulator: both carry a run
//! whose requests all succeed, config.json records which one did (`native` by default), and
//! any other value is refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[test]
fn either_client_carries_the_run_and_config_json_says_which() {
    let (mut sim, url) = common::start_sim(&[]);
    let out = tempfile::tempdir().unwrap();
    for (flag, want) in [
        (None, "native"),
        (Some("hyper"), "hyper"),
        (Some("native"), "native"),
    ] {
        let run_dir = out.path().join(want).join(flag.unwrap_or("default"));
        let extra: Vec<&str> = flag.map(|f| vec!["--http-client", f]).unwrap_or_default();
        common::tiny_run_all_ok(&url, &run_dir, &extra, &format!("{flag:?}"));
        let config = common::json(&run_dir, "config.json");
        assert_eq!(config["settings"]["http_client"], want, "{flag:?}");
    }
    sim.kill().unwrap();
    common::refusal(
        &["--base-url", &url, "--prompt-text", "hi"],
        &["--http-client", "curl"],
        "native or hyper",
    );
}

//! `--http-client native|hyper`, run as the binary against the simulator: both carry a run
//! whose requests all succeed, config.json records which one did (`native` by default), and
//! any other value is refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{BIN, TINY_RUN};

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
        let mut cmd = Command::new(BIN);
        cmd.args(["--base-url", &url, "--prompt-text", "hi"])
            .args(TINY_RUN)
            .args(["--run-dir", run_dir.to_str().unwrap()]);
        if let Some(flag) = flag {
            cmd.args(["--http-client", flag]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let config = common::json(&run_dir, "config.json");
        assert_eq!(config["settings"]["http_client"], want, "{flag:?}");
        let rows = common::rows(&run_dir);
        assert!(!rows.is_empty(), "{flag:?}");
        assert!(
            rows.iter().all(|r| r["status"] == "ok"),
            "{flag:?}: {rows:?}"
        );
    }
    sim.kill().unwrap();
    common::refusal(
        &["--base-url", &url, "--prompt-text", "hi"],
        &["--http-client", "curl"],
        "native or hyper",
    );
}

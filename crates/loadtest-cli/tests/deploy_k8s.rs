//! deploy/k8s run as Kubernetes would run it, without Kubernetes: the Indexed Job's own shell
//! command once per completion index (`JOB_COMPLETION_INDEX`, the ConfigMap's variables in the
//! environment, the volume a local folder), all at once against the simulator, then the merge
//! Job's command over what they wrote. `cargo xtask tidy` checks the manifests' fields; this
//! checks that what they say to run works.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn documents(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("deploy/k8s").join(name)).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap()
}

/// The container's `/bin/sh -c` script and its volume's mount path.
fn script_and_mount(job: &Value) -> (String, String) {
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["command"], serde_json::json!(["/bin/sh", "-c"]));
    (
        container["args"][0].as_str().unwrap().to_owned(),
        container["volumeMounts"][0]["mountPath"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// Runs `script` with `sh -c` as the pod would: `vllm-loadtest` on PATH is the built binary,
/// the ConfigMap's data (with `overrides`) in the environment.
fn pod(script: &str, env: &[(String, String)], index: Option<u64>) -> Command {
    let bin_dir = Path::new(common::BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script]).env("PATH", path);
    for name in ["SLURM_PROCID", "SLURM_NTASKS", "JOB_COMPLETION_INDEX"] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(index) = index {
        cmd.env("JOB_COMPLETION_INDEX", index.to_string());
    }
    cmd
}

#[test]
fn the_indexed_job_and_the_merge_job_run_as_written() {
    let job_docs = documents("vllm-loadtest.yaml");
    let job = find(&job_docs, "Job");
    let completions = job["spec"]["completions"].as_u64().unwrap();
    let (script, mount) = script_and_mount(job);
    let merge_docs = documents("merge-job.yaml");
    let (merge_script, merge_mount) = script_and_mount(find(&merge_docs, "Job"));
    assert_eq!(merge_mount, mount);

    let (mut sim, url) = common::start_sim(&[]);
    let volume = tempfile::tempdir().unwrap();
    let local = volume.path().to_str().unwrap();
    // The ConfigMap as written, but for the target, a tiny load and a start 3 s from now.
    let start_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let start_at = start_at
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mut env: Vec<(String, String)> = find(&job_docs, "ConfigMap")["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let tiny = "--steps 4 --step-duration-s 0.5 --warmup-s 0 --input-size 16 --max-output-tokens 4 --timeout-s 5 --quiet";
    for (name, value) in [
        ("BASE_URL", url.as_str()),
        ("LOADTEST_ARGS", tiny),
        ("START_AT", start_at.as_str()),
    ] {
        env.retain(|(k, _)| k != name);
        env.push((name.to_owned(), value.to_owned()));
    }
    let run = env.iter().find(|(k, _)| k == "RUN").unwrap().1.clone();

    let shards: Vec<_> = (0..completions)
        .map(|i| {
            pod(&script.replace(&mount, local), &env, Some(i))
                .output_spawned()
                .unwrap()
        })
        .collect();
    let outputs: Vec<_> = shards
        .into_iter()
        .map(|shard| shard.wait_with_output().unwrap())
        .collect();
    let merged = pod(&merge_script.replace(&mount, local), &env, None)
        .output()
        .unwrap();
    // The simulator goes before any assertion can fail, so a failure leaves no process behind.
    sim.kill().unwrap();
    for (i, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "shard {i}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        merged.status.success(),
        "merge: {}",
        String::from_utf8_lossy(&merged.stderr)
    );

    let run_dir = volume.path().join(&run);
    let rows = common::rows;
    let mut shard_rows = 0;
    for i in 0..completions {
        let dir = run_dir.join(format!("shard-{i}"));
        let config: Value = common::json(&dir, "config.json");
        assert_eq!(config["settings"]["shard"]["index"], i);
        assert_eq!(config["settings"]["shard"]["count"], completions);
        assert_eq!(config["settings"]["start_at"], start_at.as_str());
        shard_rows += rows(&dir).len();
    }
    let merged_rows = rows(&run_dir.join("merged"));
    assert_eq!(merged_rows.len(), shard_rows);
    assert!(shard_rows > 0);
    let mut seen = [false; 64];
    for row in &merged_rows {
        seen[row["shard"].as_u64().unwrap() as usize] = true;
    }
    assert!(seen[..completions as usize].iter().all(|s| *s), "{seen:?}");
    // The shards' files concatenated in shard order.
    let order: Vec<u64> = merged_rows
        .iter()
        .map(|r| r["shard"].as_u64().unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    for file in ["config.json", "step_summary.json", "summary.md"] {
        assert!(run_dir.join("merged").join(file).is_file(), "{file}");
    }
}

/// `Command::spawn` with stdout and stderr captured, for [`std::process::Child::wait_with_output`].
trait SpawnCaptured {
    fn output_spawned(&mut self) -> std::io::Result<std::process::Child>;
}

impl SpawnCaptured for Command {
    fn output_spawned(&mut self) -> std::io::Result<std::process::Child> {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
    }
}

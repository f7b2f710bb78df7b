//! The launch files under `deploy/` say what the tool relies on: the Kubernetes manifests are
//! parsed (YAML) and the fields sharding depends on asserted; the Slurm batch script is checked
//! for the same contract. `crates/loadtest-cli/tests/deploy_k8s.rs` goes further and runs the
//! manifests' own commands against the simulator.
//!
//! The contract, for `deploy/k8s/vllm-loadtest.yaml`:
//! - a `Job` with `completionMode: Indexed`, `completions == parallelism` (every shard at once),
//!   `backoffLimit: 0` and `restartPolicy: Never` (a shard is never rerun alone, later);
//! - its command passes `--shard auto --shards N` with N equal to `completions`, `--start-at`
//!   from the ConfigMap, and a `--run-dir` that contains `$JOB_COMPLETION_INDEX`, under the
//!   mount of a volume that `merge-job.yaml` mounts too;
//! - the ConfigMap it reads (`envFrom`) defines every variable the command uses;
//!
//! and for `deploy/k8s/merge-job.yaml`: a `Job` running `vllm-loadtest merge … --out …` over
//! the same folder; for `deploy/slurm/vllm-loadtest.sbatch`: `#SBATCH --ntasks`, `srun`,
//! `--shard auto`, one `--start-at` for every task, and a `merge` at the end.

use std::path::Path;

use serde::Deserialize as _;
use serde_json::Value;

/// The Indexed Job, its ConfigMap and volume.
pub(crate) const K8S_JOB: &str = "deploy/k8s/vllm-loadtest.yaml";
/// The Job that merges the shards.
pub(crate) const K8S_MERGE: &str = "deploy/k8s/merge-job.yaml";
/// The Slurm batch script.
pub(crate) const SLURM: &str = "deploy/slurm/vllm-loadtest.sbatch";

/// Every problem found in the launch files (empty: all hold).
pub(crate) fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    match (documents(root, K8S_JOB), documents(root, K8S_MERGE)) {
        (Ok(job), Ok(merge)) => problems.extend(check_k8s(&job, &merge)),
        (Err(e), _) | (_, Err(e)) => problems.push(e),
    }
    match std::fs::read_to_string(root.join(SLURM)) {
        Ok(script) => problems.extend(check_slurm(&script)),
        Err(e) => problems.push(format!("{SLURM}: {e}")),
    }
    problems
}

/// The YAML documents of the file at `root/path`, as JSON values.
pub(crate) fn documents(root: &Path, path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(root.join(path)).map_err(|e| format!("{path}: {e}"))?;
    serde_norway::Deserializer::from_str(&text)
        .map(Value::deserialize)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path}: not YAML: {e}"))
}

/// The document of kind `kind` (and name `name`, when given).
pub(crate) fn find<'a>(docs: &'a [Value], kind: &str, name: Option<&str>) -> Option<&'a Value> {
    docs.iter().find(|d| {
        d["kind"] == kind && name.is_none_or(|n| d["metadata"]["name"].as_str() == Some(n))
    })
}

/// The shell command a Job's first container runs (`command: [/bin/sh, -c]`, `args: [SCRIPT]`).
pub(crate) fn shell_script(job: &Value) -> Option<&str> {
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    (container["command"] == serde_json::json!(["/bin/sh", "-c"]))
        .then(|| container["args"][0].as_str())
        .flatten()
}

fn check_k8s(docs: &[Value], merge_docs: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{K8S_JOB}: {what}"));
    let Some(job) = find(docs, "Job", None) else {
        problem("no Job".into());
        return problems;
    };
    let spec = &job["spec"];
    if spec["completionMode"] != "Indexed" {
        problem("the Job's completionMode is not Indexed (no JOB_COMPLETION_INDEX)".into());
    }
    let completions = spec["completions"].as_u64();
    if completions.is_none() || completions != spec["parallelism"].as_u64() {
        problem("completions and parallelism differ: the shards would not run at once".into());
    }
    if spec["backoffLimit"] != 0 {
        problem("backoffLimit is not 0: a failed shard would be rerun alone".into());
    }
    let pod = &spec["template"]["spec"];
    if pod["restartPolicy"] != "Never" {
        problem("restartPolicy is not Never".into());
    }
    let Some(script) = shell_script(job) else {
        problem("the container does not run `/bin/sh -c SCRIPT`".into());
        return problems;
    };
    let words: Vec<&str> = script.split_whitespace().collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .map(|w| w.trim_matches('"'))
    };
    if after("--shard") != Some("auto") {
        problem("the command does not pass --shard auto".into());
    }
    match (after("--shards").map(str::parse::<u64>), completions) {
        (Some(Ok(n)), Some(c)) if n == c => {}
        (shards, _) => problem(format!(
            "--shards {shards:?} is not the Job's completions ({completions:?})"
        )),
    }
    if after("--start-at").is_none() {
        problem("the command does not pass --start-at".into());
    }
    let run_dir = after("--run-dir").unwrap_or_default();
    if !run_dir.contains("$JOB_COMPLETION_INDEX") {
        problem(format!(
            "--run-dir {run_dir:?} does not name the shard ($JOB_COMPLETION_INDEX)"
        ));
    }
    // The ConfigMap defines every variable the command reads, but the Job's own.
    let config_map = pod["containers"][0]["envFrom"][0]["configMapRef"]["name"].as_str();
    match config_map.and_then(|name| find(docs, "ConfigMap", Some(name))) {
        None => problem("the container reads no ConfigMap defined in the file".into()),
        Some(map) => {
            for var in variables(script) {
                if var != "JOB_COMPLETION_INDEX" && map["data"][var.as_str()].as_str().is_none() {
                    problem(format!(
                        "the command reads ${var}, which the ConfigMap lacks"
                    ));
                }
            }
        }
    }
    // The shards' folders are on a volume the merge Job mounts at the same place.
    let mount = |job: &Value| {
        let pod = &job["spec"]["template"]["spec"];
        let mount = &pod["containers"][0]["volumeMounts"][0];
        let volume = pod["volumes"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == mount["name"]));
        (
            mount["mountPath"].as_str().map(str::to_owned),
            volume.and_then(|v| {
                v["persistentVolumeClaim"]["claimName"]
                    .as_str()
                    .map(str::to_owned)
            }),
        )
    };
    let (path, claim) = mount(job);
    match &path {
        Some(p) if run_dir.starts_with(p.as_str()) => {}
        _ => problem(format!(
            "--run-dir {run_dir:?} is not under the volume mount {path:?}"
        )),
    }
    let claimed = claim
        .as_deref()
        .and_then(|c| find(docs, "PersistentVolumeClaim", Some(c)));
    if claimed.is_none_or(|pvc| {
        !pvc["spec"]["accessModes"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m == "ReadWriteMany"))
    }) {
        problem(format!(
            "the volume's claim {claim:?} is not a ReadWriteMany PersistentVolumeClaim in the file"
        ));
    }
    match find(merge_docs, "Job", None) {
        None => problems.push(format!("{K8S_MERGE}: no Job")),
        Some(merge) => {
            let script = shell_script(merge).unwrap_or_default();
            let words: Vec<&str> = script.split_whitespace().collect();
            if words.get(1..3) != Some(&["vllm-loadtest", "merge"][..]) || !words.contains(&"--out")
            {
                problems.push(format!(
                    "{K8S_MERGE}: the container does not run `vllm-loadtest merge … --out …`: {script:?}"
                ));
            }
            if mount(merge) != (path, claim) {
                problems.push(format!(
                    "{K8S_MERGE}: the results volume is not mounted as in {K8S_JOB}"
                ));
            }
        }
    }
    problems
}

/// The names of the `$VAR` variables a shell script reads.
fn variables(script: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = script;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

fn check_slurm(script: &str) -> Vec<String> {
    let lines: Vec<&str> = script.lines().collect();
    let mut problems = Vec::new();
    let has = |needle: &str| {
        lines
            .iter()
            .any(|l| !l.starts_with("# ") && l.contains(needle))
    };
    for (needle, why) in [
        ("#SBATCH --ntasks", "no #SBATCH --ntasks: how many shards"),
        ("srun ", "no srun: one task per shard"),
        (
            "--shard auto",
            "no --shard auto: the shard from SLURM_PROCID / SLURM_NTASKS",
        ),
        ("--start-at \"$START_AT\"", "no common --start-at"),
        ("shard-$SLURM_PROCID", "no run folder per shard"),
        ("merge ", "no merge of the shards at the end"),
    ] {
        if !has(needle) {
            problems.push(format!("{SLURM}: {why}"));
        }
    }
    if lines.first() != Some(&"#!/bin/bash") {
        problems.push(format!("{SLURM}: the first line is not #!/bin/bash"));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launch_files_keep_the_sharding_contract() {
        let problems = check(&crate::tidy::test_root());
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn a_broken_manifest_is_caught() {
        let root = crate::tidy::test_root();
        let mut docs = documents(&root, K8S_JOB).unwrap();
        let merge = documents(&root, K8S_MERGE).unwrap();
        let job = docs.iter_mut().find(|d| d["kind"] == "Job").unwrap();
        job["spec"]["completionMode"] = "NonIndexed".into();
        job["spec"]["parallelism"] = 3.into();
        let args = &mut job["spec"]["template"]["spec"]["containers"][0]["args"][0];
        let script = args.as_str().unwrap().replace("--shards 4", "--shards 5");
        *args = format!("{script} $UNDEFINED").into();
        let problems = check_k8s(&docs, &merge).join("\n");
        for want in ["Indexed", "parallelism", "--shards", "$UNDEFINED"] {
            assert!(problems.contains(want), "{want}: {problems}");
        }
        assert!(check_slurm("#!/bin/bash\nsrun true\n").len() >= 4);
    }
}

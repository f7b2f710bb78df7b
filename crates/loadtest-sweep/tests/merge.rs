//! `merge_runs`: shards run at once against the simulator merge into one run folder whose
//! requests are the simulator's, whose numbers are a single run's (within a tolerance: two
//! runs of one fixed profile), and whose statistics follow the engine's own rules exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use loadtest_run::{LatencyStats, Shard};
use loadtest_sweep::merge::{MergeError, MergeOptions, merge_runs};

/// Merged and single-run percentiles agree within 25 % or 15 ms, whichever is larger: the
/// fixed profile (20 ms TTFT, 5 ms per token) makes them the same up to scheduling noise,
/// which on a busy 2-core machine reaches several ms at p99 (the two run at the same time, so
/// a stall of the machine falls on both).
fn close(what: &str, merged: f64, single: f64) {
    let tolerance = (0.25 * single).max(0.015);
    assert!(
        (merged - single).abs() <= tolerance,
        "{what}: merged {merged:.4} s vs single {single:.4} s (tolerance {tolerance:.4} s)"
    );
}

fn stats(s: Option<LatencyStats>) -> LatencyStats {
    s.expect("statistics present")
}

fn sweep(sim: &str, out: &Path, shard: Shard, start: SystemTime) -> loadtest_sweep::SweepConfig {
    let mut c = common::config(sim, out, &[4.0, 8.0], 2.0);
    c.shard = shard;
    c.start_at = Some(start);
    c.run_name = format!("shard{}of{}", shard.index(), shard.count());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_shards_are_the_simulators_requests_and_a_single_runs_numbers() {
    // The shards and the single process run at the same time, against two simulators of the
    // same fixed profile (its timings do not depend on load): the machine's noise (other
    // builds on a busy 2-core box) falls on both alike, and each simulator's truth counts
    // its own requests.
    let sim = common::fixed_sim().await;
    let single_sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let url = sim.base_url();
    sim.reset_truth();
    let start = SystemTime::now() + Duration::from_millis(1500);
    let (a, b, single) = tokio::join!(
        common::run(sweep(&url, out.path(), "0/2".parse().unwrap(), start)),
        common::run(sweep(&url, out.path(), "1/2".parse().unwrap(), start)),
        common::run(sweep(
            &single_sim.base_url(),
            out.path(),
            Shard::SINGLE,
            start
        )),
    );
    let served = sim.truth().requests;

    let merged_dir = out.path().join("merged");
    // Any order of the inputs.
    let inputs = [b.run_dir.clone(), a.run_dir.clone()];
    let merged = merge_runs(&inputs, &merged_dir, &MergeOptions::default()).unwrap();
    assert_eq!(merged.shards, vec![0, 1]);
    assert!(merged.missing_shards.is_empty());

    // Every request the simulator served is a row, once, with its shard.
    assert_eq!(merged.requests, served);
    let rows = common::rows(&merged_dir);
    assert_eq!(rows.len() as u64, served);
    let ids: BTreeSet<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "ids are unique");
    for r in &rows {
        let shard = r["shard"].as_u64().expect("every row has its shard");
        assert_eq!(r["id"].as_u64().unwrap() % 2, shard);
    }
    // The shards' files concatenated in shard order, each row as its shard wrote it plus its
    // `shard` (not sorted: the merge streams them).
    let mut expected = Vec::new();
    for (index, shard) in [(0u32, &a), (1, &b)] {
        for mut row in common::rows(&shard.run_dir) {
            row["shard"] = index.into();
            expected.push(row);
        }
    }
    assert!(
        rows == expected,
        "requests.jsonl is the shards' files concatenated in order"
    );

    // Counts and throughputs are the shards' sums; loads the whole run's levels.
    assert_eq!(merged.steps.len(), 2);
    for (i, step) in merged.steps.iter().enumerate() {
        let (sa, sb) = (&a.steps[i], &b.steps[i]);
        assert_eq!(step.load, [4.0, 8.0][i]);
        assert_eq!(step.counts.started, sa.counts.started + sb.counts.started);
        assert_eq!(step.counts.ok, sa.counts.ok + sb.counts.ok);
        assert_eq!(
            step.completed_in_window,
            sa.completed_in_window + sb.completed_in_window
        );
        let tokens = |s: &loadtest_run::StepSummary| s.output_tokens_per_s * s.window_s;
        assert!((tokens(step) - tokens(sa) - tokens(sb)).abs() < 1e-6);
        assert_eq!(
            stats(step.itl_s).count,
            stats(sa.itl_s).count + stats(sb.itl_s).count
        );
        // Percentiles from the merged data, close to the single process's.
        let s = &single.steps[i];
        for (what, m, one) in [
            ("ttft", stats(step.ttft_s), stats(s.ttft_s)),
            ("itl", stats(step.itl_s), stats(s.itl_s)),
        ] {
            close(&format!("step {i} {what} p50"), m.p50, one.p50);
            close(&format!("step {i} {what} p99"), m.p99, one.p99);
            eprintln!(
                "step {i} {what}: merged p50 {:.2} ms p99 {:.2} ms, single p50 {:.2} ms p99 {:.2} ms",
                m.p50 * 1e3,
                m.p99 * 1e3,
                one.p50 * 1e3,
                one.p99 * 1e3
            );
        }
    }

    // The run folder of a run, report included; config.json says what it was made from.
    for file in [
        "config.json",
        "requests.jsonl",
        "vllm_metrics.csv",
        "gpu_metrics.csv",
        "step_summary.json",
        "vllm_step_deltas.json",
        "step_histograms.json",
        "summary.md",
        "result.json",
    ] {
        assert!(merged_dir.join(file).is_file(), "{file}");
    }
    assert!(merged_dir.join("charts").is_dir());
    let report = std::fs::read_to_string(merged_dir.join("summary.md")).unwrap();
    assert!(report.contains("merged from"), "{report}");
    let facts = common::json(&merged_dir, "config.json");
    assert!(facts["settings"].get("shard").is_none());
    assert_eq!(facts["merged_from"].as_array().unwrap().len(), 2);
    assert_eq!(facts["merged_from"][0]["shard"], 0);
    assert_eq!(facts["merged_from"][0]["server_metrics"], true);
    // The server data is shard 0's, which scraped; both did here, and the note says so.
    let deltas = common::json(&merged_dir, "vllm_step_deltas.json");
    assert_eq!(deltas["steps"][0]["load"], 4.0);
    assert!(
        merged.notes.iter().any(|n| n.contains("shard 0")),
        "{:?}",
        merged.notes
    );
    assert!(merged.steps[0].server.is_some());

    // A merge of shard 0 alone (--allow-partial) is shard 0's own summary, number for
    // number: the merge recomputes with the engine's code.
    let alone_dir = out.path().join("alone");
    let options = MergeOptions {
        allow_partial: true,
        ..MergeOptions::default()
    };
    let alone = merge_runs(std::slice::from_ref(&a.run_dir), &alone_dir, &options).unwrap();
    assert_eq!(alone.missing_shards, vec![1]);
    for (m, s) in alone.steps.iter().zip(&a.steps) {
        assert_eq!(m.load, s.load);
        assert_eq!(m.counts, s.counts);
        assert_eq!(m.completed_in_window, s.completed_in_window);
        assert_eq!(m.rps, s.rps);
        assert_eq!(m.output_tokens_per_s, s.output_tokens_per_s);
        assert_eq!(m.achieved_rps, s.achieved_rps);
        for (x, y) in [
            (m.ttft_s, s.ttft_s),
            (m.e2e_s, s.e2e_s),
            (m.tpot_s, s.tpot_s),
            (m.itl_s, s.itl_s),
            (m.ttft_server_aligned_s, s.ttft_server_aligned_s),
            (m.e2e_server_aligned_s, s.e2e_server_aligned_s),
        ] {
            assert_eq!(x, y, "step {}", s.step);
        }
    }
    assert!(alone.warnings.iter().any(|w| w.contains("partial merge")));

    // Never over an existing folder.
    let again = merge_runs(&inputs, &merged_dir, &MergeOptions::default()).unwrap_err();
    assert!(matches!(again, MergeError::OutExists { .. }), "{again}");
    sim.shutdown().await;
    single_sim.shutdown().await;
}

/// A copy of the run folder `dir` at `to`, its config.json edited by `edit`.
fn altered(dir: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let mut facts = common::json(to, "config.json");
    edit(&mut facts);
    std::fs::write(to.join("config.json"), facts.to_string()).unwrap();
    to.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_that_are_not_shards_of_one_run_are_refused() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let url = sim.base_url();
    let small = |shard: &str| {
        let mut c = common::config(&url, out.path(), &[2.0], 0.5);
        c.shard = shard.parse().unwrap();
        c.run_name = format!("s{}", shard.replace('/', "of"));
        c
    };
    let (a, b) = tokio::join!(common::run(small("0/2")), common::run(small("1/2")));
    let (a, b) = (a.run_dir, b.run_dir);
    let target = |name: &str| out.path().join(name);
    let refused = |inputs: &[PathBuf], options: &MergeOptions| {
        let out = target("never");
        let err = merge_runs(inputs, &out, options).unwrap_err();
        assert!(err.is_refusal(), "{err}");
        assert!(!out.exists(), "nothing written");
        err
    };
    let plain = MergeOptions::default();

    // Another seed (`--seed 2`).
    let seeded = altered(&b, &target("seed"), |f| f["settings"]["seed"] = 2.into());
    let err = refused(&[a.clone(), seeded.clone()], &plain);
    assert!(
        matches!(err, MergeError::DifferentSeed { seed: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("seed"), "{err}");
    // Other steps (`--steps 2,4`).
    let steps = altered(&b, &target("steps"), |f| {
        f["settings"]["steps"] = serde_json::json!([2.0, 4.0]);
    });
    let err = refused(&[a.clone(), steps.clone()], &plain);
    match &err {
        MergeError::DifferentSettings { field, dir, .. } => {
            assert_eq!(field, "settings.steps");
            assert_eq!(dir, &steps);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("settings.steps"), "{err}");
    // Another shard count.
    let three = altered(&b, &target("three"), |f| {
        f["settings"]["shard"] = serde_json::json!({"index": 1, "count": 3});
    });
    let err = refused(&[a.clone(), three], &plain);
    assert!(
        matches!(err, MergeError::DifferentShardCount { count: 3, .. }),
        "{err}"
    );
    // The same shard twice.
    let twin = altered(&a, &target("twin"), |_| {});
    let err = refused(&[a.clone(), twin], &plain);
    assert!(
        matches!(err, MergeError::DuplicateShard { index: 0, .. }),
        "{err}"
    );
    // A shard missing, unless --allow-partial.
    let err = refused(std::slice::from_ref(&b), &plain);
    assert!(
        matches!(&err, MergeError::MissingShards { missing, count: 2 } if missing == &[0]),
        "{err}"
    );
    // A folder that is not a shard.
    let single = altered(&a, &target("single"), |f| {
        f["settings"].as_object_mut().unwrap().remove("shard");
    });
    let err = refused(&[single], &plain);
    assert!(matches!(err, MergeError::NotAShard { .. }), "{err}");
    // Where each shard wrote its folder, and whether it polled GPUs, may differ.
    let elsewhere = altered(&b, &target("elsewhere"), |f| {
        f["settings"]["run_name"] = "other".into();
        f["settings"]["gpu"]["enabled"] = false.into();
    });
    // Shard 1 was client-bound in its step: the merged step is too, and a warning names it.
    let path = elsewhere.join("step_summary.json");
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    summary["steps"][0]["client"]["verdict"] = "client_bound".into();
    summary["steps"][0]["client"]["bound"] = true.into();
    std::fs::write(&path, summary.to_string()).unwrap();
    let merged = merge_runs(&[a, elsewhere], &target("merged"), &plain).unwrap();
    assert_eq!(merged.shards, vec![0, 1]);
    assert!(merged.steps[0].client.verdict.is_client_bound());
    assert!(
        merged
            .warnings
            .iter()
            .any(|w| w.contains("shard 1 was client-bound")),
        "{:?}",
        merged.warnings
    );
    sim.shutdown().await;
}

/// A copy of the shard folder `dir` at `to` put on the clock of the shard folder `reference`
/// (the same run start and window edges, so that the copy's edges differ from the reference's
/// by the shifts alone, whatever the machine's scheduling did), then moved: its run start (its
/// rows' `start_unix_s` and config.json's `started_at`) later by `run_start_s` (the shard
/// started that much later, or its clock is ahead), and its step_summary.json's window edges
/// later by `windows_s` (on its own clock).
fn shifted(dir: &Path, reference: &Path, to: &Path, run_start_s: f64, windows_s: f64) -> PathBuf {
    use time::format_description::well_known::Rfc3339;
    let later = time::Duration::seconds_f64(run_start_s);
    let ref_facts = common::json(reference, "config.json");
    let to = altered(dir, to, |f| {
        let at = ref_facts["started_at"].as_str().unwrap();
        let at = time::OffsetDateTime::parse(at, &Rfc3339).unwrap();
        f["started_at"] = (at + later).format(&Rfc3339).unwrap().into();
    });
    let first = &common::rows(reference)[0];
    let ref_start = first["start_unix_s"].as_f64().unwrap() - first["start_s"].as_f64().unwrap();
    let mut text = String::new();
    for mut row in common::rows(&to) {
        let at = ref_start + run_start_s + row["start_s"].as_f64().unwrap();
        row["start_unix_s"] = at.into();
        text.push_str(&format!("{row}\n"));
    }
    std::fs::write(to.join("requests.jsonl"), text).unwrap();
    let ref_summary = common::json(reference, "step_summary.json");
    let mut summary = common::json(&to, "step_summary.json");
    for (step, ref_step) in summary["steps"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(ref_summary["steps"].as_array().unwrap())
    {
        for edge in ["window_start_s", "window_end_s"] {
            step[edge] = (ref_step[edge].as_f64().unwrap() + windows_s).into();
        }
    }
    std::fs::write(to.join("step_summary.json"), summary.to_string()).unwrap();
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_whose_step_edges_are_apart_is_named() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let url = sim.base_url();
    let start = SystemTime::now() + Duration::from_millis(1000);
    let small = |shard: &str| {
        let mut c = common::config(&url, out.path(), &[2.0, 4.0], 0.5);
        c.shard = shard.parse().unwrap();
        c.start_at = Some(start);
        c.run_name = format!("e{}", shard.replace('/', "of"));
        c
    };
    let (a, b) = tokio::join!(common::run(small("0/2")), common::run(small("1/2")));
    let (a, b) = (a.run_dir, b.run_dir);
    let plain = MergeOptions::default();
    let edge_warnings = |merged: &loadtest_sweep::merge::MergeOutcome| -> Vec<String> {
        let found: Vec<String> = merged
            .warnings
            .iter()
            .filter(|w| w.contains("step edges"))
            .cloned()
            .collect();
        eprintln!("{found:?}");
        found
    };

    // Started together (`--start-at`): no warning.
    let as_run = merge_runs(&[a.clone(), b.clone()], &out.path().join("as-run"), &plain).unwrap();
    assert!(edge_warnings(&as_run).is_empty(), "{:?}", as_run.warnings);
    let by = |w: &str| -> f64 {
        let rest = w.split("by up to ").nth(1).expect("the difference");
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    // Shard 1, on shard 0's clock, then half a second late by its run start (wall clock) or
    // by its windows (its own clock), or early: the warning names it and the difference. A
    // tenth of a second, or none: within the tolerance, no warning.
    for (name, run_start_s, windows_s) in [
        ("late-start", 0.5, 0.0),
        ("late-windows", 0.0, 0.5),
        ("early-start", -0.5, 0.0),
        ("aligned", 0.0, 0.0),
        ("close-start", 0.1, 0.0),
        ("close-windows", 0.0, 0.1),
        ("close-both", 0.3, -0.2),
    ] {
        let moved = shifted(&b, &a, &out.path().join(name), run_start_s, windows_s);
        let to = out.path().join(format!("m-{name}"));
        // Any order of the inputs: the reference is the lowest shard.
        let merged = merge_runs(&[moved, a.clone()], &to, &plain).unwrap();
        let shift = f64::abs(run_start_s + windows_s);
        let warnings = edge_warnings(&merged);
        if shift > loadtest_sweep::merge::EDGE_TOLERANCE_S {
            assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
            let w = &warnings[0];
            assert!(
                w.starts_with("shard 1's step edges differ from shard 0's"),
                "{name}: {w}"
            );
            assert!((by(w) - shift).abs() < 0.002, "{name}: {w}");
        } else {
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
        }
    }
    sim.shutdown().await;
}

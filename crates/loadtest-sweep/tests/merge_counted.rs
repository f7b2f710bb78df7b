//! `merge_runs` of shards run with `--num-prompts`: each shard ends its own count steps when
//! its share has finished, so the merged step's window is the union of the shards' windows
//! (as wall-clock instants), every shard's completions count, and the later steps' diverging
//! edges are not called a clock problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use loadtest_run::{Shard, StepEnd, files};
use loadtest_sweep::merge::{MergeOptions, merge_runs};

/// `n` requests per step on shard `shard`, all shards starting at `start`.
fn counted(
    sim: &str,
    out: &std::path::Path,
    shard: Shard,
    start: SystemTime,
) -> loadtest_sweep::SweepConfig {
    let mut c = common::config(sim, out, &[2.0, 4.0], 60.0);
    c.num_prompts = Some(12);
    c.warmup = Duration::ZERO;
    c.shard = shard;
    c.start_at = Some(start);
    c.run_name = format!("count-shard{}", shard.index());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_steps_merge_over_the_union_of_the_shards_windows() {
    // Shard 1's server is slower (TTFT 150 ms instead of 20): it always finishes its share of
    // a step later, so the union differs from shard 0's window at every step's end.
    let sim = common::fixed_sim().await;
    let mut slow = loadtest_sim::SimConfig::ephemeral();
    slow.profile = loadtest_sim::Profile::Fixed;
    slow.ttft = Duration::from_millis(150);
    slow.itl = Duration::from_millis(5);
    let slow_sim = loadtest_sim::Simulator::start(slow).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let (url, slow_url) = (sim.base_url(), slow_sim.base_url());
    let start = SystemTime::now() + Duration::from_millis(1000);
    let (a, b) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(
            common::run(counted(&url, out.path(), "0/2".parse().unwrap(), start)),
            common::run(counted(
                &slow_url,
                out.path(),
                "1/2".parse().unwrap(),
                start
            )),
        )
    })
    .await
    .expect("the shards did not finish");
    let merged_dir = out.path().join("merged");
    let merged = merge_runs(
        &[a.run_dir.clone(), b.run_dir.clone()],
        &merged_dir,
        &MergeOptions::default(),
    )
    .unwrap();

    let wall = |run_dir: &std::path::Path| -> f64 {
        // The run start as unix seconds: a row's wall-clock start less its run-clock start.
        let row = &common::rows(run_dir)[0];
        row["start_unix_s"].as_f64().unwrap() - row["start_s"].as_f64().unwrap()
    };
    let (ta, tb) = (wall(&a.run_dir), wall(&b.run_dir));
    for (i, step) in merged.steps.iter().enumerate() {
        let (sa, sb) = (&a.steps[i], &b.steps[i]);
        assert_eq!(step.ended_by, StepEnd::Count);
        // Every request of the step, from both shards, counted once.
        assert_eq!(step.counts.started, 12, "step {i}");
        assert_eq!(step.counts.ok, sa.counts.ok + sb.counts.ok, "step {i}");
        assert_eq!(step.completed_in_window, 12, "step {i}");
        // The window is the union of the shards' (on shard 0's clock): from the earlier start
        // to the later end, within the rounding of the two clocks' readings.
        assert!(
            tb + sb.window_end_s > ta + sa.window_end_s + 0.3,
            "step {i}: shard 1 ends later: {ta} + {} vs {tb} + {}",
            sa.window_end_s,
            sb.window_end_s
        );
        let start = (ta + sa.window_start_s).min(tb + sb.window_start_s) - ta;
        let end = (ta + sa.window_end_s).max(tb + sb.window_end_s) - ta;
        assert!(
            (step.window_start_s - start).abs() < 0.01,
            "step {i}: {} vs {start}",
            step.window_start_s
        );
        assert!(
            (step.window_end_s - end).abs() < 0.01,
            "step {i}: {} vs {end}",
            step.window_end_s
        );
        assert!(
            step.window_s >= sa.window_s.max(sb.window_s) - 0.01,
            "step {i}"
        );
        let tokens = step.output_tokens_per_s * step.window_s;
        let shard_tokens =
            sa.output_tokens_per_s * sa.window_s + sb.output_tokens_per_s * sb.window_s;
        assert!(
            (tokens - shard_tokens).abs() < 0.5,
            "step {i}: {tokens} vs {shard_tokens}"
        );
    }
    // Shards end their count steps on their own: no "step edges differ" warning for that.
    let summary = common::json(&merged_dir, files::STEP_SUMMARY);
    let warnings = summary["warnings"].to_string();
    assert!(!warnings.contains("step edges differ"), "{warnings}");
    sim.shutdown().await;
    slow_sim.shutdown().await;
}

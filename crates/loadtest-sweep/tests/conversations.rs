//! Multi-turn conversations (`--turns`) against the simulator: turns in order, each after
//! the previous answer plus the think time, prompts growing with the real answers; rate mode
//! counting conversation arrivals; a failed turn ending its conversation, counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use loadtest_run::{LoadMode, files};
use loadtest_sim::{Endpoint as SimEndpoint, Faults, Profile, SimConfig, Simulator};
use loadtest_sweep::conversation::{Conversations, ThinkTime, Turns};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_users_run_conversations_turn_after_answer() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[2.0], 1.5);
    config.warmup = Duration::from_millis(300);
    config.conversations = Some(Conversations {
        turns: Turns::Fixed(3),
        think_time: "0.05".parse().unwrap(),
    });
    let outcome = common::run(config).await;
    let dir = &outcome.run_dir;
    let rows = common::rows(dir);
    assert_eq!(
        rows.len() as u64,
        sim.counts().received(SimEndpoint::ChatCompletions)
    );
    let by = common::conversations(&rows, 3);
    let complete = by.values().filter(|r| r.len() == 3).count();
    assert!(
        complete >= 4,
        "{complete} complete conversations of {}",
        by.len()
    );
    // Two users: at most two conversations have a turn in flight at any time, and a user's
    // next conversation starts after its previous one ended.
    let mut users = 0;
    for rows in by.values() {
        for pair in rows.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(a["status"], "ok");
            let a_end = a["start_s"].as_f64().unwrap() + a["total_s"].as_f64().unwrap();
            let b_start = b["start_s"].as_f64().unwrap();
            assert!(
                b_start >= a_end + 0.05 - 1e-3,
                "turn {} started {:.4}s after the answer",
                b["turn"],
                b_start - a_end
            );
            // The history holds the answer received (the simulator counts words).
            let (pa, ca) = (
                a["prompt_tokens"].as_u64().unwrap(),
                a["completion_tokens"].as_u64().unwrap(),
            );
            let pb = b["prompt_tokens"].as_u64().unwrap();
            assert!(pb >= pa + ca + 20, "prompt {pb} after {pa} + answer {ca}");
            assert_eq!(b["input_tokens_target"].as_u64(), Some(pb));
        }
        users += 1;
    }
    assert!(users >= 4);

    let summary = common::json(dir, files::STEP_SUMMARY);
    let table = summary["steps"][0]["turns"].as_array().unwrap();
    assert_eq!(table.len(), 3, "{table:?}");
    let means: Vec<f64> = table
        .iter()
        .map(|t| t["prompt_tokens_mean"].as_f64().unwrap())
        .collect();
    assert!(means[0] < means[1] && means[1] < means[2], "{means:?}");
    assert!(table[1]["ttft_s"]["p50"].as_f64().unwrap() > 0.0);
    assert!(summary["steps"][0].get("conversations_aborted").is_none());
    let config = common::json(dir, files::CONFIG);
    assert_eq!(config["settings"]["turns"], 3);
    assert_eq!(config["settings"]["think_time_s"], "0.05");
    let md = std::fs::read_to_string(dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("## Conversations"), "{md}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_mode_counts_conversation_arrivals() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[4.0], 2.0);
    config.load_mode = LoadMode::Rate;
    config.arrival = loadtest_run::Arrival::Constant;
    config.conversations = Some(Conversations {
        turns: Turns::Fixed(2),
        think_time: "0.02".parse().unwrap(),
    });
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    let by = common::conversations(&rows, 2);
    // 4 conversations a second for 2 s: 8 first turns in the window, each followed by its
    // second turn after its answer (not on the arrival schedule).
    let started = by.values().filter(|r| r[0]["phase"] == "measure").count();
    assert!(
        (7..=9).contains(&started),
        "{started} conversations started"
    );
    for rows in by.values().filter(|r| r.len() == 2) {
        let first_end = rows[0]["start_s"].as_f64().unwrap() + rows[0]["total_s"].as_f64().unwrap();
        let second = rows[1]["start_s"].as_f64().unwrap();
        assert!(second >= first_end + 0.02 - 1e-3);
        // Scheduled at answer + think time: the delay is the wait for a slot, here none.
        assert!(rows[1]["sched_delay_s"].as_f64().unwrap() < 0.25);
    }
    assert!(by.values().filter(|r| r.len() == 2).count() >= 7);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_ends_its_conversation_and_is_counted() {
    let mut sim_config = SimConfig::ephemeral();
    sim_config.profile = Profile::Fixed;
    sim_config.ttft = Duration::from_millis(10);
    sim_config.itl = Duration::from_millis(2);
    sim_config.seed = 5;
    sim_config.faults = Faults {
        http_500: 0.25,
        ..Faults::default()
    };
    let sim = Simulator::start(sim_config).await.unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[3.0], 1.5);
    config.warmup = Duration::ZERO;
    config.conversations = Some(Conversations {
        turns: Turns::Fixed(4),
        think_time: ThinkTime::NONE,
    });
    let outcome = common::run(config).await;
    let dir = &outcome.run_dir;
    let rows = common::rows(dir);
    assert_eq!(
        rows.len() as u64,
        sim.counts().received(SimEndpoint::ChatCompletions)
    );
    let by = common::conversations(&rows, 4);
    let mut aborted = 0;
    for rows in by.values() {
        // Only the last row of a conversation may have failed.
        for row in &rows[..rows.len() - 1] {
            assert_eq!(row["status"], "ok", "{rows:?}");
        }
        // The step counts measure-phase failures (a ramp's are not the step's).
        let last = rows.last().unwrap();
        let failed = last["status"] != "ok" && last["status"] != "cancelled";
        if failed && last["phase"] == "measure" && last["turn"].as_u64().unwrap() < 3 {
            aborted += 1;
        }
    }
    assert!(aborted > 0, "no conversation was aborted");
    let summary = common::json(dir, files::STEP_SUMMARY);
    let step = &summary["steps"][0];
    assert_eq!(
        step["conversations_aborted"].as_u64(),
        Some(aborted),
        "{rows:?}"
    );
    let failed: u64 = step["turns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["failed"].as_u64().unwrap())
        .sum();
    assert!(failed >= aborted);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_partition_conversations() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[4.0], 0.8);
    config.warmup = Duration::ZERO;
    config.shard = "1/3".parse().unwrap();
    config.conversations = Some(Conversations {
        turns: Turns::Fixed(2),
        think_time: ThinkTime::NONE,
    });
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    let by = common::conversations(&rows, 2);
    assert!(by.len() >= 4);
    // Shard 1 of 3 runs conversations 3k + 1, whose requests are 2·(3k + 1) + turn.
    assert!(by.keys().all(|c| c % 3 == 1), "{:?}", by.keys());
    sim.shutdown().await;
}

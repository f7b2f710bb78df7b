//! `SweepConfig::shard`: shards of one run split every step's load exactly, keep one
//! schedule, and send disjoint requests whose union is the single run's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use loadtest_run::{LoadMode, Shard};

/// Request id → prompt tokens (the simulator's count of the prompt it received).
fn prompts(run_dir: &std::path::Path) -> BTreeMap<u64, u64> {
    common::rows(run_dir)
        .iter()
        .filter(|r| r["status"] == "ok")
        .map(|r| {
            (
                r["id"].as_u64().unwrap(),
                r["prompt_tokens"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_the_load_and_partition_the_requests() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = |shard: Shard| {
        let mut c = common::config(&sim.base_url(), out.path(), &[5.0], 1.0);
        c.shard = shard;
        c.run_name = format!("shard{}", shard.index());
        c
    };
    // The two shards run at once, as two processes would; then the single run.
    let (a, b) = tokio::join!(
        common::run(config("0/2".parse().unwrap())),
        common::run(config("1/2".parse().unwrap())),
    );
    let single = common::run(config(Shard::SINGLE)).await;

    // 5 streams: 3 + 2, on the same schedule.
    assert_eq!((a.steps[0].load, b.steps[0].load), (3.0, 2.0));
    assert_eq!(a.steps[0].window_start_s, b.steps[0].window_start_s);
    let facts = common::json(&b.run_dir, "config.json");
    assert_eq!(facts["settings"]["shard"]["index"], 1);
    assert_eq!(facts["settings"]["shard"]["count"], 2);
    assert_eq!(facts["settings"]["steps"][0], 5.0);
    assert!(
        common::json(&single.run_dir, "config.json")["settings"]
            .get("shard")
            .is_none()
    );

    // Shard i sends the run's requests k·2 + i, k = 0, 1, 2, …: none missing, none shared.
    let (pa, pb, ps) = (
        prompts(&a.run_dir),
        prompts(&b.run_dir),
        prompts(&single.run_dir),
    );
    for (rows, shard) in [
        (&common::rows(&a.run_dir), 0),
        (&common::rows(&b.run_dir), 1),
    ] {
        let mut ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        ids.sort_unstable();
        let want: Vec<u64> = (0..ids.len() as u64).map(|k| k * 2 + shard).collect();
        assert_eq!(ids, want, "shard {shard}");
    }
    // Request j carries the single run's request j's inputs.
    let mut compared = 0;
    for (id, tokens) in pa.iter().chain(&pb) {
        if let Some(want) = ps.get(id) {
            assert_eq!(tokens, want, "request {id}");
            compared += 1;
        }
    }
    assert!(compared > 20, "only {compared} requests in common");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_shards_share_the_rate_with_their_own_arrivals() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let config = |shard: &str| {
        let mut c = common::config(&sim.base_url(), out.path(), &[40.0], 1.0);
        c.load_mode = LoadMode::Rate;
        c.shard = shard.parse().unwrap();
        c.run_name = format!("rate{}", shard.replace('/', "of"));
        c
    };
    let (a, b) = tokio::join!(common::run(config("0/2")), common::run(config("1/2")));
    assert_eq!((a.steps[0].load, b.steps[0].load), (20.0, 20.0));
    // Each draws its own schedule: the two shards' arrivals differ.
    let starts = |o: &loadtest_sweep::RunOutcome| -> Vec<String> {
        common::rows(&o.run_dir)
            .iter()
            .filter_map(|r| {
                let (start, late) = (r["start_s"].as_f64()?, r["sched_delay_s"].as_f64()?);
                Some(format!("{:.4}", start - late))
            })
            .collect()
    };
    let (sa, sb) = (starts(&a), starts(&b));
    assert!(!sa.is_empty() && !sb.is_empty());
    assert_ne!(sa, sb);
    sim.shutdown().await;
}

#[test]
fn a_step_smaller_than_the_shards_is_refused() {
    let mut c = common::config("http://127.0.0.1:1", std::path::Path::new("."), &[2.0], 1.0);
    c.shard = "0/3".parse().unwrap();
    let err = c.validate().unwrap_err();
    assert_eq!(err.field, loadtest_sweep::validate::ConfigField::Steps);
    assert!(err.expected.contains("at least 3"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warmup_waits_for_start_at() {
    use std::time::{Duration, Instant, SystemTime};
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0], 0.3);
    config.start_at = Some(SystemTime::now() + Duration::from_millis(800));
    let t0 = Instant::now();
    let on_time = common::run(config.clone()).await;
    // Warmup 0.5 s + window 0.3 s after the wait.
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    let settings = &common::json(&on_time.run_dir, "config.json")["settings"];
    assert!(settings["start_at"].as_str().unwrap().ends_with('Z'));
    assert!(!on_time.warnings.iter().any(|w| w.contains("--start-at")));
    // An instant long past: the run starts at once and says how late.
    config.start_at = Some(SystemTime::now() - Duration::from_secs(3));
    let late = common::run(config).await;
    assert!(
        late.warnings
            .iter()
            .any(|w| w.contains("after --start-at") && w.contains("ran that long alone")),
        "{:?}",
        late.warnings
    );
    sim.shutdown().await;
}

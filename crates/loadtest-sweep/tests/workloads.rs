//! Workloads against the simulator counting with the same tokenizer: the server's
//! `usage.prompt_tokens` equals the drawn (synthetic) or counted (dataset) sizes exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use loadtest_client::Endpoint;
use loadtest_dist::{Sampler, derive_seed};
use loadtest_run::files;
use loadtest_sim::{Profile, SimConfig, SimTokenizer, Simulator};
use loadtest_sweep::dataset::{DatasetOptions, DatasetSpec, load_dataset};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::tokenize::TokenCounter;

fn tokenizer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny-llama-tokenizer")
}

async fn sim_with_tokenizer() -> loadtest_sim::SimHandle {
    let mut config = SimConfig::ephemeral();
    config.profile = Profile::Fixed;
    config.ttft = Duration::from_millis(5);
    config.itl = Duration::from_millis(2);
    config.tokenizer = Some(SimTokenizer::load(&tokenizer_dir()).unwrap());
    Simulator::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthetic_prompts_are_exactly_the_drawn_token_counts() {
    let sim = sim_with_tokenizer().await;
    let out = tempfile::tempdir().unwrap();
    let counter = Arc::new(TokenCounter::load(&tokenizer_dir()).unwrap());
    let mut config = common::config(&sim.base_url(), out.path(), &[4.0], 1.0);
    config.input = InputSource::Synthetic("uniform:1:600".parse().unwrap());
    config.target.endpoint = Endpoint::Completions;
    config.max_output_tokens = "2".parse().unwrap();
    config.tokenizer = Some(counter);
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    assert!(rows.len() >= 20, "{}", rows.len());
    let sizes = Sampler::new(
        "uniform:1:600".parse().unwrap(),
        derive_seed(1, "input-size"),
    );
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row}");
        let drawn = sizes.sample(row["id"].as_u64().unwrap());
        assert_eq!(row["input_tokens_target"].as_u64(), Some(drawn), "{row}");
        assert_eq!(row["prompt_tokens"].as_u64(), Some(drawn), "{row}");
    }
    // Both sides count a completions prompt alike: no template overhead.
    assert_eq!(outcome.steps[0].prompt_overhead_tokens, Some(0.0));
    let config = common::json(&outcome.run_dir, files::CONFIG);
    let counting = &config["settings"]["token_counting"];
    assert_eq!(counting["method"], "tokenizer");
    assert_eq!(counting["tokenizer_sha256"].as_str().unwrap().len(), 64);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataset_rows_are_counted_like_the_server_counts_them() {
    let sim = sim_with_tokenizer().await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("sg.json");
    let rows: Vec<serde_json::Value> = (0..50)
        .map(|i| {
            serde_json::json!({"id": i, "conversations": [
                {"from": "human", "value": format!("Question {i}: why is the sky blue, {}?", "very ".repeat(i))},
                {"from": "gpt", "value": "Rayleigh scattering ".repeat(i % 7 + 1)},
            ]})
        })
        .collect();
    std::fs::write(&file, serde_json::to_vec(&rows).unwrap()).unwrap();
    let counter = Arc::new(TokenCounter::load(&tokenizer_dir()).unwrap());
    let spec = DatasetSpec {
        format: loadtest_sweep::dataset::DatasetFormat::ShareGpt,
        path: file,
    };
    let mut options = DatasetOptions::new(1);
    options.pool_size = 20;
    options.use_output_len = true;
    let pool = load_dataset(&spec, &options, Some(&counter)).unwrap();
    assert_eq!(pool.facts().rows_read, 50);
    assert_eq!(pool.facts().rows_kept, 20);
    let mut config = common::config(&sim.base_url(), out.path(), &[4.0], 1.0);
    config.input = InputSource::Dataset(Arc::new(pool));
    config.target.endpoint = Endpoint::Completions;
    config.tokenizer = Some(counter);
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    assert!(rows.len() >= 10, "{}", rows.len());
    for row in &rows {
        assert_eq!(row["status"], "ok", "{row}");
        assert_eq!(row["prompt_tokens"], row["input_tokens_target"], "{row}");
        // --output-len dataset with ignore_eos: the answer's own length comes back.
        assert_eq!(row["completion_tokens"], row["max_tokens"], "{row}");
    }
    let config = common::json(&outcome.run_dir, files::CONFIG);
    assert_eq!(config["settings"]["input_mode"], "dataset");
    assert_eq!(config["settings"]["dataset"]["rows_kept"], 20);
    assert_eq!(config["settings"]["dataset"]["output_len"], "dataset");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_prefixes_are_exact_and_reported() {
    let sim = sim_with_tokenizer().await;
    let out = tempfile::tempdir().unwrap();
    let counter = Arc::new(TokenCounter::load(&tokenizer_dir()).unwrap());
    let mut config = common::config(&sim.base_url(), out.path(), &[2.0], 1.0);
    config.input = InputSource::Synthetic("uniform:1:40".parse().unwrap());
    config.target.endpoint = Endpoint::Completions;
    config.max_output_tokens = "2".parse().unwrap();
    config.tokenizer = Some(counter);
    config.shared_prefix = Some(loadtest_sweep::prefix::SharedPrefix {
        tokens: 100,
        groups: 3,
    });
    let outcome = common::run(config).await;
    let rows = common::rows(&outcome.run_dir);
    assert!(rows.len() >= 10, "{}", rows.len());
    let sizes = Sampler::new(
        "uniform:1:40".parse().unwrap(),
        derive_seed(1, "input-size"),
    );
    for row in &rows {
        let drawn = sizes.sample(row["id"].as_u64().unwrap());
        assert_eq!(row["prompt_tokens"].as_u64(), Some(100 + drawn), "{row}");
        assert_eq!(row["input_tokens_target"], row["prompt_tokens"], "{row}");
    }
    let config = common::json(&outcome.run_dir, files::CONFIG);
    assert_eq!(
        config["settings"]["shared_prefix"],
        serde_json::json!({"tokens": 100, "groups": 3})
    );
    let md = std::fs::read_to_string(outcome.run_dir.join("summary.md")).unwrap();
    assert!(
        md.contains("Shared prefixes: 3 groups of 100 tokens"),
        "{md}"
    );
    assert!(md.contains("| load | client TTFT p50 / p99 | prefix-cache hits |"));
    // The chart of TTFT beside the server's prefix-cache hits, linked from summary.md.
    assert!(md.contains("](charts/prefix_cache.svg)"), "{md}");
    let svg = std::fs::read_to_string(outcome.run_dir.join("charts/prefix_cache.svg")).unwrap();
    assert!(svg.contains("client TTFT p50"), "{svg}");
    sim.shutdown().await;
}

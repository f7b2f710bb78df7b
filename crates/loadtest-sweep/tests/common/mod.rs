//! Shared set-up of the sweep's end-to-end tests: a simulator and a short sweep config.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use loadtest_client::{ClientConfig, Endpoint};
use loadtest_sim::{Profile, SimConfig, SimHandle, Simulator};
use loadtest_sweep::config::{GpuSettings, LoadMode, SweepConfig, TargetConfig};
use loadtest_sweep::inputs::InputSource;

/// A fixed-profile simulator: every request 20 ms to first token, then 5 ms per token.
pub async fn fixed_sim() -> SimHandle {
    let mut config = SimConfig::ephemeral();
    config.profile = Profile::Fixed;
    config.ttft = Duration::from_millis(20);
    config.itl = Duration::from_millis(5);
    Simulator::start(config).await.unwrap()
}

/// Steps of `step_s` seconds with a short warmup, synthetic prompts, 16 output tokens.
pub fn config(base_url: &str, out: &Path, steps: &[f64], step_s: f64) -> SweepConfig {
    SweepConfig {
        target: TargetConfig {
            client: ClientConfig::new(base_url),
            model: None,
            endpoint: Endpoint::Chat,
            metrics_url: Some(format!("{base_url}/metrics")),
        },
        load_mode: LoadMode::Concurrency,
        steps: steps.to_vec(),
        step_duration: Duration::from_secs_f64(step_s),
        warmup: Duration::from_millis(500),
        ramp: Duration::ZERO,
        cooldown: Duration::ZERO,
        input: InputSource::Synthetic("uniform:20:40".parse().unwrap()),
        max_output_tokens: "16".parse().unwrap(),
        ignore_eos: true,
        seed: 1,
        max_inflight: 4096,
        poll_interval: Duration::from_millis(250),
        gpu: GpuSettings {
            enabled: false,
            nvidia_smi: "nvidia-smi".into(),
            interval: Duration::from_secs(1),
        },
        output_dir: out.to_owned(),
        run_name: "test".into(),
        max_error_rate: None,
    }
}

/// Every line of requests.jsonl as JSON.
pub fn rows(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("requests.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A JSON file of the run folder.
pub fn json(run_dir: &Path, name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join(name)).unwrap()).unwrap()
}

//! Driving the sweep engine from another Rust tool, with its own request source and its own
//! sink for records — here against the built-in simulator:
//!
//! ```sh
//! cargo run -p loadtest-sweep --example embed
//! ```
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use loadtest_client::Prompt;

use loadtest_run::RequestRow;
use loadtest_sim::{SimConfig, Simulator};
use loadtest_sweep::config::{SweepConfig, TargetConfig};
use loadtest_sweep::inputs::{InputSource, RequestInputs, RequestSource};
use loadtest_sweep::{RecordSink, RunOptions, run_sweep};

/// My own prompts: a fixed set of questions, each with its own output budget.
#[derive(Debug)]
struct Questions(Vec<(Prompt, u64)>);

impl RequestSource for Questions {
    fn inputs(&self, index: u64) -> RequestInputs {
        let (prompt, max_tokens) = &self.0[(index % self.0.len() as u64) as usize];
        RequestInputs {
            prompt: prompt.clone(),
            input_tokens_target: None,
            max_tokens: *max_tokens,
        }
    }

    fn describe(&self) -> String {
        format!("{} built-in questions", self.0.len())
    }
}

/// My own sink: completion tokens per status, as the rows arrive.
#[derive(Default)]
struct TokensByStatus(Arc<std::sync::Mutex<BTreeMap<String, u64>>>);

impl RecordSink for TokensByStatus {
    fn record(&mut self, row: &RequestRow) {
        let mut map = self.0.lock().unwrap();
        *map.entry(row.status.to_string()).or_default() += row.completion_tokens.unwrap_or(0);
    }
}

#[tokio::main]
async fn main() {
    let sim = Simulator::start(SimConfig::ephemeral())
        .await
        .expect("simulator");
    let questions = Questions(vec![
        (Prompt::text("What is continuous batching?"), 32),
        (
            Prompt::text("Explain paged attention in one paragraph."),
            64,
        ),
        (Prompt::text("Why does TTFT grow with load?"), 48),
    ]);
    let mut config = SweepConfig::new(
        TargetConfig::new(&sim.base_url()),
        InputSource::Custom(Arc::new(questions)),
    );
    config.steps = vec![1.0, 8.0];
    config.step_duration = Duration::from_secs(2);
    config.warmup = Duration::from_millis(500);
    config.ignore_eos = true;
    config.poll_interval = Duration::from_millis(500);
    config.output_dir = std::env::temp_dir().join("vllm-loadtest-embed-example");
    config.run_name = "embed".into();
    let sink = TokensByStatus::default();
    let tally = Arc::clone(&sink.0);
    let options = RunOptions {
        sink: Some(Box::new(sink)),
        ..RunOptions::default()
    };
    let outcome = run_sweep(config, options).await.expect("sweep");
    for step in &outcome.steps {
        println!(
            "load {:>3}: {:>4} ok, {:>7.1} output tok/s, TTFT p50 {:.1} ms",
            step.load,
            step.counts.ok,
            step.output_tokens_per_s,
            step.ttft_s.map_or(f64::NAN, |s| s.p50 * 1e3)
        );
    }
    println!("completion tokens by status: {:?}", tally.lock().unwrap());
    println!("run folder: {}", outcome.run_dir.display());
    sim.shutdown().await;
}

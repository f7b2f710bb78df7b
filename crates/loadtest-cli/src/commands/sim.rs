//! `vllm-loadtest sim`: runs the built-in vLLM simulator until Ctrl-C, SIGTERM or SIGHUP.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use loadtest_sim::{Faults, MetricsFlavor, Profile, SimConfig, Simulator};
use loadtest_sweep::CancelToken;

use crate::commands::signals::Handlers;

use crate::output;

/// Timing model (`--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ProfileArg {
    /// Exact TTFT and inter-token gap for every request, whatever the load.
    Fixed,
    /// Continuous-batching engine loop: saturates like a real server.
    Batching,
}

/// Metric names (`--metrics-flavor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FlavorArg {
    /// vLLM V1 (0.32) names and labels.
    V1,
    /// Legacy vLLM V0 names.
    V0,
    /// SGLang names.
    Sglang,
}

/// Arguments of `vllm-loadtest sim`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to bind; 0 picks a free one (the URL is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Model name served (requests naming another model get 404).
    #[arg(long, default_value = "tiny-llama")]
    model: String,
    /// Context length in tokens (prompt + output).
    #[arg(long, default_value_t = 8192)]
    max_model_len: u64,
    /// Version reported by /version.
    #[arg(long, default_value = "0.32.0")]
    server_version: String,
    /// Timing model.
    #[arg(long, value_enum, default_value = "batching")]
    profile: ProfileArg,
    /// fixed: time to first token, ms.
    #[arg(long, default_value_t = 100.0)]
    ttft_ms: f64,
    /// fixed: gap between token events, ms.
    #[arg(long, default_value_t = 20.0)]
    itl_ms: f64,
    /// batching: most sequences running at once.
    #[arg(long, default_value_t = 32)]
    max_num_seqs: u32,
    /// batching: most tokens (prefill + decode) in one iteration.
    #[arg(long, default_value_t = 8192)]
    max_num_batched_tokens: u64,
    /// batching: KV-cache capacity in tokens.
    #[arg(long, default_value_t = 262_144)]
    kv_cache_tokens: u64,
    /// batching: fixed part of an iteration, ms.
    #[arg(long, default_value_t = 5.0)]
    step_base_ms: f64,
    /// batching: iteration time added per running sequence, ms.
    #[arg(long, default_value_t = 0.5)]
    step_per_seq_ms: f64,
    /// batching: iteration time added per prompt token prefilled, ms.
    #[arg(long, default_value_t = 0.02)]
    prefill_per_token_ms: f64,
    /// Tokens per stream event (like speculative decoding).
    #[arg(long, default_value_t = 1)]
    tokens_per_chunk: u32,
    /// Mean natural output length (exponential) for requests without ignore_eos.
    #[arg(long, default_value_t = 256)]
    mean_output_tokens: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Metric names served at /metrics.
    #[arg(long, value_enum, default_value = "v1")]
    metrics_flavor: FlavorArg,
    /// Probability that a request gets HTTP 500.
    #[arg(long, default_value_t = 0.0)]
    fault_http_500: f64,
    /// Probability that a request gets HTTP 429.
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    /// Probability that a stream is cut mid-way.
    #[arg(long, default_value_t = 0.0)]
    fault_disconnect: f64,
    /// Probability that a stream pauses for --stall-s mid-way.
    #[arg(long, default_value_t = 0.0)]
    fault_stall: f64,
    /// Length of a stall, seconds.
    #[arg(long, default_value_t = 5.0)]
    stall_s: f64,
    /// Probability that a stream carries one event of broken JSON.
    #[arg(long, default_value_t = 0.0)]
    fault_malformed: f64,
    /// Probability that a stream is held and sent whole at its end (a buffering proxy).
    #[arg(long, default_value_t = 0.0)]
    fault_buffer: f64,
    /// Delay every /metrics answer by this many ms.
    #[arg(long, default_value_t = 0.0)]
    metrics_delay_ms: f64,
    /// Probability that a /metrics answer is garbage.
    #[arg(long, default_value_t = 0.0)]
    metrics_garbage: f64,
    /// Worker threads of the simulator's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Count prompt tokens with this tokenizer.json (or a model directory holding one)
    /// instead of words; nothing is downloaded.
    #[arg(long, value_name = "PATH")]
    tokenizer: Option<std::path::PathBuf>,
}

fn millis(flag: &str, ms: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(ms / 1e3)
        .with_context(|| format!("--{flag} {ms}: expected a finite, non-negative number of ms"))
}

impl Args {
    /// The library config these flags describe.
    fn config(&self) -> anyhow::Result<SimConfig> {
        let config = SimConfig {
            host: self.host.clone(),
            port: self.port,
            model: self.model.clone(),
            max_model_len: self.max_model_len,
            server_version: self.server_version.clone(),
            profile: match self.profile {
                ProfileArg::Fixed => Profile::Fixed,
                ProfileArg::Batching => Profile::Batching,
            },
            ttft: millis("ttft-ms", self.ttft_ms)?,
            itl: millis("itl-ms", self.itl_ms)?,
            max_num_seqs: self.max_num_seqs,
            max_num_batched_tokens: self.max_num_batched_tokens,
            kv_cache_tokens: self.kv_cache_tokens,
            step_base: millis("step-base-ms", self.step_base_ms)?,
            step_per_seq: millis("step-per-seq-ms", self.step_per_seq_ms)?,
            prefill_per_token: millis("prefill-per-token-ms", self.prefill_per_token_ms)?,
            tokens_per_chunk: self.tokens_per_chunk,
            mean_output_tokens: self.mean_output_tokens,
            seed: self.seed,
            metrics_flavor: match self.metrics_flavor {
                FlavorArg::V1 => MetricsFlavor::V1,
                FlavorArg::V0 => MetricsFlavor::V0,
                FlavorArg::Sglang => MetricsFlavor::Sglang,
            },
            faults: Faults {
                http_500: self.fault_http_500,
                http_429: self.fault_429,
                disconnect: self.fault_disconnect,
                stall_probability: self.fault_stall,
                stall: Duration::try_from_secs_f64(self.stall_s).with_context(|| {
                    format!(
                        "--stall-s {}: expected a finite, non-negative number",
                        self.stall_s
                    )
                })?,
                malformed: self.fault_malformed,
                buffer: self.fault_buffer,
                metrics_delay: millis("metrics-delay-ms", self.metrics_delay_ms)?,
                metrics_garbage: self.metrics_garbage,
            },
            tokenizer: match &self.tokenizer {
                Some(path) => Some(loadtest_sim::SimTokenizer::load(path)?),
                None => None,
            },
        };
        config.validate().map_err(|err| match err {
            loadtest_sim::SimError::Config {
                field,
                value,
                expected,
            } => anyhow::anyhow!("invalid {} {value}: expected {expected}", flag_of(field)),
            other => other.into(),
        })?;
        Ok(config)
    }
}

/// The command-line flag that sets a [`SimConfig`] field, for error messages.
fn flag_of(field: &str) -> String {
    let flag = match field {
        "ttft" | "itl" | "step_base" | "step_per_seq" | "prefill_per_token" | "metrics_delay" => {
            return format!("--{}-ms", field.replace('_', "-"));
        }
        "stall" => "stall-s",
        "fault_429" => "fault-429",
        other => return format!("--{}", other.replace('_', "-")),
    };
    format!("--{flag}")
}

/// Runs the subcommand: prints `listening on <url>`, serves until Ctrl-C, SIGTERM or SIGHUP.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    anyhow::ensure!(args.threads >= 1, "--threads 0: expected at least 1");
    // Every stream is a socket: thousands at once need more than the usual 1,024.
    let _ = crate::commands::raise_open_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let sim = Simulator::start(config).await?;
        // Watch the signals before telling anyone where we are, so none is missed.
        let handlers = Handlers::install().context("cannot watch Ctrl-C and SIGTERM")?;
        let stop = CancelToken::new();
        tokio::spawn(handlers.watch(stop.clone(), None));
        output::line(&format!("listening on {}", sim.base_url()));
        stop.cancelled().await;
        tracing::info!("stopping the simulator");
        sim.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let wrap = Wrap::try_parse_from(["sim"]).unwrap();
        assert_eq!(wrap.args.config().unwrap(), SimConfig::default());
    }

    #[test]
    fn flags_reach_the_config() {
        let wrap = Wrap::try_parse_from([
            "sim",
            "--port",
            "0",
            "--profile",
            "fixed",
            "--ttft-ms",
            "12.5",
            "--itl-ms",
            "3",
            "--metrics-flavor",
            "sglang",
            "--fault-stall",
            "0.5",
            "--stall-s",
            "1.5",
            "--fault-buffer",
            "0.25",
        ])
        .unwrap();
        let c = wrap.args.config().unwrap();
        assert_eq!(c.port, 0);
        assert_eq!(c.profile, Profile::Fixed);
        assert_eq!(c.ttft, Duration::from_micros(12_500));
        assert_eq!(c.metrics_flavor, MetricsFlavor::Sglang);
        assert_eq!(c.faults.stall, Duration::from_millis(1500));
        assert_eq!(c.faults.stall_probability, 0.5);
        assert_eq!(c.faults.buffer, 0.25);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["sim", "--fault-429", "1.5"][..],
            &["sim", "--fault-buffer", "2"],
            &["sim", "--ttft-ms=-1"],
            &["sim", "--max-num-seqs", "0"],
        ] {
            let wrap = Wrap::try_parse_from(bad).unwrap();
            assert!(wrap.args.config().is_err(), "{bad:?}");
        }
        assert!(Wrap::try_parse_from(["sim", "--profile", "turbo"]).is_err());
    }
}

//! The sweep's flags as clap parses them (raw); `super::SweepArgs::into_config` validates
//! them into a `SweepConfig`.

use std::path::PathBuf;

/// `--input-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum InputMode {
    /// The same prompt every time (`--prompt-text`).
    FixedPrompt,
    /// Prompts from a JSONL file (`--prompt-file`).
    PromptFile,
    /// Generated prompts of `--input-size` tokens.
    Synthetic,
}

pub(crate) use crate::commands::common::EndpointArg as Endpoint;

/// `--load-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LoadModeArg {
    /// Step values are concurrent in-flight requests (closed loop).
    Concurrency,
    /// Step values are arrival rates in requests/s (open loop).
    Rate,
}

/// The sweep's flags, as typed by the user (§4). Options stay `None` when not given, so the
/// validation step can tell a default from a choice (and apply `--simulate`'s demo defaults).
#[derive(Debug, Default, clap::Args)]
pub(crate) struct SweepArgs {
    /// Server root, e.g. http://localhost:8801 (required unless --simulate).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    /// Bearer token (also read from OPENAI_API_KEY or VLLM_API_KEY); never written anywhere.
    #[arg(long, value_name = "KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Model name [default: the first of GET /v1/models].
    #[arg(long)]
    pub(crate) model: Option<String>,
    /// Comma list of load levels: concurrency, or requests/s with --load-mode rate; `auto`
    /// doubles concurrency from 1 until the knee, the SLO or 5 % errors [default: 1,2,4,8].
    #[arg(long, value_name = "LIST", visible_alias = "max-concurrency")]
    pub(crate) steps: Option<String>,
    /// `vllm bench serve`'s request rate: --load-mode rate with these requests/s as the steps.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["steps", "load_mode"])]
    pub(crate) request_rate: Option<String>,
    /// `vllm bench serve`'s burstiness: --arrival gamma:B (1 = Poisson).
    #[arg(long, value_name = "B", conflicts_with = "arrival")]
    pub(crate) burstiness: Option<f64>,
    /// Not supported: steps are time windows (`vllm bench serve` habit).
    #[arg(long, hide = true, value_name = "N")]
    pub(crate) num_prompts: Option<String>,
    /// `random` only (synthetic prompts); see --prompt-file (`vllm bench serve` habit).
    #[arg(long, hide = true, value_name = "NAME")]
    pub(crate) dataset_name: Option<String>,
    /// Not supported: use --prompt-file (`vllm bench serve` habit).
    #[arg(long, hide = true, value_name = "PATH")]
    pub(crate) dataset_path: Option<PathBuf>,
    /// Measure window per step, seconds [default: 60].
    #[arg(long, value_name = "S")]
    pub(crate) step_duration_s: Option<f64>,
    /// Warmup at the first step's level, seconds; excluded from statistics [default: 10].
    #[arg(long, value_name = "S")]
    pub(crate) warmup_s: Option<f64>,
    /// Linear ramp from the previous level before each window, seconds [default: 0].
    #[arg(long, value_name = "S")]
    pub(crate) ramp_s: Option<f64>,
    /// Pause with no new requests after each window, seconds [default: 0].
    #[arg(long, value_name = "S")]
    pub(crate) cooldown_s: Option<f64>,
    /// Where prompts come from [default: implied by --prompt-text, --prompt-file or --input-size].
    #[arg(long, value_enum)]
    pub(crate) input_mode: Option<InputMode>,
    /// The prompt for fixed-prompt mode.
    #[arg(long, value_name = "TEXT")]
    pub(crate) prompt_text: Option<String>,
    /// JSONL prompts: plain text, a JSON string, or {"prompt"|"text"|"messages": …} per row.
    #[arg(long, value_name = "FILE")]
    pub(crate) prompt_file: Option<PathBuf>,
    /// Prompt length in tokens for synthetic mode: N or a distribution (normal:…, lognormal:…, uniform:…).
    #[arg(long, value_name = "DIST", visible_alias = "random-input-len")]
    pub(crate) input_size: Option<String>,
    /// max_tokens per request: N or a distribution [default: 128].
    #[arg(long, value_name = "DIST", visible_alias = "random-output-len")]
    pub(crate) max_output_tokens: Option<String>,
    /// JSON object merged into every request body: sampling parameters, chat_template_kwargs,
    /// min_tokens, … (not the fields the tool sets: model, messages, prompt, max_tokens,
    /// ignore_eos, stream, stream_options).
    #[arg(long, value_name = "JSON")]
    pub(crate) extra_body: Option<String>,
    /// Sampling temperature (shorthand for --extra-body '{"temperature": T}').
    #[arg(long, value_name = "T")]
    pub(crate) temperature: Option<f64>,
    /// Nucleus sampling (shorthand for --extra-body '{"top_p": P}').
    #[arg(long, value_name = "P")]
    pub(crate) top_p: Option<f64>,
    /// Seed of all randomness [default: 0].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Per-request deadline, connect to last byte, seconds [default: 600].
    #[arg(long, value_name = "S")]
    pub(crate) timeout_s: Option<f64>,
    /// Hard cap on in-flight requests [default: 4096].
    #[arg(long, value_name = "N")]
    pub(crate) max_inflight: Option<usize>,
    /// /metrics scrape interval, seconds [default: 1].
    #[arg(long, value_name = "S")]
    pub(crate) poll_interval_s: Option<f64>,
    /// nvidia-smi sample interval, seconds [default: 1].
    #[arg(long, value_name = "S")]
    pub(crate) gpu_poll_interval_s: Option<f64>,
    /// Parent folder of run folders [default: results].
    #[arg(long, value_name = "DIR")]
    pub(crate) output_dir: Option<PathBuf>,
    /// Run folder prefix: the folder is OUTPUT-DIR/RUN-NAME_TIMESTAMP (UTC) [default: run].
    #[arg(long, value_name = "NAME")]
    pub(crate) run_name: Option<String>,
    /// The exact run folder to create (refused if it exists), instead of
    /// OUTPUT-DIR/RUN-NAME_TIMESTAMP.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["output_dir", "run_name"])]
    pub(crate) run_dir: Option<PathBuf>,
    /// Start the built-in simulator on a loopback port and target it (a ~1 minute demo sweep
    /// when no other flags are given).
    #[arg(long)]
    pub(crate) simulate: bool,
    /// OpenAI endpoint [default: chat].
    #[arg(long, value_enum)]
    pub(crate) endpoint: Option<Endpoint>,
    /// Extra request header 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'K: V'")]
    pub(crate) headers: Vec<String>,
    /// Send ignore_eos (vLLM extension): outputs are exactly max_tokens long.
    #[arg(long)]
    pub(crate) ignore_eos: bool,
    /// How step values are read [default: concurrency].
    #[arg(long, value_enum)]
    pub(crate) load_mode: Option<LoadModeArg>,
    /// Rate mode's arrival process: poisson, constant or gamma:BURSTINESS (0.01–1000)
    /// [default: poisson].
    #[arg(long, value_name = "PROCESS")]
    pub(crate) arrival: Option<String>,
    /// Service-level objectives for goodput, e.g. ttft=500ms,tpot=50ms,e2e=10s,p99:ttft=1s.
    #[arg(long, value_name = "LIST")]
    pub(crate) slo: Option<String>,
    /// Share of a step's requests that must meet the per-request objectives [default: 0.9].
    #[arg(long, value_name = "FRACTION")]
    pub(crate) slo_attainment: Option<f64>,
    /// Knee: throughput gain below which the curve has flattened [default: 0.10].
    #[arg(long, value_name = "FRACTION")]
    pub(crate) knee_throughput_gain: Option<f64>,
    /// Knee: e2e p50 growth above which latency is climbing [default: 0.50].
    #[arg(long, value_name = "FRACTION")]
    pub(crate) knee_latency_growth: Option<f64>,
    /// nvidia-smi binary [default: nvidia-smi on PATH].
    #[arg(long, value_name = "PATH")]
    pub(crate) nvidia_smi: Option<PathBuf>,
    /// Do not poll nvidia-smi.
    #[arg(long)]
    pub(crate) no_gpu: bool,
    /// Scrape this URL instead of BASE-URL/metrics.
    #[arg(long, value_name = "URL")]
    pub(crate) metrics_url: Option<String>,
    /// Do not scrape /metrics.
    #[arg(long)]
    pub(crate) no_metrics: bool,
    /// Exit 1 when more than this share (0–1) of measured requests failed.
    #[arg(long, value_name = "FRACTION")]
    pub(crate) max_error_rate: Option<f64>,
    /// Print nothing but errors, and the run folder's path on stdout.
    #[arg(long)]
    pub(crate) quiet: bool,
}

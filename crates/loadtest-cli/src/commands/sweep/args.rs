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
    /// Each step sends exactly N measured requests and ends when they have all finished
    /// (instead of a --step-duration-s window; no --ramp-s); as in `vllm bench serve`.
    #[arg(long, value_name = "N")]
    pub(crate) num_prompts: Option<u64>,
    /// Multi-turn conversations of N turns each (chat endpoint): every turn sends the history
    /// with the answers received; concurrency counts users, a rate counts conversations.
    /// `dataset` (with --dataset sharegpt:PATH): each conversation is a row, its human turns
    /// in order (consecutive ones merged), cut to the turns that fit --max-model-len.
    #[arg(long, value_name = "N|dataset")]
    pub(crate) turns: Option<loadtest_sweep::conversation::Turns>,
    /// With --turns: seconds between an answer and the next turn, N or a distribution
    /// [default: 0].
    #[arg(long, value_name = "DIST", requires = "turns")]
    pub(crate) think_time_s: Option<String>,
    /// With --num-prompts: exactly N warmup requests, all finished, before the first step
    /// (instead of --warmup-s).
    #[arg(long, value_name = "N")]
    pub(crate) warmup_requests: Option<u64>,
    /// `random` (synthetic prompts), `sharegpt` or `custom` (JSONL) with --dataset-path: the
    /// same as --dataset (`vllm bench serve` habit).
    #[arg(long, hide = true, value_name = "NAME")]
    pub(crate) dataset_name: Option<String>,
    /// With --dataset-name sharegpt|custom: the same as --dataset (`vllm bench serve` habit).
    #[arg(long, hide = true, value_name = "PATH")]
    pub(crate) dataset_path: Option<PathBuf>,
    /// Prompts from a dataset, sampled with the seed: sharegpt:PATH (ShareGPT JSON) or
    /// jsonl:PATH (rows with "prompt" or "messages", optional "output_tokens").
    #[arg(long, value_name = "FORMAT:PATH")]
    pub(crate) dataset: Option<String>,
    /// Skip dataset rows whose prompt is shorter than N tokens (words without --tokenizer).
    #[arg(long, value_name = "N")]
    pub(crate) dataset_min_prompt_tokens: Option<u64>,
    /// Skip dataset rows whose prompt is longer than N tokens (words without --tokenizer).
    #[arg(long, value_name = "N")]
    pub(crate) dataset_max_prompt_tokens: Option<u64>,
    /// Dataset rows kept (drawn with the seed) for requests to draw from [default: 1000].
    #[arg(long, value_name = "N")]
    pub(crate) dataset_pool_size: Option<u64>,
    /// Skip dataset rows whose prompt plus output would not fit in N tokens of context.
    #[arg(long, value_name = "N")]
    pub(crate) max_model_len: Option<u64>,
    /// `dataset`: each dataset row's own answer length is its max_tokens (instead of
    /// --max-output-tokens).
    #[arg(long, value_name = "dataset")]
    pub(crate) output_len: Option<String>,
    /// Every synthetic prompt starts with one of --prefix-groups seeded prefixes of this many
    /// tokens, then its own --input-size tokens (for prefix caching).
    #[arg(long, value_name = "P")]
    pub(crate) shared_prefix_tokens: Option<u64>,
    /// Distinct shared prefixes, each request drawing one with the seed [default: 1].
    #[arg(long, value_name = "G", requires = "shared_prefix_tokens")]
    pub(crate) prefix_groups: Option<u64>,
    /// Count prompt tokens with this tokenizer.json (or a model directory holding one):
    /// synthetic prompts become exactly --input-size tokens; nothing is downloaded.
    #[arg(long, value_name = "PATH")]
    pub(crate) tokenizer: Option<PathBuf>,
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
    /// The HTTP/1.1 client for http:// servers: native (the tool's own: one task and one
    /// small buffer per stream) or hyper (hyper's pooled client, as https:// always uses)
    /// [default: native].
    #[arg(long, value_name = "CLIENT")]
    pub(crate) http_client: Option<loadtest_client::HttpTransport>,
    /// Worker threads of the client's async runtime, which carry every request (1 to 1024)
    /// [default: one per core]. Fewer cost less CPU per token event at light load (the runtime
    /// does not wake idle siblings to look for work); each thread carries at most one core's
    /// worth, and a step that needs more is `client-bound`.
    #[arg(long, value_name = "N")]
    pub(crate) client_threads: Option<usize>,
    /// Hard cap on in-flight requests [default: 4096].
    #[arg(long, value_name = "N")]
    pub(crate) max_inflight: Option<usize>,
    /// New connections opened per second, at most; a closed-loop step's ramp lasts until its
    /// new connections can have opened [default: 2000].
    #[arg(long, value_name = "N")]
    pub(crate) connect_rate: Option<f64>,
    /// Run shard I of N (0-based) of one load test driven by N processes: each runs its share
    /// of every step and sends the run's requests k·N+I. `auto` reads SLURM_PROCID and
    /// SLURM_NTASKS (srun), or JOB_COMPLETION_INDEX with --shards (a Kubernetes Indexed Job).
    #[arg(long, value_name = "I/N|auto")]
    pub(crate) shard: Option<String>,
    /// With --shard auto under a Kubernetes Indexed Job: the number of shards (completions).
    #[arg(long, value_name = "N")]
    pub(crate) shards: Option<u32>,
    /// Begin the warmup at this instant (RFC 3339, e.g. 2026-11-30T14:00:00Z), after preflight:
    /// how the shards of a run start together. Their clocks are assumed to agree (NTP).
    #[arg(long, value_name = "RFC3339")]
    pub(crate) start_at: Option<String>,
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
    /// Rate mode's arrival process: poisson, constant or gamma:BURSTINESS (0.01–1000); or
    /// trace:PATH to replay a Mooncake (.jsonl) or BurstGPT (.csv) trace (trace:mooncake:PATH,
    /// trace:burstgpt:PATH name the format) [default: poisson].
    #[arg(long, value_name = "PROCESS")]
    pub(crate) arrival: Option<String>,
    /// With --arrival trace:PATH: replay F times as fast (2 = twice the trace's rate) [default: 1].
    #[arg(long, value_name = "F")]
    pub(crate) trace_speed: Option<f64>,
    /// With --arrival trace:PATH: replay at most N steps (slices of --step-duration-s) after
    /// the warmup [default: until the trace ends].
    #[arg(long, value_name = "N")]
    pub(crate) trace_max_steps: Option<u64>,
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
    /// Poll nvidia-smi on this shard too (by default only shard 0 of a sharded run does:
    /// give it where a shard runs on its own GPU node).
    #[arg(long, conflicts_with = "no_gpu")]
    pub(crate) gpu: bool,
    /// Scrape this URL instead of BASE-URL/metrics.
    #[arg(long, value_name = "URL")]
    pub(crate) metrics_url: Option<String>,
    /// Send the api key and secret headers to a --metrics-url on another host too (by default
    /// only a metrics URL on the base URL's host gets them).
    #[arg(long)]
    pub(crate) metrics_credentials: bool,
    /// Do not scrape /metrics.
    #[arg(long)]
    pub(crate) no_metrics: bool,
    /// Scrape /metrics on this shard too (by default only shard 0 of a sharded run does, so
    /// the server is read once, not once per client).
    #[arg(long, conflicts_with = "no_metrics")]
    pub(crate) scrape_metrics: bool,
    /// Exit 1 when more than this share (0–1) of measured requests failed.
    #[arg(long, value_name = "FRACTION")]
    pub(crate) max_error_rate: Option<f64>,
    /// Print nothing but errors, and the run folder's path on stdout.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// Exit 1 when this threshold fails (repeatable), e.g. ttft.p99<500ms, tpot.p50<30ms,
    /// goodput>=8rps, error_rate<0.01, throughput@16>=900tok/s (`@LOAD`: only at that step);
    /// a step without the data fails. Verdicts land in step_summary.json and summary.md.
    #[arg(long, value_name = "EXPR")]
    pub(crate) fail_on: Vec<String>,
    /// Exit 1 when a step misses --slo (the same as --fail-on slo).
    #[arg(long, requires = "slo")]
    pub(crate) fail_on_slo: bool,
    /// Run the whole sweep N times (fresh warmup each, same seed), each trial in
    /// RUN_DIR/trial-K/, with the mean and spread per step in RUN_DIR/trials.json and
    /// trials.md [default: 1].
    #[arg(long, value_name = "N")]
    pub(crate) repeat: Option<u32>,
    /// Also write result.json (one flat object per step, for dashboards) to this path.
    #[arg(long, value_name = "PATH")]
    pub(crate) json_out: Option<PathBuf>,
    /// A label k=v recorded in config.json and every result.json row (repeatable).
    #[arg(long = "tag", value_name = "K=V")]
    pub(crate) tags: Vec<String>,
}

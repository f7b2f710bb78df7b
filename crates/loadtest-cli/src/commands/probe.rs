//! `vllm-loadtest probe`: a few streaming requests, one after another, each printed as its
//! timing record — "is this server healthy, and how fast is one stream?".

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use loadtest_client::{ClientConfig, Endpoint, RequestRecord};
use loadtest_sweep::CancelToken;
use loadtest_sweep::probe::{Probe, ProbeSettings, human_line, summary};

use crate::commands::common::{self, EndpointArg};
use crate::commands::signals::{EXIT_INTERRUPTED, Handlers};
use crate::output;

/// Arguments of `vllm-loadtest probe`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every request is ok, 1 when any failed, \
2 when the server cannot be reached or a flag is wrong, 130 when stopped by Ctrl-C, SIGTERM \
or SIGHUP (the requests done so far are printed)."
)]
pub(crate) struct Args {
    /// Server root, e.g. http://localhost:8000 (http or https).
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// Model name; default: the first of GET /v1/models.
    #[arg(long)]
    model: Option<String>,
    /// The prompt (a single user message for chat).
    #[arg(
        long,
        value_name = "T",
        default_value = "Write a haiku about load testing."
    )]
    prompt_text: String,
    /// Sent as max_tokens.
    #[arg(long, value_name = "N", default_value_t = 128,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_output_tokens: u32,
    /// How many requests to send, one after another.
    #[arg(long, value_name = "K", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    requests: u32,
    /// Endpoint to stream from.
    #[arg(long, value_enum, default_value_t = EndpointArg::Chat)]
    endpoint: EndpointArg,
    /// Bearer token; default: $OPENAI_API_KEY, else $VLLM_API_KEY. Never printed.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Extra request header, 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'K: V'")]
    headers: Vec<String>,
    /// Per-request deadline in seconds, connect to last byte.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    timeout_s: f64,
    /// Send "ignore_eos": true (vLLM) so that every request generates max_tokens.
    #[arg(long)]
    ignore_eos: bool,
    /// Print one JSON object per line, in the requests.jsonl schema, instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (config, env_key_ignored) = client_config(&args)?;
    if env_key_ignored {
        output::note(common::ENV_KEY_IGNORED_NOTE);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        // Installed before the first request: from here a signal stops the probe cleanly.
        let cancel = CancelToken::new();
        let signals = Handlers::install()
            .map(|handlers| tokio::spawn(handlers.watch(cancel.clone(), Some("stopping"))));
        let result = probe(args, config, &cancel).await;
        if let Some(task) = signals {
            task.abort();
        }
        match result {
            Ok(_) if cancel.is_cancelled() => Ok(ExitCode::from(EXIT_INTERRUPTED)),
            other => other,
        }
    })
}

/// The client's config, and whether an `Authorization` header leaves the environment's api
/// key unused.
fn client_config(args: &Args) -> anyhow::Result<(ClientConfig, bool)> {
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0) {
        bail!(
            "invalid --timeout-s {}: expected a positive number of seconds",
            args.timeout_s
        );
    }
    let headers = common::headers(&args.headers)?;
    let api_key = common::api_key(args.api_key.as_deref(), &headers, common::process_env)?;
    let mut config = ClientConfig::new(args.base_url.clone());
    config.request_timeout = Duration::from_secs_f64(args.timeout_s);
    config.connect_timeout = config.connect_timeout.min(config.request_timeout);
    config.pool_size = 1;
    config.api_key = api_key.key;
    config.headers = headers;
    Ok((config, api_key.env_key_ignored))
}

/// Probes until done or `cancel`: a cancel during the preflight ends it with nothing printed;
/// during a request, that request is printed as `cancelled` and the summary follows.
async fn probe(args: Args, config: ClientConfig, cancel: &CancelToken) -> anyhow::Result<ExitCode> {
    let settings = ProbeSettings {
        model: args.model.clone(),
        prompt_text: args.prompt_text.clone(),
        max_output_tokens: args.max_output_tokens,
        endpoint: Endpoint::from(args.endpoint),
        ignore_eos: args.ignore_eos,
    };
    let Some(probe) = Probe::start(&config, &settings, cancel).await? else {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    };
    if !args.json {
        output::line(&probe.header(args.requests));
    }
    let mut records = Vec::with_capacity(args.requests as usize);
    for id in 0..u64::from(args.requests) {
        if cancel.is_cancelled() {
            break;
        }
        let (record, row) = probe.send(id, cancel).await;
        if args.json {
            output::line(&serde_json::to_string(&row)?);
        } else {
            output::line(&human_line(&row));
        }
        records.push(record);
    }
    if !args.json {
        output::line(&summary(&records));
    }
    let all_ok = records.iter().all(RequestRecord::is_ok);
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

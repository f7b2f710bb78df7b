//! `vllm-loadtest probe`: a few streaming requests, one after another, each printed as its
//! timing record — "is this server healthy, and how fast is one stream?".

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use loadtest_client::{
    Client, ClientConfig, Endpoint, NoGapSink, Prompt, RequestRecord, StreamRequest,
};
use loadtest_run::RequestRow;
use loadtest_sweep::{CancelToken, RowContext, request_row, unix_now_s};

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
    let client = Client::new(&config).context("invalid --base-url or --header")?;
    let base = client.base_url().to_owned();

    // Preflight: reachability, and the model when not given.
    let preflight = async {
        match &args.model {
            Some(model) => {
                if let Err(e) = client.get("/v1/models").await
                    && e.is_unreachable()
                {
                    bail!("server unreachable: {}", clean(&e.to_string()));
                }
                Ok(model.clone())
            }
            None => match client.first_model().await {
                Ok(model) => Ok(model),
                Err(e) if e.is_unreachable() => {
                    bail!("server unreachable: {}", clean(&e.to_string()))
                }
                Err(e) => bail!(
                    "cannot pick a model ({}); pass --model",
                    clean(&e.to_string())
                ),
            },
        }
    };
    let model = tokio::select! {
        model = preflight => model?,
        () = cancel.cancelled() => return Ok(ExitCode::from(EXIT_INTERRUPTED)),
    };

    let endpoint = Endpoint::from(args.endpoint);
    let request = StreamRequest::new(
        endpoint,
        Arc::from(model.as_str()),
        Prompt::text(&args.prompt_text),
    )?
    .with_max_tokens(Some(args.max_output_tokens))
    .with_ignore_eos(args.ignore_eos);
    if !args.json {
        // The model id may come from the server's `/v1/models`: never printed raw.
        output::line(&format!(
            "probing {} · model {} · {endpoint} · max_tokens {} · {} request(s)",
            clean(&base),
            clean(&model),
            args.max_output_tokens,
            args.requests
        ));
    }

    let run_start = Instant::now();
    let run_start_unix_s = unix_now_s();
    let mut records = Vec::with_capacity(args.requests as usize);
    for id in 0..u64::from(args.requests) {
        if cancel.is_cancelled() {
            break;
        }
        let record = client
            .stream_until(&request, &mut NoGapSink, cancel.cancelled())
            .await;
        let mut ctx = RowContext::new(id, run_start, run_start_unix_s);
        ctx.max_tokens = Some(args.max_output_tokens);
        let row = request_row(&record, &ctx);
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

/// A server-controlled string (model id, `finish_reason`, error text) made safe for one
/// terminal line: control characters (escapes, BEL) become spaces, the length is bounded.
/// The `--json` rows need nothing more: JSON escapes every control character.
fn clean(text: &str) -> String {
    loadtest_client::sanitize_error(text)
}

fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1e3)
}

fn opt_ms(s: Option<f64>) -> String {
    s.map_or_else(|| "-".to_owned(), ms)
}

fn opt_u64(v: Option<u64>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| v.to_string())
}

fn human_line(row: &RequestRow) -> String {
    let mut line = format!("#{:<3} {:<13}", row.id, row.status.as_str());
    if let Some(code) = row.http_status
        && code != 200
    {
        line.push_str(&format!(" HTTP {code}"));
    }
    line.push_str(&format!(
        " ttft {}  e2e {}  total {}  tpot {}  tokens {}→{}  chunks {}",
        opt_ms(row.ttft_s),
        opt_ms(row.e2e_s),
        ms(row.total_s),
        opt_ms(row.tpot_s),
        opt_u64(row.prompt_tokens),
        opt_u64(row.completion_tokens),
        row.chunks,
    ));
    if row.gap_p50_s.is_some() {
        line.push_str(&format!(
            "  gaps p50 {} p99 {} max {}",
            opt_ms(row.gap_p50_s),
            opt_ms(row.gap_p99_s),
            opt_ms(row.gap_max_s)
        ));
    }
    if let Some(reason) = &row.finish_reason {
        line.push_str(&format!("  finish {}", clean(reason)));
    }
    if let Some(error) = &row.error {
        line.push_str(&format!("  error: {}", clean(error)));
    }
    line
}

fn summary(records: &[RequestRecord]) -> String {
    let ok: Vec<&RequestRecord> = records.iter().filter(|r| r.is_ok()).collect();
    let mut text = format!("summary: {}/{} ok", ok.len(), records.len());
    let stats = |values: Vec<f64>| -> Option<(f64, f64, f64)> {
        if values.is_empty() {
            return None;
        }
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((mean, min, max))
    };
    let secs = |d: Duration| d.as_secs_f64();
    if let Some((mean, min, max)) = stats(ok.iter().filter_map(|r| r.ttft.map(secs)).collect()) {
        text.push_str(&format!(
            " · ttft mean {} (min {}, max {})",
            ms(mean),
            ms(min),
            ms(max)
        ));
    }
    if let Some((mean, _, _)) = stats(ok.iter().filter_map(|r| r.tpot().map(secs)).collect()) {
        text.push_str(&format!(" · tpot mean {}", ms(mean)));
        if mean > 0.0 {
            text.push_str(&format!(" ({:.1} tokens/s per stream)", 1.0 / mean));
        }
    }
    if let Some((mean, _, _)) = stats(ok.iter().filter_map(|r| r.e2e.map(secs)).collect()) {
        text.push_str(&format!(" · e2e mean {:.3} s", mean));
    }
    for status in loadtest_run::Status::ALL {
        let n = records.iter().filter(|r| r.status == status).count();
        if n > 0 && status != loadtest_run::Status::Ok {
            text.push_str(&format!(" · {n} {status}"));
        }
    }
    text
}

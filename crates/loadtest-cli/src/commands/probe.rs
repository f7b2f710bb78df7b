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
use loadtest_sweep::{RowContext, request_row, unix_now_s};

use crate::output;

/// Which OpenAI endpoint to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EndpointArg {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
}

impl From<EndpointArg> for Endpoint {
    fn from(e: EndpointArg) -> Self {
        match e {
            EndpointArg::Chat => Endpoint::Chat,
            EndpointArg::Completions => Endpoint::Completions,
        }
    }
}

/// Arguments of `vllm-loadtest probe`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every request is ok, 1 when any failed, \
2 when the server cannot be reached or a flag is wrong."
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
    let config = client_config(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(probe(args, config))
}

fn client_config(args: &Args) -> anyhow::Result<ClientConfig> {
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0) {
        bail!(
            "invalid --timeout-s {}: expected a positive number of seconds",
            args.timeout_s
        );
    }
    let mut config = ClientConfig::new(args.base_url.clone());
    config.request_timeout = Duration::from_secs_f64(args.timeout_s);
    config.connect_timeout = config.connect_timeout.min(config.request_timeout);
    config.pool_size = 1;
    config.api_key = args
        .api_key
        .clone()
        .or_else(|| env_key("OPENAI_API_KEY"))
        .or_else(|| env_key("VLLM_API_KEY"));
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("invalid --header {header:?}: expected 'Name: value'");
        };
        if name.trim().is_empty() {
            bail!("invalid --header {header:?}: the name is empty (expected 'Name: value')");
        }
        config
            .headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(config)
}

fn env_key(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

async fn probe(args: Args, config: ClientConfig) -> anyhow::Result<ExitCode> {
    let client = Client::new(&config).context("invalid --base-url or --header")?;
    let base = client.base_url().to_owned();

    // Preflight: reachability, and the model when not given.
    let model = match &args.model {
        Some(model) => {
            if let Err(e) = client.get("/v1/models").await
                && e.is_unreachable()
            {
                bail!("server unreachable: {e}");
            }
            model.clone()
        }
        None => match client.first_model().await {
            Ok(model) => model,
            Err(e) if e.is_unreachable() => bail!("server unreachable: {e}"),
            Err(e) => bail!("cannot pick a model ({e}); pass --model"),
        },
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
        output::line(&format!(
            "probing {base} · model {model} · {endpoint} · max_tokens {} · {} request(s)",
            args.max_output_tokens, args.requests
        ));
    }

    let run_start = Instant::now();
    let run_start_unix_s = unix_now_s();
    let mut records = Vec::with_capacity(args.requests as usize);
    for id in 0..u64::from(args.requests) {
        let record = client.stream(&request, &mut NoGapSink).await;
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
        line.push_str(&format!("  finish {reason}"));
    }
    if let Some(error) = &row.error {
        line.push_str(&format!("  error: {error}"));
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

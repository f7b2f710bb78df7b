//! `probe`: a few streaming requests to one server, one after another, each turned into its
//! `requests.jsonl` row — "is this server healthy, and how fast is one stream?". A front end
//! starts a [`Probe`] (reachability, and the model when not given), calls [`Probe::send`]
//! per request and prints [`human_line`] per row and [`summary`] at the end (or the rows as
//! JSON). Every server-controlled string in the text is sanitised for a terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loadtest_client::{
    Client, ClientConfig, ClientError, Endpoint, NoGapSink, Prompt, RequestError, RequestRecord,
    StreamRequest,
};
use loadtest_run::RequestRow;

use crate::cancel::CancelToken;
use crate::rows::{RowContext, request_row, unix_now_s};

/// What a probe sends.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    /// The model; `None` takes the first of `GET /v1/models`.
    pub model: Option<String>,
    /// The prompt (a single user message for chat).
    pub prompt_text: String,
    /// Sent as `max_tokens`.
    pub max_output_tokens: u32,
    /// The endpoint streamed from.
    pub endpoint: Endpoint,
    /// Send `"ignore_eos": true` (vLLM).
    pub ignore_eos: bool,
}

/// Why a probe could not start. Failed requests are not errors: they are rows.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The client could not be built from its config (base URL, headers).
    #[error("invalid --base-url or --header: {0}")]
    Client(#[source] ClientError),
    /// Nothing answered at the base URL.
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// No model was given and `/v1/models` named none usable.
    #[error("cannot pick a model ({0}); pass --model")]
    NoModel(String),
    /// The request could not be built.
    #[error("invalid request: {0}")]
    Request(#[source] RequestError),
}

/// A probe that passed its preflight: the client, the resolved model, the request.
#[derive(Debug)]
pub struct Probe {
    client: Client,
    model: String,
    request: StreamRequest,
    max_output_tokens: u32,
    start: Instant,
    start_unix_s: f64,
}

impl Probe {
    /// Checks that the server answers and resolves the model; `Ok(None)` when `cancel` fired
    /// first (nothing was sent).
    pub async fn start(
        config: &ClientConfig,
        settings: &ProbeSettings,
        cancel: &CancelToken,
    ) -> Result<Option<Probe>, ProbeError> {
        let client = Client::new(config).map_err(ProbeError::Client)?;
        let preflight = async {
            match &settings.model {
                Some(model) => match client.get("/v1/models").await {
                    Err(e) if e.is_unreachable() => {
                        Err(ProbeError::Unreachable(clean(&e.to_string())))
                    }
                    _ => Ok(model.clone()),
                },
                None => client.first_model().await.map_err(|e| {
                    if e.is_unreachable() {
                        ProbeError::Unreachable(clean(&e.to_string()))
                    } else {
                        ProbeError::NoModel(clean(&e.to_string()))
                    }
                }),
            }
        };
        let model = tokio::select! {
            model = preflight => model?,
            () = cancel.cancelled() => return Ok(None),
        };
        let request = StreamRequest::new(
            settings.endpoint,
            Arc::from(model.as_str()),
            Prompt::text(&settings.prompt_text),
        )
        .map_err(ProbeError::Request)?
        .with_max_tokens(Some(settings.max_output_tokens))
        .with_ignore_eos(settings.ignore_eos);
        Ok(Some(Probe {
            client,
            model,
            request,
            max_output_tokens: settings.max_output_tokens,
            start: Instant::now(),
            start_unix_s: unix_now_s(),
        }))
    }

    /// `probing <url> · model <id> · <endpoint> · max_tokens N · K request(s)`, sanitised (the
    /// model id may come from the server).
    pub fn header(&self, requests: u32) -> String {
        format!(
            "probing {} · model {} · {} · max_tokens {} · {requests} request(s)",
            clean(self.client.base_url()),
            clean(&self.model),
            self.request.endpoint(),
            self.max_output_tokens,
        )
    }

    /// Sends request `id` and waits for its end (or `cancel`: the record is then `cancelled`).
    pub async fn send(&self, id: u64, cancel: &CancelToken) -> (RequestRecord, RequestRow) {
        let record = self
            .client
            .stream_until(&self.request, &mut NoGapSink, cancel.cancelled())
            .await;
        let mut ctx = RowContext::new(id, self.start, self.start_unix_s);
        ctx.max_tokens = Some(self.max_output_tokens);
        let row = request_row(&record, &ctx);
        (record, row)
    }
}

/// A server-controlled string (model id, `finish_reason`, error text) made safe for one
/// terminal line: control characters (escapes, BEL) become spaces, the length is bounded.
/// JSON rows need nothing more: JSON escapes every control character.
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

/// One row as a line of text: status, HTTP code, TTFT, e2e, TPOT, tokens, gaps, finish
/// reason and error (sanitised).
pub fn human_line(row: &RequestRow) -> String {
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

/// `summary: k/n ok · ttft mean … · tpot mean … · e2e mean … · <count> <status>…`.
pub fn summary(records: &[RequestRecord]) -> String {
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

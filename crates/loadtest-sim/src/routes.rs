//! Request routing and the handlers of every endpoint.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use crate::api_error::{ApiError, detail_body, json_string};
use crate::body::{EventStream, SimBody, StreamParts, StreamShape, collect};
use crate::chunks::{ChunkHead, FinishReason};
use crate::counts::Endpoint;
use crate::engine::Submission;
use crate::faults::{FaultKind, FaultPlan};
use crate::request::{self, Api};
use crate::seeded::{self, Stream, TokenText};
use crate::source::{Progress, Source};
use crate::state::Shared;
use crate::tap::ConnTap;
use crate::{MetricsFlavor, chunks, metrics};

/// Largest request body read (bigger ones get 413).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

const JSON: &str = "application/json";
const SSE: &str = "text/event-stream; charset=utf-8";

/// What a `/metrics` answer is when `--metrics-garbage` hits.
const GARBAGE: &[u8] = b"vllm:num_requests_running{engine=\"0\",model_name=\"x 1.0.0\n# TYPE\n\xff\xfe\x00{{{ not prometheus }}}\nvllm:generation_tokens_total NaN NaN NaN\n\x1b[31m<html>502 Bad Gateway</html>";

/// Serves one request; never fails (errors are HTTP answers).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    tap: Arc<ConnTap>,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, Infallible> {
    // When its bytes reached the socket, not when this task got to them (`loadtest_net`).
    let arrival = tap.arrival();
    let endpoint = classify(req.uri().path());
    shared.counts.received(endpoint);
    let method = req.method().clone();
    let allowed = match endpoint {
        Endpoint::ChatCompletions | Endpoint::Completions | Endpoint::SimTruthReset => {
            method == Method::POST
        }
        Endpoint::Other => true,
        _ => method == Method::GET || method == Method::HEAD,
    };
    let response = if !allowed {
        json(
            StatusCode::METHOD_NOT_ALLOWED,
            detail_body("Method Not Allowed"),
        )
    } else {
        match endpoint {
            Endpoint::ChatCompletions => generate(&shared, tap, Api::Chat, req, arrival).await,
            Endpoint::Completions => generate(&shared, tap, Api::Completions, req, arrival).await,
            Endpoint::Models => json(StatusCode::OK, models_body(&shared)),
            Endpoint::Version => json(
                StatusCode::OK,
                format!(
                    r#"{{"version":{}}}"#,
                    json_string(&shared.config.server_version)
                ),
            ),
            Endpoint::Health => with_type(StatusCode::OK, JSON, SimBody::Full(None)),
            Endpoint::Metrics => scrape(&shared).await,
            Endpoint::SimTruth => json(StatusCode::OK, truth_body(&shared, false)),
            Endpoint::SimTruthReset => json(StatusCode::OK, truth_body(&shared, true)),
            Endpoint::Other => json(StatusCode::NOT_FOUND, detail_body("Not Found")),
        }
    };
    shared.counts.answered(endpoint, response.status().as_u16());
    Ok(response)
}

fn classify(path: &str) -> Endpoint {
    Endpoint::ALL
        .into_iter()
        .find(|e| e.path() == path)
        .unwrap_or(Endpoint::Other)
}

fn with_type(status: StatusCode, content_type: &'static str, body: SimBody) -> Response<SimBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(status: StatusCode, body: String) -> Response<SimBody> {
    with_type(status, JSON, SimBody::full(body))
}

fn api_error(err: &ApiError) -> Response<SimBody> {
    json(err.status, err.body())
}

async fn generate(
    shared: &Arc<Shared>,
    tap: Arc<ConnTap>,
    api: Api,
    req: Request<Incoming>,
    arrival: Instant,
) -> Response<SimBody> {
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            tracing::debug!("request body not read: {err}");
            return json(
                StatusCode::PAYLOAD_TOO_LARGE,
                detail_body("Request body too large or unreadable"),
            );
        }
    };
    let c = &shared.config;
    let parsed = match request::parse(api, &body, &c.model, c.max_model_len, c.tokenizer.as_ref()) {
        Ok(parsed) => parsed,
        Err(err) => return api_error(&err),
    };
    let index = shared.next_request();
    shared.truth.request();
    let natural =
        (!parsed.ignore_eos).then(|| seeded::natural_length(c.seed, index, c.mean_output_tokens));
    let (target, reason) = match natural {
        Some(n) if n < parsed.max_tokens => (n, FinishReason::Stop),
        _ => (parsed.max_tokens, FinishReason::Length),
    };
    let per_chunk = u64::from(c.tokens_per_chunk);
    let events = target.div_ceil(per_chunk);
    let fault = FaultPlan::draw(&c.faults, c.seed, index, events);
    match fault {
        FaultPlan::Http500 => {
            shared.truth.fault(FaultKind::Http500);
            return api_error(&ApiError::injected_500());
        }
        FaultPlan::Http429 => {
            shared.truth.fault(FaultKind::Http429);
            return api_error(&ApiError::injected_429());
        }
        _ => {}
    }
    let mut source = match &shared.engine {
        Some(engine) => {
            let (tx, rx) = mpsc::unbounded_channel();
            let submitted = engine.submit(Submission {
                prompt_tokens: parsed.prompt_tokens,
                target,
                reason,
                tx,
            });
            if !submitted {
                return api_error(&ApiError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    message: "The engine is shutting down".to_owned(),
                    kind: "ServiceUnavailableError",
                    param: None,
                });
            }
            Source::Engine(rx)
        }
        None => Source::fixed(arrival, c.ttft, c.itl, target, per_chunk, reason),
    };
    let mut progress = Progress::new(
        Arc::clone(shared),
        arrival,
        parsed.prompt_tokens,
        parsed.max_tokens_param,
        parsed.max_tokens,
        shared.engine.is_none(),
    );
    let head = ChunkHead::new(
        api,
        seeded::mix(c.seed, Stream::Text, index.wrapping_add(1 << 40)),
        shared.now_unix_s(),
        &c.model,
        &shared.fingerprint,
        parsed.prompt_tokens,
        parsed.stream,
    );
    let mut text = TokenText::new(c.seed, index);
    if parsed.stream {
        let stream = EventStream::new(StreamParts {
            shared: Arc::clone(shared),
            head,
            shape: StreamShape {
                api,
                include_usage: parsed.include_usage,
                continuous_usage: parsed.continuous_usage,
            },
            tap,
            arrival,
            source,
            progress,
            text,
            fault,
        });
        return with_type(StatusCode::OK, SSE, SimBody::Stream(Box::new(stream)));
    }
    let stall = match fault {
        FaultPlan::Stall { .. } => {
            shared.truth.fault(FaultKind::Stall);
            Some(c.faults.stall)
        }
        _ => None,
    };
    let Some((out, reason)) = collect(&mut source, &mut progress, &mut text, stall).await else {
        return api_error(&ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "The engine stopped before the request finished".to_owned(),
            kind: "InternalServerError",
            param: None,
        });
    };
    let mut body = head.full_body(&out, reason, progress.generated());
    match fault {
        FaultPlan::Disconnect { .. } => {
            shared.truth.fault(FaultKind::Disconnect);
            return with_type(StatusCode::OK, JSON, SimBody::Fail);
        }
        FaultPlan::Malformed { .. } => {
            shared.truth.fault(FaultKind::Malformed);
            body = chunks::break_event(&body).trim_end().to_owned();
        }
        _ => {}
    }
    json(StatusCode::OK, body)
}

async fn scrape(shared: &Shared) -> Response<SimBody> {
    let c = &shared.config;
    if !c.faults.metrics_delay.is_zero() {
        tokio::time::sleep(c.faults.metrics_delay).await;
    }
    let content_type = match c.metrics_flavor {
        MetricsFlavor::V1 => "text/plain; version=1.0.0; charset=utf-8",
        MetricsFlavor::V0 | MetricsFlavor::Sglang => "text/plain; version=0.0.4; charset=utf-8",
    };
    let n = shared.next_scrape();
    let mut rng = seeded::rng(c.seed, Stream::Scrape, n);
    if seeded::unit(&mut rng) < c.faults.metrics_garbage {
        shared.truth.fault(FaultKind::MetricsGarbage);
        return with_type(
            StatusCode::OK,
            content_type,
            SimBody::full(Bytes::from_static(GARBAGE)),
        );
    }
    let text = metrics::render(&shared.metrics, c.metrics_flavor, &c.model);
    with_type(StatusCode::OK, content_type, SimBody::full(text))
}

fn models_body(shared: &Shared) -> String {
    let c = &shared.config;
    let created = shared.started_unix_s as u64;
    let model = json_string(&c.model);
    let root = json_string(&format!("/models/{}", c.model));
    format!(
        r#"{{"object":"list","data":[{{"id":{model},"object":"model","created":{created},"owned_by":"vllm","root":{root},"parent":null,"max_model_len":{},"permission":[{{"id":"modelperm-{:016x}","object":"model_permission","created":{created},"allow_create_engine":false,"allow_sampling":true,"allow_logprobs":true,"allow_search_indices":false,"allow_view":true,"allow_fine_tuning":false,"organization":"*","group":null,"is_blocking":false}}]}}]}}"#,
        c.max_model_len,
        seeded::mix(c.seed, Stream::Text, u64::MAX)
    )
}

fn truth_body(shared: &Shared, reset: bool) -> String {
    let snapshot = shared.truth.snapshot();
    if reset {
        shared.truth.reset();
    }
    serde_json::to_string(&snapshot).unwrap_or_else(|err| {
        tracing::error!("truth snapshot not serialized: {err}");
        "{}".to_owned()
    })
}

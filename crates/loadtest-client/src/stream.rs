//! One streaming request, measured: send it, read the head, then stamp every read of the body
//! and feed it to the [`StreamMeasurer`], racing the request's deadline and the caller's
//! cancellation at every await. The same steps for either transport ([`crate::transport`]).

use std::future::Future;
use std::time::{Duration, Instant};

use loadtest_run::Status;

use crate::client::Inner;
use crate::measure::{GapSink, Progress, StreamMeasurer};
use crate::record::{EventStamps, RequestRecord};
use crate::request::{Endpoint, StreamRequest};
use crate::response::{NotAStream, describe_encoded, describe_json_200, not_a_stream};
use crate::transport::{Failure, Next, ResponseBody};

/// After `[DONE]`, how long the rest of the body (normally just the chunked terminator) is
/// awaited so the connection can go back to the pool.
const DRAIN_AFTER_DONE: Duration = Duration::from_millis(250);

/// Sends `req` and measures its stream (see [`crate::Client::stream_until`]).
pub(crate) async fn stream<S, C>(
    inner: &Inner,
    req: &StreamRequest,
    sink: &mut S,
    cancel: C,
) -> RequestRecord
where
    S: GapSink + ?Sized,
    C: Future<Output = ()>,
{
    let uri = match req.endpoint() {
        Endpoint::Chat => &inner.chat_uri,
        Endpoint::Completions => &inner.completions_uri,
    };
    let body = req.body();

    let start = Instant::now();
    let deadline = tokio::time::sleep_until((start + inner.request_timeout).into());
    tokio::pin!(deadline);
    tokio::pin!(cancel);
    let timeout_text = || {
        format!(
            "no complete response within the {:.3} s deadline",
            inner.request_timeout.as_secs_f64()
        )
    };

    let response = tokio::select! {
        biased;
        () = &mut cancel => return RequestRecord::cancelled(start, Instant::now()),
        () = &mut deadline => {
            return RequestRecord::failed(start, Instant::now(), Status::Timeout, None, timeout_text());
        }
        r = inner.transport.post(req.endpoint(), uri, body) => r,
    };
    let mut response = match response {
        Ok(r) => r,
        Err(failure) => {
            let (status, text) = match failure {
                Failure::OutOfFds(text) => (Status::ClientError, text),
                Failure::Connect(text) => (Status::ConnectError, format!("cannot connect: {text}")),
                Failure::Transport(text) => (Status::StreamError, text),
            };
            return RequestRecord::failed(start, Instant::now(), status, None, text);
        }
    };
    let http_status = response.status;
    let body = &mut response.body;
    if !(200..300).contains(&http_status) {
        let message = tokio::select! {
            biased;
            () = &mut cancel => None,
            () = &mut deadline => None,
            m = crate::response::error_message(http_status, &response.headers, body) => Some(m),
        };
        let message = message.unwrap_or_else(|| "(error body not received)".to_owned());
        inner.transport.finish(response.body);
        return RequestRecord::failed(
            start,
            Instant::now(),
            Status::HttpError,
            Some(http_status),
            format!("HTTP {http_status}: {message}"),
        );
    }
    // A compressed body can never be read as SSE. A JSON content type is checked on the
    // first bytes: a body that starts with `{` is a whole answer or an error object (a
    // mislabelled stream still streams).
    let mut sniff_json = false;
    match not_a_stream(&response.headers) {
        Some(NotAStream::Encoded(encoding)) => {
            let message = describe_encoded(&encoding);
            let (now, status) = (Instant::now(), Status::StreamError);
            return RequestRecord::failed(start, now, status, Some(http_status), message);
        }
        Some(NotAStream::Json) => sniff_json = true,
        None => {}
    }

    let mut measurer = StreamMeasurer::new(start);
    let mut stamps = EventStamps::default();
    // The latest read's time: a stamp is never taken before it (nor before the start).
    let mut last_read = start;
    let mut record = loop {
        let next = tokio::select! {
            biased;
            () = &mut cancel => {
                break measurer.fail(Status::Cancelled, "cancelled by the caller", Instant::now());
            }
            () = &mut deadline => {
                break measurer.fail(Status::Timeout, &timeout_text(), Instant::now());
            }
            n = body.wait() => n,
        };
        let (now, kernel_stamped) = match next {
            Next::End => break measurer.finish(Instant::now()),
            Next::Error(text) => break measurer.fail(Status::StreamError, &text, Instant::now()),
            // The stamp every event of this read shares, taken before any parsing: when its
            // bytes arrived (the kernel's receive stamp), else now.
            Next::Data => {
                let (at, kernel) = body.arrival();
                last_read = at.max(last_read);
                (last_read, kernel)
            }
        };
        let events_before = measurer.token_events();
        let mut progress = Progress::Continue;
        let taken = if sniff_json {
            let mut head = Vec::new();
            let taken = body.take(&mut |b| head.extend_from_slice(b));
            if !head.is_empty() {
                sniff_json = false;
                if head.trim_ascii_start().starts_with(b"{") {
                    break json_instead_of_stream(body, head, start, &mut cancel, &mut deadline)
                        .await
                        .unwrap_or_else(|| {
                            measurer.fail(Status::Timeout, &timeout_text(), Instant::now())
                        });
                }
                // Not JSON after all: measured as any other read.
                progress = measurer.feed(&head, now, sink);
            }
            taken
        } else {
            body.take(&mut |bytes| {
                if progress == Progress::Continue {
                    progress = measurer.feed(bytes, now, sink);
                }
            })
        };
        stamps.count(measurer.token_events() - events_before, kernel_stamped);
        if let Err(text) = &taken
            && progress == Progress::Continue
        {
            break measurer.fail(Status::StreamError, text, now);
        }
        if settle(progress, taken, body, now).await {
            break measurer.finish(now);
        }
    };
    record.http_status = Some(http_status);
    record.stamps = stamps;
    inner.transport.finish(response.body);
    record
}

/// After a read was fed, whether the stream is over: `[DONE]` (the rest of the body is then
/// drained so the connection can be reused), a failure found in the bytes, or the body's end.
async fn settle(
    progress: Progress,
    taken: Result<bool, String>,
    body: &mut ResponseBody,
    now: Instant,
) -> bool {
    match (progress, taken) {
        (Progress::Done, Ok(false)) => {
            crate::response::drain(body, now + DRAIN_AFTER_DONE).await;
            true
        }
        (Progress::Continue, Ok(false)) => false,
        _ => true,
    }
}

/// A 2xx answer with a JSON content type whose body starts with `{`: reads the rest of it (up
/// to the error-body limit) and says what it was. `None` on the deadline.
async fn json_instead_of_stream<C>(
    body: &mut ResponseBody,
    mut head: Vec<u8>,
    start: Instant,
    cancel: &mut std::pin::Pin<&mut C>,
    deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>,
) -> Option<RequestRecord>
where
    C: Future<Output = ()>,
{
    let rest = tokio::select! {
        biased;
        () = cancel.as_mut() => return Some(RequestRecord::cancelled(start, Instant::now())),
        () = deadline.as_mut() => return None,
        rest = crate::response::read_head(body) => rest,
    };
    head.extend_from_slice(&rest.unwrap_or_default());
    let message = describe_json_200(&head);
    Some(RequestRecord::failed(
        start,
        Instant::now(),
        Status::StreamError,
        None,
        message,
    ))
}

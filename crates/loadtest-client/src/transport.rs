//! The two HTTP/1.1 paths behind one interface: hyper's pooled client (for `https://`, or
//! when asked for) and the client's own ([`crate::h1`], the default for `http://`). Both give
//! a [`Response`] whose body is read the same way: [`ResponseBody::wait`] until bytes arrive
//! (cancel-safe, so it can race a deadline), then [`ResponseBody::take`] hands them over.

use std::time::Instant;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::error::{error_chain, out_of_file_descriptors};
use crate::h1::head::RequestHead;
use crate::h1::{Native, NativeBody, SendError};
use crate::request::{Endpoint, PartsBody};

pub(crate) use crate::h1::Next;

/// hyper's pooled client over plain TCP or rustls.
pub(crate) type Http = HyperClient<HttpsConnector<HttpConnector>, PartsBody>;

/// How requests reach the server.
pub(crate) enum Transport {
    /// hyper's pooled client; `headers` go on every request.
    Hyper { http: Http, headers: HeaderMap },
    /// The client's own HTTP/1.1, with the fixed heads of the two streaming endpoints.
    Native {
        native: Native,
        chat: RequestHead,
        completions: RequestHead,
    },
}

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum Failure {
    /// No connection could be made (the transport's explanation).
    Connect(String),
    /// This process is out of file descriptors.
    OutOfFds(String),
    /// The connection failed after it was made.
    Transport(String),
}

/// A response head and its body, still to be read.
pub(crate) struct Response {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The headers.
    pub(crate) headers: HeaderMap,
    /// The body.
    pub(crate) body: ResponseBody,
}

impl Transport {
    /// Sends a streaming `POST` to `endpoint` (`uri` is its URL).
    pub(crate) async fn post(
        &self,
        endpoint: Endpoint,
        uri: &Uri,
        body: PartsBody,
    ) -> Result<Response, Failure> {
        match self {
            Transport::Hyper { http, headers } => {
                let mut request = Request::new(body);
                *request.method_mut() = Method::POST;
                *request.uri_mut() = uri.clone();
                let h = request.headers_mut();
                h.clone_from(headers);
                h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                h.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
                hyper_send(http, request).await
            }
            Transport::Native {
                native,
                chat,
                completions,
            } => {
                let head = match endpoint {
                    Endpoint::Chat => chat,
                    Endpoint::Completions => completions,
                };
                native_send(native, head, &body.parts()).await
            }
        }
    }

    /// Sends a `GET` to `uri` (already validated).
    pub(crate) async fn get(&self, uri: Uri) -> Result<Response, Failure> {
        match self {
            Transport::Hyper { http, headers } => {
                let mut request = Request::new(PartsBody::empty());
                *request.uri_mut() = uri;
                request.headers_mut().clone_from(headers);
                hyper_send(http, request).await
            }
            Transport::Native { native, .. } => {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                native_send(native, &native.head("GET", path), &[]).await
            }
        }
    }

    /// Ends a body: a native connection whose body was read to its end goes back to the
    /// pool (hyper does this itself).
    pub(crate) fn finish(&self, body: ResponseBody) {
        if let (Transport::Native { native, .. }, ResponseBody::Native(body)) = (self, body) {
            native.give_back(body);
        }
    }
}

async fn hyper_send(http: &Http, request: Request<PartsBody>) -> Result<Response, Failure> {
    match http.request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            Ok(Response {
                status: parts.status.as_u16(),
                headers: parts.headers,
                body: ResponseBody::Hyper {
                    body,
                    pending: None,
                },
            })
        }
        Err(e) if out_of_file_descriptors(&e) => Err(Failure::OutOfFds(error_chain(&e))),
        Err(e) if e.is_connect() => Err(Failure::Connect(error_chain(&e))),
        Err(e) => Err(Failure::Transport(error_chain(&e))),
    }
}

async fn native_send(
    native: &Native,
    head: &RequestHead,
    body: &[&[u8]],
) -> Result<Response, Failure> {
    match native.send(head, body).await {
        Ok((head, body)) => Ok(Response {
            status: head.status,
            headers: head.headers,
            body: ResponseBody::Native(body),
        }),
        Err(SendError::Connect(e)) if out_of_file_descriptors(&e) => {
            Err(Failure::OutOfFds(format!("cannot connect: {e}")))
        }
        Err(SendError::Connect(e)) => Err(Failure::Connect(e.to_string())),
        Err(SendError::Transport(text)) => Err(Failure::Transport(text)),
    }
}

/// A response body being read.
pub(crate) enum ResponseBody {
    /// From hyper: frames arrive over its channel; `pending` is the last one, not yet taken.
    Hyper {
        body: Incoming,
        pending: Option<Bytes>,
    },
    /// From the native transport: bytes are decoded in place.
    Native(NativeBody),
}

impl ResponseBody {
    /// Waits until body bytes arrive, the body ends or fails. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> Next {
        match self {
            ResponseBody::Hyper { body, pending } => {
                if pending.is_some() {
                    return Next::Data;
                }
                loop {
                    match body.frame().await {
                        None => return Next::End,
                        Some(Err(e)) => {
                            return Next::Error(format!(
                                "connection dropped mid-stream: {}",
                                error_chain(&e)
                            ));
                        }
                        Some(Ok(frame)) => {
                            // Trailers carry no data.
                            if let Ok(data) = frame.into_data() {
                                *pending = Some(data);
                                return Next::Data;
                            }
                        }
                    }
                }
            }
            ResponseBody::Native(body) => body.wait().await,
        }
    }

    /// When the bytes the last [`wait`](Self::wait) brought arrived, and whether that is the
    /// kernel's receive stamp (`true`: the native transport, stamps enabled) or the moment
    /// of this call (`false`: hyper hands frames over a channel, with no stamp).
    pub(crate) fn arrival(&self) -> (Instant, bool) {
        match self {
            ResponseBody::Hyper { .. } => (Instant::now(), false),
            ResponseBody::Native(body) => body.arrival(),
        }
    }

    /// Hands what the last [`wait`](Self::wait) brought to `data`; `Ok(true)` when the body
    /// is now complete (the native transport sees its end in the bytes; hyper's end comes
    /// from the next `wait`).
    pub(crate) fn take(&mut self, data: &mut dyn FnMut(&[u8])) -> Result<bool, String> {
        match self {
            ResponseBody::Hyper { pending, .. } => {
                if let Some(bytes) = pending.take() {
                    data(&bytes);
                }
                Ok(false)
            }
            ResponseBody::Native(body) => body.take(data),
        }
    }
}

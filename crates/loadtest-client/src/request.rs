//! What to send: [`Endpoint`], [`Prompt`], [`StreamRequest`], and the request body built from
//! them without copying the prompt.
//!
//! A [`Prompt`] is serialised to JSON once, when it is made, and held in a reference-counted
//! buffer: cloning it, or sending it a million times, never copies or re-escapes its text. Each
//! request's body is three buffers sent back to back: a small head (`{"model":…,`), the shared
//! prompt, and a small tail (`max_tokens`, `stream`, `stream_options`, extra fields).

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};

/// Which OpenAI endpoint to stream from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions` (legacy text completions).
    Completions,
}

impl Endpoint {
    /// The path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Chat => "/v1/chat/completions",
            Endpoint::Completions => "/v1/completions",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Endpoint::Chat => "chat",
            Endpoint::Completions => "completions",
        })
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, …
    pub role: String,
    /// The message text.
    pub content: String,
}

/// A prompt, serialised to JSON once and shared (cloning is a reference-count increment).
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    kind: PromptKind,
    /// A JSON string literal (text) or a JSON array (messages).
    json: Bytes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PromptKind {
    Text,
    Messages,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("kind", &self.kind)
            .field("json_bytes", &self.json.len())
            .finish()
    }
}

impl Prompt {
    /// A plain-text prompt: sent as `prompt` to completions, and as one `user` message to chat.
    pub fn text(text: &str) -> Self {
        Self {
            kind: PromptKind::Text,
            json: Bytes::from(json_string(text)),
        }
    }

    /// A list of chat messages (chat endpoint only).
    pub fn messages(messages: &[ChatMessage]) -> Self {
        Self {
            kind: PromptKind::Messages,
            json: Bytes::from(
                serde_json::Value::Array(
                    messages
                        .iter()
                        .map(|m| {
                            let mut o = serde_json::Map::new();
                            o.insert("role".into(), m.role.clone().into());
                            o.insert("content".into(), m.content.clone().into());
                            serde_json::Value::Object(o)
                        })
                        .collect(),
                )
                .to_string(),
            ),
        }
    }

    /// The text of a plain-text prompt (`None` for chat messages).
    pub fn as_text(&self) -> Option<String> {
        match self.kind {
            PromptKind::Text => serde_json::from_slice(&self.json).ok(),
            PromptKind::Messages => None,
        }
    }

    /// The contents of a chat-messages prompt, in order (`None` for a plain-text prompt).
    pub fn message_contents(&self) -> Option<Vec<String>> {
        match self.kind {
            PromptKind::Text => None,
            PromptKind::Messages => {
                let list: Vec<serde_json::Value> = serde_json::from_slice(&self.json).ok()?;
                list.iter()
                    .map(|m| m["content"].as_str().map(str::to_owned))
                    .collect()
            }
        }
    }

    /// The prompt as chat messages: a text prompt is one `user` message (what the chat
    /// endpoint is sent); a messages prompt its messages (a message without a string `role`
    /// or `content` is left out). What a multi-turn conversation starts from.
    pub fn chat_messages(&self) -> Vec<ChatMessage> {
        match self.kind {
            PromptKind::Text => vec![ChatMessage {
                role: "user".to_owned(),
                content: self.as_text().unwrap_or_default(),
            }],
            PromptKind::Messages => serde_json::from_slice::<Vec<serde_json::Value>>(&self.json)
                .unwrap_or_default()
                .iter()
                .filter_map(|m| {
                    Some(ChatMessage {
                        role: m["role"].as_str()?.to_owned(),
                        content: m["content"].as_str()?.to_owned(),
                    })
                })
                .collect(),
        }
    }

    /// Size of the serialised prompt in bytes.
    pub fn json_len(&self) -> usize {
        self.json.len()
    }
}

/// A JSON string literal for `text` (quotes and escapes included).
fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// Extra top-level fields merged into every request body (e.g. `temperature`), serialised
/// once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFields {
    /// `,"k":v,…` ready to splice before the closing brace.
    json: Bytes,
}

/// Body keys set by the client itself, which extra fields may not repeat.
pub const RESERVED_KEYS: [&str; 7] = [
    "model",
    "messages",
    "prompt",
    "max_tokens",
    "ignore_eos",
    "stream",
    "stream_options",
];

impl ExtraFields {
    /// Checks and serialises the fields.
    pub fn new(fields: &serde_json::Map<String, serde_json::Value>) -> Result<Self, RequestError> {
        let mut json = Vec::new();
        for (key, value) in fields {
            if RESERVED_KEYS.contains(&key.as_str()) {
                return Err(RequestError::ReservedKey { key: key.clone() });
            }
            json.push(b',');
            json.extend_from_slice(json_string(key).as_bytes());
            json.push(b':');
            json.extend_from_slice(value.to_string().as_bytes());
        }
        Ok(Self {
            json: Bytes::from(json),
        })
    }
}

/// A request that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `/v1/completions` takes a text prompt, not chat messages.
    #[error("the completions endpoint takes a text prompt, not chat messages")]
    MessagesOnCompletions,
    /// An extra field repeats a key the client sets itself.
    #[error("extra body field {key:?} is set by the client itself (reserved: {RESERVED_KEYS:?})")]
    ReservedKey {
        /// The offending key.
        key: String,
    },
}

/// One streaming request: cheap to clone (the model and prompt are shared).
///
/// The body always has `"stream": true` and
/// `"stream_options": {"include_usage": true, "continuous_usage_stats": false}`.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    endpoint: Endpoint,
    model: Arc<str>,
    prompt: Prompt,
    max_tokens: Option<u32>,
    ignore_eos: bool,
    extra: Option<ExtraFields>,
}

impl StreamRequest {
    /// A request to `endpoint` for `model`.
    pub fn new(endpoint: Endpoint, model: Arc<str>, prompt: Prompt) -> Result<Self, RequestError> {
        if endpoint == Endpoint::Completions && prompt.kind == PromptKind::Messages {
            return Err(RequestError::MessagesOnCompletions);
        }
        Ok(Self {
            endpoint,
            model,
            prompt,
            max_tokens: None,
            ignore_eos: false,
            extra: None,
        })
    }

    /// Sets `max_tokens` (left out of the body when `None`).
    pub fn with_max_tokens(mut self, max_tokens: Option<u32>) -> Self {
        self.max_tokens = max_tokens;
        self
    }

    /// Sends `"ignore_eos": true` (a vLLM extension that forces exact output lengths) when
    /// set; the field is left out otherwise.
    pub fn with_ignore_eos(mut self, ignore_eos: bool) -> Self {
        self.ignore_eos = ignore_eos;
        self
    }

    /// Adds extra body fields.
    pub fn with_extra(mut self, extra: ExtraFields) -> Self {
        self.extra = Some(extra);
        self
    }

    /// The endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// The model name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// `max_tokens`, when set.
    pub fn max_tokens(&self) -> Option<u32> {
        self.max_tokens
    }

    /// The request body as three shared buffers (head, prompt, tail).
    pub(crate) fn body(&self) -> PartsBody {
        let mut head = Vec::with_capacity(self.model.len() + 48);
        head.extend_from_slice(b"{\"model\":");
        head.extend_from_slice(json_string(&self.model).as_bytes());
        match (self.endpoint, self.prompt.kind) {
            (Endpoint::Chat, PromptKind::Text) => {
                head.extend_from_slice(b",\"messages\":[{\"role\":\"user\",\"content\":");
            }
            (Endpoint::Chat, PromptKind::Messages) => head.extend_from_slice(b",\"messages\":"),
            // Messages on completions are refused by `new`.
            (Endpoint::Completions, _) => head.extend_from_slice(b",\"prompt\":"),
        }
        let mut tail = Vec::with_capacity(128);
        if self.endpoint == Endpoint::Chat && self.prompt.kind == PromptKind::Text {
            tail.extend_from_slice(b"}]");
        }
        if let Some(n) = self.max_tokens {
            tail.extend_from_slice(format!(",\"max_tokens\":{n}").as_bytes());
        }
        if self.ignore_eos {
            tail.extend_from_slice(b",\"ignore_eos\":true");
        }
        tail.extend_from_slice(
            b",\"stream\":true,\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":false}",
        );
        if let Some(extra) = &self.extra {
            tail.extend_from_slice(&extra.json);
        }
        tail.push(b'}');
        PartsBody::new([
            Bytes::from(head),
            self.prompt.json.clone(),
            Bytes::from(tail),
        ])
    }
}

/// A request body made of a few shared buffers, sent in order.
#[derive(Debug, Default)]
pub(crate) struct PartsBody {
    parts: [Bytes; 3],
    next: usize,
}

impl PartsBody {
    pub(crate) fn new(parts: [Bytes; 3]) -> Self {
        Self { parts, next: 0 }
    }

    pub(crate) fn empty() -> Self {
        Self::default()
    }

    /// The parts, in order (for a transport that writes them itself).
    pub(crate) fn parts(&self) -> [&[u8]; 3] {
        [&self.parts[0], &self.parts[1], &self.parts[2]]
    }

    fn remaining(&self) -> u64 {
        self.parts[self.next.min(3)..]
            .iter()
            .map(|p| p.len() as u64)
            .sum()
    }

    /// The whole body in one buffer (tests and debugging).
    #[cfg(test)]
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        self.parts.iter().flat_map(|p| p.iter().copied()).collect()
    }
}

impl Body for PartsBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        while let Some(part) = this.parts.get_mut(this.next) {
            let part = std::mem::take(part);
            this.next += 1;
            if !part.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(part))));
            }
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(req: &StreamRequest) -> serde_json::Value {
        serde_json::from_slice(&req.body().to_vec()).unwrap()
    }

    #[test]
    fn chat_text_body() {
        let req = StreamRequest::new(
            Endpoint::Chat,
            "m\"x".into(),
            Prompt::text("hi \"there\"\n"),
        )
        .unwrap()
        .with_max_tokens(Some(16))
        .with_ignore_eos(true);
        let v = body_json(&req);
        assert_eq!(
            v,
            serde_json::json!({
                "model": "m\"x",
                "messages": [{"role": "user", "content": "hi \"there\"\n"}],
                "max_tokens": 16,
                "ignore_eos": true,
                "stream": true,
                "stream_options": {"include_usage": true, "continuous_usage_stats": false}
            })
        );
    }

    #[test]
    fn completions_and_messages_and_extra() {
        let mut extra = serde_json::Map::new();
        extra.insert("temperature".into(), serde_json::json!(0.5));
        let req = StreamRequest::new(Endpoint::Completions, "m".into(), Prompt::text("p"))
            .unwrap()
            .with_extra(ExtraFields::new(&extra).unwrap());
        let v = body_json(&req);
        assert_eq!(v["prompt"], "p");
        assert_eq!(v["temperature"], 0.5);
        assert!(v.get("max_tokens").is_none());
        assert!(v.get("ignore_eos").is_none());

        let msgs = [ChatMessage {
            role: "system".into(),
            content: "be brief".into(),
        }];
        let req = StreamRequest::new(Endpoint::Chat, "m".into(), Prompt::messages(&msgs)).unwrap();
        assert_eq!(body_json(&req)["messages"][0]["role"], "system");
        assert_eq!(
            StreamRequest::new(Endpoint::Completions, "m".into(), Prompt::messages(&msgs))
                .unwrap_err(),
            RequestError::MessagesOnCompletions
        );
        extra.insert("stream".into(), serde_json::json!(false));
        assert!(matches!(
            ExtraFields::new(&extra),
            Err(RequestError::ReservedKey { .. })
        ));
    }

    #[test]
    fn size_hint_is_exact() {
        let req = StreamRequest::new(Endpoint::Chat, "m".into(), Prompt::text("abc")).unwrap();
        let body = req.body();
        assert_eq!(body.size_hint().exact(), Some(body.to_vec().len() as u64));
    }
}

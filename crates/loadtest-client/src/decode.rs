//! Decoding of OpenAI-style streaming chunks (`/v1/chat/completions` and `/v1/completions`),
//! reading only the fields a timing record needs.
//!
//! vLLM's chunk for a plain token (its exact layout, strings without escapes) is recognised
//! without the JSON parser, with the same answer (a private fast path, held to serde_json's
//! reading by proptests and the `chunk_decode` fuzz target). For every other chunk, every
//! field but the few read (ids, logprobs, token ids, llama.cpp `timings`, …) is skipped by the
//! JSON scanner without being built; strings are inspected without allocating (only "is it
//! non-empty?" is asked of `content`), so decoding a chunk allocates nothing except a
//! `finish_reason` once per request and the message of an error event.
//!
//! A chunk is a **token event** when any choice carries non-empty `delta.content`,
//! `delta.reasoning`, `delta.reasoning_content` or `delta.tool_calls` (chat), or non-empty
//! `text` (completions). The role-only chunk (`{"role":"assistant","content":""}`) is not.
//!
//! ```
//! use loadtest_client::decode::{decode_chunk, ChunkKind};
//!
//! let role = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#;
//! let token = r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#;
//! let usage = r#"{"choices":[],"usage":{"prompt_tokens":27,"completion_tokens":1,"total_tokens":28}}"#;
//!
//! let ChunkKind::Chunk(c) = decode_chunk(role)? else { unreachable!() };
//! assert!(!c.is_token);
//! let ChunkKind::Chunk(c) = decode_chunk(token)? else { unreachable!() };
//! assert!(c.is_token);
//! assert_eq!(c.finish_reason.as_deref(), Some("stop"));
//! let ChunkKind::Chunk(c) = decode_chunk(usage)? else { unreachable!() };
//! assert_eq!(c.usage.and_then(|u| u.completion_tokens), Some(1));
//! assert!(matches!(decode_chunk("[DONE]")?, ChunkKind::Done));
//! # Ok::<(), loadtest_client::decode::DecodeError>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

mod fast;

/// What one SSE `data` payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkKind<'a> {
    /// The `[DONE]` sentinel.
    Done,
    /// A JSON chunk.
    Chunk(Chunk<'a>),
    /// A chunk with a truthy `error` field (vLLM's mid-stream error, or any server's): the
    /// request failed. Holds the error's `message` (or the error value as text).
    Error(String),
}

/// The fields of one chunk that matter for timing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Any choice carried generated output (see the module doc).
    pub is_token: bool,
    /// How many entries `choices` had (0 for the usage chunk).
    pub choices: usize,
    /// The first non-null `finish_reason` among the choices.
    pub finish_reason: Option<Cow<'a, str>>,
    /// The chunk's `usage`, when present and not null.
    pub usage: Option<Usage>,
}

/// The largest token count believed from a server's `usage` (10 million: more than any
/// context window); a count above it is treated as invalid.
pub const MAX_USAGE_TOKENS: u64 = 10_000_000;

/// Token counts from a server's `usage` object. Fields the server left out or set to null are
/// `None`: never guessed.
///
/// A count that is not an integer in `0..=`[`MAX_USAGE_TOKENS`] (negative, fractional, huge,
/// a string, …) is `None` too, and sets [`invalid`](Self::invalid): an absurd value never
/// fails the stream nor reaches a throughput. So does a `usage` that is not an object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: Option<u64>,
    /// `usage.completion_tokens`. (The [`StreamMeasurer`](crate::measure::StreamMeasurer)
    /// replaces an invalid one by the counted token events, and keeps `invalid` set.)
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens` (vLLM sends it only with
    /// `--enable-prompt-tokens-details`).
    pub cached_tokens: Option<u64>,
    /// The server sent a count (or a `usage`) that is not believable; see the type's doc.
    pub invalid: bool,
}

impl<'de> Deserialize<'de> for Usage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectOr::<Usage>(std::marker::PhantomData))
    }
}

impl FromObject for Usage {
    const NULL: Self = Usage {
        prompt_tokens: None,
        completion_tokens: None,
        cached_tokens: None,
        invalid: false,
    };
    const OTHER: Self = Usage {
        invalid: true,
        ..Self::NULL
    };

    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            prompt_tokens: Count,
            #[serde(default)]
            completion_tokens: Count,
            #[serde(default, rename = "prompt_tokens_details")]
            details: Details,
        }
        let raw = Raw::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let counts = [raw.prompt_tokens, raw.completion_tokens, raw.details.0];
        Ok(Usage {
            prompt_tokens: raw.prompt_tokens.valid(),
            completion_tokens: raw.completion_tokens.valid(),
            cached_tokens: raw.details.0.valid(),
            invalid: counts.contains(&Count::Invalid),
        })
    }
}

/// `usage.prompt_tokens_details`: only its `cached_tokens`.
#[derive(Default)]
struct Details(Count);

impl<'de> Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectOr::<Details>(std::marker::PhantomData))
    }
}

impl FromObject for Details {
    const NULL: Self = Details(Count::Absent);
    const OTHER: Self = Details(Count::Invalid);

    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            cached_tokens: Count,
        }
        let raw = Raw::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Details(raw.cached_tokens))
    }
}

/// A value read from a JSON object, with stand-ins for null and for any other JSON value.
trait FromObject: Sized {
    const NULL: Self;
    const OTHER: Self;
    fn from_object<'de, A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Reads a [`FromObject`] from any JSON value (a non-object is skipped whole).
struct ObjectOr<T>(std::marker::PhantomData<T>);

impl<'de, T: FromObject> Visitor<'de> for ObjectOr<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_object(map)
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::NULL)
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        Ok(T::NULL)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
        Ok(T::OTHER)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(T::OTHER)
    }
}

/// One token count of a `usage`, read from any JSON value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Count {
    /// Absent or null.
    #[default]
    Absent,
    Valid(u64),
    /// Any other value.
    Invalid,
}

impl Count {
    fn valid(self) -> Option<u64> {
        match self {
            Count::Valid(n) => Some(n),
            Count::Absent | Count::Invalid => None,
        }
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a token count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(if v <= MAX_USAGE_TOKENS {
                    Count::Valid(v)
                } else {
                    Count::Invalid
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Ok(Count::Invalid),
                }
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Count, E> {
                // serde_json hands integers as u64/i64: a float is fractional or has an
                // exponent ("16.5", "1e3"), not a count.
                Ok(Count::Invalid)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count::Absent)
            }
            fn visit_none<E: de::Error>(self) -> Result<Count, E> {
                Ok(Count::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Count, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Count, E> {
                Ok(Count::Invalid)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Count, E> {
                Ok(Count::Invalid)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Count::Invalid)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Count::Invalid)
            }
        }
        d.deserialize_any(V)
    }
}

/// A chunk that is not JSON of the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("invalid JSON chunk: {source}")]
pub struct DecodeError {
    #[from]
    source: serde_json::Error,
}

/// Decodes one SSE `data` payload. vLLM's plain token chunk is recognised without the JSON
/// parser (`fast`, the same answer); everything else is read by serde_json.
pub fn decode_chunk(data: &str) -> Result<ChunkKind<'_>, DecodeError> {
    if data.trim_ascii() == "[DONE]" {
        return Ok(ChunkKind::Done);
    }
    if let Some(chunk) = fast::vllm_chat_token(data) {
        return Ok(ChunkKind::Chunk(chunk));
    }
    decode_json(data)
}

/// For the fuzz target: whether the fast path, where it accepts `data`, gives what serde_json
/// gives. Not part of the API.
#[doc(hidden)]
pub fn fuzz_fast_path_agrees(data: &str) -> bool {
    fast::vllm_chat_token(data)
        .is_none_or(|fast| matches!(decode_json(data), Ok(ChunkKind::Chunk(slow)) if slow == fast))
}

/// [`decode_chunk`] by serde_json.
fn decode_json(data: &str) -> Result<ChunkKind<'_>, DecodeError> {
    let raw: RawChunk<'_> = serde_json::from_str(data)?;
    if let Some(error) = raw.error
        && error.is_truthy()
    {
        return Ok(ChunkKind::Error(error.message()));
    }
    let choices = raw.choices;
    Ok(ChunkKind::Chunk(Chunk {
        is_token: choices.is_token,
        choices: choices.count,
        finish_reason: choices.finish_reason,
        usage: raw.usage,
    }))
}

/// Extracts a human message from an error payload: `error.message`, `message`, `detail`, or
/// the text itself when it is not JSON. Not sanitised (see [`crate::record::sanitize_error`]).
pub fn error_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.to_owned();
    };
    let from = |v: &serde_json::Value| -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    value
        .get("error")
        .and_then(|e| e.get("message").and_then(from).or_else(|| from(e)))
        .or_else(|| value.get("message").and_then(from))
        .or_else(|| value.get("detail").and_then(from))
        .unwrap_or_else(|| body.to_owned())
}

#[derive(Deserialize)]
struct RawChunk<'a> {
    /// Absent or null: no choices.
    #[serde(default, borrow)]
    choices: Choices<'a>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<ErrorField>,
}

/// The error field kept as a JSON value: it is rare, and its shape varies by server.
struct ErrorField(serde_json::Value);

impl<'de> Deserialize<'de> for ErrorField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(ErrorField)
    }
}

impl ErrorField {
    /// The OpenAI SDK's rule: an `error` key that is truthy.
    fn is_truthy(&self) -> bool {
        match &self.0 {
            serde_json::Value::Null | serde_json::Value::Bool(false) => false,
            serde_json::Value::String(s) => !s.is_empty(),
            serde_json::Value::Object(m) => !m.is_empty(),
            serde_json::Value::Array(a) => !a.is_empty(),
            serde_json::Value::Number(_) | serde_json::Value::Bool(true) => true,
        }
    }

    fn message(&self) -> String {
        match &self.0 {
            serde_json::Value::String(s) => s.clone(),
            v => match v.get("message") {
                Some(serde_json::Value::String(s)) => s.clone(),
                _ => v.to_string(),
            },
        }
    }
}

/// `choices` folded while it is read: no Vec.
#[derive(Default)]
struct Choices<'a> {
    count: usize,
    is_token: bool,
    finish_reason: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Choices<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Choices<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of choices")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Choices::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Choices::default();
                while let Some(choice) = seq.next_element::<Choice<'a>>()? {
                    out.count += 1;
                    out.is_token |= choice.is_token();
                    if out.finish_reason.is_none() {
                        out.finish_reason = choice.finish_reason;
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    text: Option<NonEmpty>,
    #[serde(default, borrow)]
    finish_reason: Option<Cow<'a, str>>,
}

impl Choice<'_> {
    fn is_token(&self) -> bool {
        self.text.is_some_and(|t| t.0) || self.delta.is_some_and(|d| d.is_token())
    }
}

#[derive(Deserialize, Clone, Copy)]
struct Delta {
    #[serde(default)]
    content: Option<NonEmpty>,
    #[serde(default)]
    reasoning: Option<NonEmpty>,
    #[serde(default)]
    reasoning_content: Option<NonEmpty>,
    #[serde(default)]
    tool_calls: Option<NonEmpty>,
}

impl Delta {
    fn is_token(self) -> bool {
        [
            self.content,
            self.reasoning,
            self.reasoning_content,
            self.tool_calls,
        ]
        .into_iter()
        .any(|f| f.is_some_and(|v| v.0))
    }
}

/// Whether a string or array value is non-empty, read without allocating.
#[derive(Clone, Copy)]
struct NonEmpty(bool);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, an array or null")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NonEmpty, E> {
                Ok(NonEmpty(!v.is_empty()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<NonEmpty, E> {
                Ok(NonEmpty(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NonEmpty, A::Error> {
                let mut any = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(NonEmpty(any))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NonEmpty, A::Error> {
                let mut any = false;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    any = true;
                }
                Ok(NonEmpty(any))
            }
        }
        d.deserialize_any(V)
    }
}

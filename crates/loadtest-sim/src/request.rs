//! Parsing and validating a generation request body the way vLLM does, as far as a load
//! test can tell.

use serde_json::{Map, Value};

use crate::api_error::ApiError;
use crate::tokens::SimTokenizer;

/// Which OpenAI endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/completions`.
    Completions,
}

/// What the simulator needs from a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GenRequest {
    /// Endpoint.
    pub(crate) api: Api,
    /// Prompt length: whitespace-separated words (at least 1).
    pub(crate) prompt_tokens: u64,
    /// `max_completion_tokens` or `max_tokens` as sent.
    pub(crate) max_tokens_param: Option<u64>,
    /// Output cap after clamping to the context: `min(param, max_model_len - prompt)`.
    pub(crate) max_tokens: u64,
    /// `stream`.
    pub(crate) stream: bool,
    /// `stream_options.include_usage` (true once `stream_options` is present).
    pub(crate) include_usage: bool,
    /// `stream_options.continuous_usage_stats` (only with `include_usage`).
    pub(crate) continuous_usage: bool,
    /// `ignore_eos`.
    pub(crate) ignore_eos: bool,
}

/// Parses `body` for `api`, checking it against the served `model` and `max_model_len`.
pub(crate) fn parse(
    api: Api,
    body: &[u8],
    model: &str,
    max_model_len: u64,
    tokenizer: Option<&SimTokenizer>,
) -> Result<GenRequest, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        let offset = byte_offset(body, err.line(), err.column());
        ApiError {
            param: Some(format!("body.{offset}")),
            ..ApiError::validation(
                "json_invalid",
                &format!("body.{offset}"),
                "JSON decode error",
                "<dict of 0 items>",
            )
        }
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::validation(
            "model_attributes_type",
            "body",
            "Input should be a valid dictionary or object to extract fields from",
            "<not an object>",
        ));
    };
    if let Some(asked) = obj.get("model") {
        match asked {
            Value::String(name) if name == model => {}
            Value::String(name) => return Err(ApiError::unknown_model(name, model)),
            Value::Null => {}
            _ => return Err(type_error("body.model", "string_type", "a valid string")),
        }
    }
    // Chat contents are counted without special tokens (the template would add its own);
    // a completions prompt with them, as vLLM counts it.
    let content =
        |text: &str| tokenizer.map_or_else(|| count_words(text), |t| t.count(text, false));
    let whole = |text: &str| tokenizer.map_or_else(|| count_words(text), |t| t.count(text, true));
    let prompt_words = match api {
        Api::Chat => chat_prompt_words(&obj, &content)?,
        Api::Completions => completion_prompt_words(&obj, &whole)?,
    };
    let prompt_tokens = prompt_words.max(1);
    let stream = flag(&obj, "stream")?;
    let ignore_eos = flag(&obj, "ignore_eos")?;
    if let Some(n) = obj.get("n")
        && !(n.is_null() || n.as_u64() == Some(1))
    {
        return Err(ApiError::bad_request(
            "the simulator serves only n=1".to_owned(),
            Some("n"),
        ));
    }
    let (include_usage, continuous_usage) = match obj.get("stream_options") {
        None | Some(Value::Null) => (false, false),
        Some(Value::Object(opts)) => {
            if !stream {
                return Err(ApiError::bad_request(
                    "Stream options can only be defined when `stream=True`.".to_owned(),
                    None,
                ));
            }
            let include = optional_flag(opts, "include_usage", "body.stream_options")?;
            let continuous = optional_flag(opts, "continuous_usage_stats", "body.stream_options")?;
            let include = include.unwrap_or(true);
            (include, include && continuous.unwrap_or(false))
        }
        Some(_) => {
            return Err(type_error(
                "body.stream_options",
                "model_type",
                "a valid dictionary",
            ));
        }
    };
    let completion_param = max_tokens_field(&obj, "max_completion_tokens")?;
    let tokens_param = max_tokens_field(&obj, "max_tokens")?;
    let (max_tokens_param, param_name) = match (api, completion_param) {
        (Api::Chat, Some(v)) => (Some(v), "max_completion_tokens"),
        _ => (tokens_param, "max_tokens"),
    };
    if let Some(asked) = max_tokens_param
        && asked > max_model_len
    {
        return Err(ApiError::bad_request(
            format!(
                "{param_name}={asked} cannot be greater than max_model_len={max_model_len}. \
                 Please request fewer output tokens. (parameter={param_name}, value={asked})"
            ),
            Some(param_name),
        ));
    }
    if prompt_tokens >= max_model_len {
        return Err(ApiError::bad_request(
            format!(
                "This model's maximum context length is {max_model_len} tokens. However, your \
                 prompt contains at least {} input tokens, which exceeds this limit even \
                 without any output tokens. Please reduce the length of the input prompt. \
                 (parameter=input_tokens, value={})",
                prompt_tokens.max(max_model_len + 1),
                prompt_tokens.max(max_model_len + 1)
            ),
            Some("input_tokens"),
        ));
    }
    let room = max_model_len - prompt_tokens;
    let max_tokens = max_tokens_param.map_or(room, |asked| asked.min(room));
    Ok(GenRequest {
        api,
        prompt_tokens,
        max_tokens_param,
        max_tokens,
        stream,
        include_usage: stream && include_usage,
        continuous_usage: stream && continuous_usage,
        ignore_eos,
    })
}

/// Words in every message's content (strings, or `text` parts of a content array).
fn chat_prompt_words(
    obj: &Map<String, Value>,
    count: &dyn Fn(&str) -> u64,
) -> Result<u64, ApiError> {
    let messages = match obj.get("messages") {
        None => {
            return Err(ApiError::validation(
                "missing",
                "body.messages",
                "Field required",
                &format!("<dict of {} items>", obj.len()),
            ));
        }
        Some(Value::Array(messages)) => messages,
        Some(_) => return Err(type_error("body.messages", "list_type", "a valid list")),
    };
    let mut words = 0u64;
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(message) = message else {
            return Err(type_error(
                &format!("body.messages.{i}"),
                "model_type",
                "a valid dictionary",
            ));
        };
        match message.get("content") {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => words += count(text),
            Some(Value::Array(parts)) => {
                for part in parts {
                    if let Some(Value::String(text)) = part.get("text") {
                        words += count(text);
                    }
                }
            }
            Some(_) => {
                return Err(type_error(
                    &format!("body.messages.{i}.content"),
                    "string_type",
                    "a valid string",
                ));
            }
        }
    }
    Ok(words)
}

/// Words of a string prompt, of every string in a list, or the length of token-id lists.
fn completion_prompt_words(
    obj: &Map<String, Value>,
    count: &dyn Fn(&str) -> u64,
) -> Result<u64, ApiError> {
    let missing = || {
        ApiError::validation(
            "missing",
            "body.prompt",
            "Field required",
            &format!("<dict of {} items>", obj.len()),
        )
    };
    match obj.get("prompt") {
        None | Some(Value::Null) => Err(missing()),
        Some(Value::String(text)) => Ok(count(text)),
        Some(Value::Array(items)) => {
            let mut words = 0u64;
            for item in items {
                words += match item {
                    Value::String(text) => count(text),
                    Value::Number(_) => 1,
                    Value::Array(ids) => ids.len() as u64,
                    _ => return Err(type_error("body.prompt", "string_type", "a valid string")),
                };
            }
            Ok(words)
        }
        Some(_) => Err(type_error("body.prompt", "string_type", "a valid string")),
    }
}

/// The prompt-size rule shared with the tool's synthetic prompts.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

fn flag(obj: &Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    Ok(optional_flag(obj, key, "body")?.unwrap_or(false))
}

fn optional_flag(obj: &Map<String, Value>, key: &str, at: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(type_error(
            &format!("{at}.{key}"),
            "bool_type",
            "a valid boolean",
        )),
    }
}

fn max_tokens_field(obj: &Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(0) | None => Err(ApiError::bad_request(
                format!("{key} must be at least 1, got {v}."),
                Some(key),
            )),
            Some(n) => Ok(Some(n)),
        },
    }
}

fn type_error(loc: &str, kind: &str, what: &str) -> ApiError {
    ApiError::validation(kind, loc, &format!("Input should be {what}"), "<value>")
}

/// Byte offset of serde_json's (1-based line, column) position.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in body.split(|&b| b == b'\n').enumerate() {
        if i + 1 == line {
            return offset + column;
        }
        offset += l.len() + 1;
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/vllm-0.32.0");

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIX}/{name}")).unwrap()
    }

    #[test]
    fn chat_request_from_the_capture() {
        let r = parse(
            Api::Chat,
            &read("requests/sse_chat_continuous_usage.json"),
            "tiny-llama",
            2048,
            None,
        )
        .unwrap();
        assert_eq!(r.prompt_tokens, 6);
        assert_eq!(r.max_tokens, 16);
        assert!(r.stream && r.include_usage && r.continuous_usage && !r.ignore_eos);
    }

    #[test]
    fn error_bodies_match_the_capture() {
        for (req, resp, api) in [
            (
                "err_max_tokens_too_large.json",
                "err_max_tokens_too_large.json",
                Api::Chat,
            ),
            (
                "err_missing_messages.json",
                "err_missing_messages.json",
                Api::Chat,
            ),
            (
                "err_unknown_model.json",
                "err_unknown_model.json",
                Api::Chat,
            ),
        ] {
            let err = parse(
                api,
                &read(&format!("requests/{req}")),
                "tiny-llama",
                2048,
                None,
            )
            .unwrap_err();
            let want = String::from_utf8(read(resp)).unwrap();
            assert_eq!(err.body(), want.trim_end(), "{req}");
        }
    }

    #[test]
    fn counts_tokens_with_a_tokenizer() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/tiny-llama-tokenizer");
        let t = SimTokenizer::load(&dir).unwrap();
        let text = "Write a haiku about load testing, please: tokenizers.";
        let body = format!(r#"{{"prompt":"{text}","max_tokens":5}}"#);
        let r = parse(Api::Completions, body.as_bytes(), "m", 2048, Some(&t)).unwrap();
        assert_eq!(r.prompt_tokens, t.count(text, true));
        let words = parse(Api::Completions, body.as_bytes(), "m", 2048, None).unwrap();
        assert_eq!(words.prompt_tokens, 8);
        assert_ne!(r.prompt_tokens, words.prompt_tokens);
        let chat = format!(
            r#"{{"messages":[{{"role":"user","content":"{text}"}},{{"role":"user","content":"x"}}]}}"#
        );
        let r = parse(Api::Chat, chat.as_bytes(), "m", 2048, Some(&t)).unwrap();
        assert_eq!(r.prompt_tokens, t.count(text, false) + t.count("x", false));
    }

    #[test]
    fn malformed_and_too_long() {
        let err = parse(
            Api::Chat,
            &read("requests/err_malformed_json.body"),
            "tiny-llama",
            2048,
            None,
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("json_invalid"));
        let err = parse(
            Api::Chat,
            &read("requests/err_prompt_too_long.json"),
            "tiny-llama",
            2048,
            None,
        )
        .unwrap_err();
        let want: Value = serde_json::from_slice(&read("err_prompt_too_long.json")).unwrap();
        let got: Value = serde_json::from_str(&err.body()).unwrap();
        assert_eq!(got["error"]["type"], want["error"]["type"]);
        assert_eq!(got["error"]["param"], want["error"]["param"]);
    }

    #[test]
    fn clamps_and_options() {
        let body = br#"{"prompt":"a b c","max_tokens":49,"stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true},"ignore_eos":true}"#;
        let r = parse(Api::Completions, body, "m", 50, None).unwrap();
        assert_eq!((r.prompt_tokens, r.max_tokens), (3, 47));
        assert!(!r.include_usage && !r.continuous_usage && r.ignore_eos);
        let r = parse(Api::Chat, br#"{"messages":[{"role":"user","content":[{"type":"text","text":"x y"}]}],"max_completion_tokens":5,"max_tokens":9}"#, "m", 50, None).unwrap();
        assert_eq!((r.prompt_tokens, r.max_tokens, r.stream), (2, 5, false));
        let err = parse(
            Api::Chat,
            br#"{"messages":[],"stream_options":{}}"#,
            "m",
            50,
            None,
        )
        .unwrap_err();
        assert_eq!(err.status, 400);
        for bad in [
            &br#"[1]"#[..],
            br#"{"messages":"x"}"#,
            br#"{"messages":[],"max_tokens":0}"#,
            br#"{"messages":[],"stream":"yes"}"#,
            b"\xff\xfe",
        ] {
            assert_eq!(
                parse(Api::Chat, bad, "m", 50, None).unwrap_err().status,
                400
            );
        }
    }
}

//! The JSON vLLM 0.32 sends, key for key: stream events, the usage event and whole bodies.

use std::fmt::Write as _;

use crate::api_error::json_string;
use crate::request::Api;

/// Why a sequence finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// Natural end (EOS).
    Stop,
    /// Hit `max_tokens` or the context.
    Length,
}

impl FinishReason {
    /// The wire string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// What stays the same across every event of one response.
#[derive(Debug, Clone)]
pub(crate) struct ChunkHead {
    /// `"id":"chatcmpl-…","object":"…","created":…,"model":"…"` ready to paste.
    prefix: String,
    /// `system_fingerprint` value, quoted.
    fingerprint: String,
    /// Endpoint.
    api: Api,
    /// Prompt tokens, for usage.
    prompt_tokens: u64,
}

impl ChunkHead {
    /// The fixed part of a response's events.
    pub(crate) fn new(
        api: Api,
        id_bits: u64,
        created_unix_s: u64,
        model: &str,
        fingerprint: &str,
        prompt_tokens: u64,
        stream: bool,
    ) -> Self {
        let (id_prefix, object) = match (api, stream) {
            (Api::Chat, true) => ("chatcmpl-", "chat.completion.chunk"),
            (Api::Chat, false) => ("chatcmpl-", "chat.completion"),
            (Api::Completions, _) => ("cmpl-", "text_completion"),
        };
        ChunkHead {
            prefix: format!(
                r#""id":"{id_prefix}{id_bits:016x}","object":"{object}","created":{created_unix_s},"model":{}"#,
                json_string(model)
            ),
            fingerprint: json_string(fingerprint),
            api,
            prompt_tokens,
        }
    }

    /// `data: <json>\n\n` of the chat role event (`completion_tokens` 0 when `usage`).
    pub(crate) fn role_event(&self, continuous_usage: bool) -> String {
        let mut out = String::with_capacity(320);
        let _ = write!(
            out,
            r#"data: {{{},"choices":[{{"index":0,"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}]"#,
            self.prefix
        );
        if continuous_usage {
            self.push_usage(&mut out, 0, true);
        }
        out.push_str(r#","prompt_token_ids":null,"prompt_text":null}"#);
        out.push_str("\n\n");
        out
    }

    /// `data: <json>\n\n` of one token event.
    ///
    /// `completion_so_far` counts the tokens up to and including this event (for continuous
    /// usage); `fingerprint` puts `system_fingerprint` on it (the last event when no usage
    /// event follows).
    pub(crate) fn token_event(
        &self,
        text: &str,
        finish: Option<FinishReason>,
        continuous_usage: Option<u64>,
        fingerprint: bool,
    ) -> String {
        let mut out = String::with_capacity(320 + text.len());
        let finish_json = match finish {
            Some(reason) => format!(r#""{}","stop_reason":null"#, reason.as_str()),
            None => "null".to_owned(),
        };
        let _ = match self.api {
            Api::Chat => write!(
                out,
                r#"data: {{{},"choices":[{{"index":0,"delta":{{"content":{}}},"logprobs":null,"finish_reason":{finish_json},"token_ids":null}}]"#,
                self.prefix,
                json_string(text)
            ),
            Api::Completions => {
                let finish_json = match finish {
                    Some(reason) => format!(r#""{}""#, reason.as_str()),
                    None => "null".to_owned(),
                };
                write!(
                    out,
                    r#"data: {{{},"choices":[{{"index":0,"text":{},"logprobs":null,"finish_reason":{finish_json},"stop_reason":null,"prompt_token_ids":null,"token_ids":null}}]"#,
                    self.prefix,
                    json_string(text)
                )
            }
        };
        if let Some(completion) = continuous_usage {
            self.push_usage(&mut out, completion, true);
        }
        if fingerprint {
            let _ = write!(out, r#","system_fingerprint":{}"#, self.fingerprint);
        }
        out.push_str("}\n\n");
        out
    }

    /// `data: <json>\n\n` of the usage event (`choices: []`).
    pub(crate) fn usage_event(&self, completion_tokens: u64) -> String {
        let mut out = String::with_capacity(256);
        let _ = write!(out, r#"data: {{{},"choices":[]"#, self.prefix);
        self.push_usage(&mut out, completion_tokens, false);
        let _ = write!(out, r#","system_fingerprint":{}}}"#, self.fingerprint);
        out.push_str("\n\n");
        out
    }

    /// The whole non-streaming body.
    pub(crate) fn full_body(
        &self,
        text: &str,
        finish: FinishReason,
        completion_tokens: u64,
    ) -> String {
        let total = self.prompt_tokens + completion_tokens;
        let usage = format!(
            r#""usage":{{"prompt_tokens":{},"total_tokens":{total},"completion_tokens":{completion_tokens},"prompt_tokens_details":null,"completion_tokens_details":null}}"#,
            self.prompt_tokens
        );
        match self.api {
            Api::Chat => format!(
                r#"{{{},"choices":[{{"index":0,"message":{{"role":"assistant","content":{},"refusal":null,"annotations":null,"audio":null,"function_call":null,"reasoning":null}},"logprobs":null,"finish_reason":"{}","stop_reason":null,"token_ids":null,"routed_experts":null}}],"service_tier":null,"system_fingerprint":{},{usage},"prompt_logprobs":null,"prompt_token_ids":null,"prompt_text":null,"kv_transfer_params":null,"ec_transfer_params":null,"metrics":null}}"#,
                self.prefix,
                json_string(text),
                finish.as_str(),
                self.fingerprint
            ),
            Api::Completions => format!(
                r#"{{{},"choices":[{{"index":0,"text":{},"logprobs":null,"finish_reason":"{}","stop_reason":null,"token_ids":null,"prompt_logprobs":null,"prompt_token_ids":null,"routed_experts":null}}],"service_tier":null,"system_fingerprint":{},{usage},"kv_transfer_params":null,"ec_transfer_params":null,"metrics":null}}"#,
                self.prefix,
                json_string(text),
                finish.as_str(),
                self.fingerprint
            ),
        }
    }

    fn push_usage(&self, out: &mut String, completion: u64, details: bool) {
        let _ = write!(
            out,
            r#","usage":{{"prompt_tokens":{},"total_tokens":{},"completion_tokens":{completion}"#,
            self.prompt_tokens,
            self.prompt_tokens + completion
        );
        out.push_str(if details {
            r#","completion_tokens_details":null}"#
        } else {
            "}"
        });
    }
}

/// The last event of every complete stream.
pub(crate) const DONE_EVENT: &str = "data: [DONE]\n\n";

/// `event` with its JSON cut in half: what `--fault-malformed` sends.
pub(crate) fn break_event(event: &str) -> String {
    let json = event.trim_end_matches('\n');
    let mut cut = json.len() / 2;
    while !json.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}\n\n", &json[..cut])
}

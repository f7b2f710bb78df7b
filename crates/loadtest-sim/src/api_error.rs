//! Error bodies shaped like vLLM 0.32's: `{"error":{"message","type","param","code"}}` from the
//! OpenAI layer, `{"detail": ...}` from the HTTP layer.

use http::StatusCode;

/// An error answer of the OpenAI layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status, also written as `code`.
    pub(crate) status: StatusCode,
    /// Human-readable message.
    pub(crate) message: String,
    /// vLLM's `type` (`BadRequestError`, `NotFoundError`, `Bad Request`, …).
    pub(crate) kind: &'static str,
    /// vLLM's `param`, `null` when absent.
    pub(crate) param: Option<String>,
}

impl ApiError {
    /// A 400 `BadRequestError`.
    pub(crate) fn bad_request(message: String, param: Option<&str>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message,
            kind: "BadRequestError",
            param: param.map(str::to_owned),
        }
    }

    /// A 400 from request validation (`type: "Bad Request"`, pydantic-style message).
    pub(crate) fn validation(kind: &str, loc: &str, msg: &str, input: &str) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: format!(
                "1 validation error:\n  {{'type': '{kind}', 'loc': '{loc}', 'msg': '{msg}', 'input': '{input}'}}"
            ),
            kind: "Bad Request",
            param: Some(loc.to_owned()),
        }
    }

    /// The 404 for a model that is not served.
    pub(crate) fn unknown_model(asked: &str, served: &str) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("The model `{asked}` does not exist. Valid aliases: {served}."),
            kind: "NotFoundError",
            param: Some("model".to_owned()),
        }
    }

    /// An injected 500.
    pub(crate) fn injected_500() -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "Simulated internal server error (fault injection)".to_owned(),
            kind: "InternalServerError",
            param: None,
        }
    }

    /// An injected 429.
    pub(crate) fn injected_429() -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: "Simulated rate limit (fault injection)".to_owned(),
            kind: "TooManyRequests",
            param: None,
        }
    }

    /// The JSON body, keys in vLLM's order.
    pub(crate) fn body(&self) -> String {
        let param = match &self.param {
            Some(p) => json_string(p),
            None => "null".to_owned(),
        };
        format!(
            r#"{{"error":{{"message":{},"type":{},"param":{},"code":{}}}}}"#,
            json_string(&self.message),
            json_string(self.kind),
            param,
            self.status.as_u16()
        )
    }
}

/// `{"detail":"..."}`: the HTTP layer's 404 and 405.
pub(crate) fn detail_body(detail: &str) -> String {
    format!(r#"{{"detail":{}}}"#, json_string(detail))
}

/// A JSON string literal.
pub(crate) fn json_string(text: &str) -> String {
    // Serializing a &str cannot fail; the fallback keeps the output valid JSON regardless.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_matches_the_capture() {
        let real = include_str!("../../../testdata/vllm-0.32.0/err_unknown_model.json");
        assert_eq!(
            ApiError::unknown_model("no-such-model", "tiny-llama").body(),
            real.trim_end()
        );
    }

    #[test]
    fn http_layer_bodies_match_the_capture() {
        let nf = include_str!("../../../testdata/vllm-0.32.0/err_unknown_path.json");
        assert_eq!(detail_body("Not Found"), nf.trim_end());
        let na = include_str!("../../../testdata/vllm-0.32.0/err_get_chat_completions.json");
        assert_eq!(detail_body("Method Not Allowed"), na.trim_end());
    }
}

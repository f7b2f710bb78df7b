//! The chunk vLLM (and the simulator) sends for each generated token, read without a JSON
//! parser:
//!
//! ```text
//! {"id":"…","object":"chat.completion.chunk","created":N,"model":"…","choices":[{"index":0,
//! "delta":{"content":"…"},"logprobs":null,"finish_reason":null,"token_ids":null}]}
//! ```
//!
//! (one line; `,"token_ids":null` may be absent). It is accepted only byte for byte, with
//! every string free of `"`, `\` and control characters and `created` a plain non-negative
//! integer. On such input serde_json's reading is known — one choice, a token event when the
//! content is not empty, no finish reason, no usage, no error — so the answer is the same
//! without the parser. Anything else (an escape in the content, a finish reason, whitespace,
//! another key or order, the role chunk, usage) is `None` and goes to serde_json. A proptest
//! in `super::tests` holds the two to the same answer on generated and mutated chunks.

use super::Chunk;

const HEAD: &[u8] = b"{\"id\":\"";
const AFTER_ID: &[u8] = b",\"object\":\"chat.completion.chunk\",\"created\":";
const AFTER_CREATED: &[u8] = b",\"model\":\"";
const AFTER_MODEL: &[u8] = b",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
const AFTER_CONTENT: &[u8] = b"},\"logprobs\":null,\"finish_reason\":null";
const TOKEN_IDS: &[u8] = b",\"token_ids\":null";
const TAIL: &[u8] = b"}]}";

/// `data` read as vLLM's token chunk, or `None` when it is not exactly that shape.
pub(super) fn vllm_chat_token(data: &str) -> Option<Chunk<'static>> {
    let rest = data.as_bytes().strip_prefix(HEAD)?;
    let (_, rest) = plain_string(rest)?;
    let rest = integer(rest.strip_prefix(AFTER_ID)?)?;
    let (_, rest) = plain_string(rest.strip_prefix(AFTER_CREATED)?)?;
    let (content, rest) = plain_string(rest.strip_prefix(AFTER_MODEL)?)?;
    let rest = rest.strip_prefix(AFTER_CONTENT)?;
    let rest = rest.strip_prefix(TOKEN_IDS).unwrap_or(rest);
    (rest == TAIL).then_some(Chunk {
        is_token: !content.is_empty(),
        choices: 1,
        finish_reason: None,
        usage: None,
    })
}

/// A JSON string's body up to its closing quote, and what follows the quote, when the body
/// holds no `\` and no control character (so it needs no unescaping and serde_json takes it
/// as it is).
fn plain_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = memchr::memchr2(b'"', b'\\', bytes)?;
    if bytes[end] != b'"' {
        return None;
    }
    let body = &bytes[..end];
    if body.iter().any(|&c| c < 0x20) {
        return None;
    }
    Some((body, &bytes[end + 1..]))
}

/// What follows a JSON integer of 1 to 19 digits without a leading zero (`0` itself allowed).
fn integer(bytes: &[u8]) -> Option<&[u8]> {
    let digits = bytes.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || (digits > 1 && bytes[0] == b'0') {
        return None;
    }
    Some(&bytes[digits..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{ChunkKind, decode_json};
    use proptest::prelude::*;

    const REAL: &str = r#"{"id":"chatcmpl-a91296a5ceb66660","object":"chat.completion.chunk","created":1795874044,"model":"tiny-llama","choices":[{"index":0,"delta":{"content":"ension"},"logprobs":null,"finish_reason":null,"token_ids":null}]}"#;

    fn chunk(id: &str, created: &str, model: &str, content: &str, token_ids: bool) -> String {
        format!(
            r#"{{"id":"{id}","object":"chat.completion.chunk","created":{created},"model":"{model}","choices":[{{"index":0,"delta":{{"content":"{content}"}},"logprobs":null,"finish_reason":null{}}}]}}"#,
            if token_ids {
                r#","token_ids":null"#
            } else {
                ""
            }
        )
    }

    /// Where the fast path answers, serde_json answers the same.
    fn agrees(data: &str) -> Result<(), TestCaseError> {
        if let Some(fast) = vllm_chat_token(data) {
            match decode_json(data) {
                Ok(ChunkKind::Chunk(slow)) => prop_assert_eq!(slow, fast, "{}", data),
                other => prop_assert!(false, "{data}: fast {fast:?}, serde {other:?}"),
            }
        }
        Ok(())
    }

    #[test]
    fn vllm_token_chunks_take_the_fast_path() {
        let c = vllm_chat_token(REAL).expect("the real chunk");
        assert!(c.is_token);
        assert_eq!((c.choices, c.finish_reason, c.usage), (1, None, None));
        assert!(vllm_chat_token(&chunk("x", "0", "m", "a", false)).is_some());
        // Empty content: a chunk, not a token event.
        assert_eq!(
            vllm_chat_token(&chunk("x", "1", "m", "", true)).map(|c| c.is_token),
            Some(false)
        );
    }

    #[test]
    fn anything_else_goes_to_serde() {
        for data in [
            // An escape, a control character, a quote cut short.
            chunk("x", "1", "m", r#"\"+"#, true),
            chunk("x", "1", "m", "a\u{1}b", true),
            chunk("x\\n", "1", "m", "a", true),
            // Numbers serde_json reads otherwise (or refuses).
            chunk("x", "01", "m", "a", true),
            chunk("x", "-1", "m", "a", true),
            chunk("x", "1.5", "m", "a", true),
            chunk("x", "", "m", "a", true),
            chunk("x", "12345678901234567890", "m", "a", true),
            // A finish reason, the role chunk, usage, whitespace, trailing bytes.
            REAL.replace(r#""finish_reason":null"#, r#""finish_reason":"stop""#),
            REAL.replace(
                r#""delta":{"content""#,
                r#""delta":{"role":"assistant","content""#,
            ),
            REAL.replace("}]}", r#"}],"usage":{"completion_tokens":1}}"#),
            REAL.replace(r#","created""#, r#", "created""#),
            format!("{REAL} "),
            format!("{REAL}}}"),
        ] {
            assert!(vllm_chat_token(&data).is_none(), "{data}");
        }
    }

    proptest! {
        /// Generated chunks with any strings (quotes, escapes, controls, any Unicode) and
        /// numbers: the fast path either declines or agrees with serde_json.
        #[test]
        fn generated_chunks_agree(
            id in any::<String>(),
            created in prop_oneof![Just("0".to_owned()), "[0-9]{1,22}", "-?[0-9.eE+-]{1,8}"],
            model in any::<String>(),
            content in any::<String>(),
            token_ids in any::<bool>(),
        ) {
            agrees(&chunk(&id, &created, &model, &content, token_ids))?;
        }

        /// Chunks whose strings need no unescaping (any Unicode but `"`, `\` and controls):
        /// the fast path takes every one, and agrees with serde_json.
        #[test]
        fn plain_chunks_take_the_fast_path_and_agree(
            id in "[^\"\\\\\x00-\x1f]{0,24}",
            created in "0|[1-9][0-9]{0,18}",
            model in "[^\"\\\\\x00-\x1f]{0,24}",
            content in "[^\"\\\\\x00-\x1f]{0,12}",
            token_ids in any::<bool>(),
        ) {
            let data = chunk(&id, &created, &model, &content, token_ids);
            prop_assert!(vllm_chat_token(&data).is_some(), "{}", data);
            agrees(&data)?;
        }

        /// A real chunk with one byte replaced, inserted or removed anywhere (kept when the
        /// result is still UTF-8): the fast path either declines or agrees with serde_json.
        #[test]
        fn mutated_chunks_agree(at in 0usize..REAL.len(), byte in any::<u8>(), op in 0u8..3) {
            let mut bytes = REAL.as_bytes().to_vec();
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
            if let Ok(data) = std::str::from_utf8(&bytes) {
                agrees(data)?;
            }
        }
    }
}

//! Fuzz target: any text through the chunk decoder, the error-message extractor and the
//! sanitiser must never panic; sanitised text is one line with no control character and at
//! most `MAX_ERROR_CHARS` characters (plus the `…` marker); and where the decoder's fast path
//! for vLLM's token chunk answers, serde_json answers the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadtest_client::decode::{decode_chunk, error_message, fuzz_fast_path_agrees};
use loadtest_client::{MAX_ERROR_CHARS, sanitize_error};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = decode_chunk(&text);
    assert!(fuzz_fast_path_agrees(&text), "{text:?}: the fast path and serde_json disagree");
    let message = error_message(&text);
    let clean = sanitize_error(&message);
    assert!(clean.chars().count() <= MAX_ERROR_CHARS + 1, "{clean:?} too long");
    assert!(!clean.chars().any(char::is_control), "{clean:?} has a control character");
    assert_eq!(clean.trim(), clean, "{clean:?} has outer whitespace");
});

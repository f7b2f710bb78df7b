//! Fuzz target: any bytes as an HTTP/1.1 response (head and body, read in two pieces split
//! where the first byte says) through the native transport's head parser and body decoder:
//! never a panic, never more payload than body bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    loadtest_client::fuzz_http1_response(data);
});

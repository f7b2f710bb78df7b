//! Fuzz target: any line through the prompt-file row parser must never panic; the error, when
//! there is one, is a single line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadtest_sweep::prompt_file::parse_row;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    match parse_row(line) {
        Ok(Some(prompt)) => {
            let _ = format!("{prompt:?}");
        }
        Ok(None) => assert!(line.trim().is_empty(), "{line:?} read as blank"),
        Err(reason) => assert!(!reason.contains('\n'), "multi-line reason {reason:?}"),
    }
});

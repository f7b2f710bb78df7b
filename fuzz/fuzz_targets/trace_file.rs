//! Fuzz target: any bytes as an `--arrival trace:` file, in both formats (Mooncake JSONL and
//! BurstGPT CSV), through the checking pass and the slicing into steps: never a panic, and an
//! error names the file on one line.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use loadtest_sweep::trace::{TraceFormat, TraceOptions, TraceSpec, load_trace};

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("fuzz-trace-{}", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for format in [TraceFormat::Mooncake, TraceFormat::BurstGpt] {
        let spec = TraceSpec {
            format,
            path: path.clone(),
        };
        let mut options = TraceOptions::new(Duration::from_millis(500), Duration::from_secs(1));
        options.max_steps = Some(50);
        match load_trace(&spec, options) {
            Ok(replay) => {
                let _ = format!("{:?}", replay.facts());
            }
            Err(err) => {
                let text = err.to_string();
                assert!(!text.contains('\n'), "multi-line error {text:?}");
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});

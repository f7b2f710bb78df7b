//! Fuzz target: any bytes as a `--dataset` file, in both formats (ShareGPT JSON and JSONL),
//! through the streaming reader and the pool: never a panic, and an error names the file on
//! one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loadtest_sweep::dataset::{DatasetFormat, DatasetOptions, DatasetSpec, load_dataset};

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("fuzz-dataset-{}", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for format in [DatasetFormat::ShareGpt, DatasetFormat::Jsonl] {
        let spec = DatasetSpec {
            format,
            path: path.clone(),
        };
        let mut options = DatasetOptions::new(7);
        options.pool_size = 64;
        options.max_model_len = Some(4096);
        match load_dataset(&spec, &options, None) {
            Ok(pool) => {
                let _ = format!("{:?}", pool.facts());
            }
            Err(err) => {
                let text = err.to_string();
                assert!(!text.contains('\n'), "multi-line error {text:?}");
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});

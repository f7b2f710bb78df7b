//! `--dataset`: files read in one pass, rows sampled with the seed, filters counted, and
//! request *i*'s inputs a function of `(seed, i)` only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use loadtest_dist::DistSpec;
use loadtest_sweep::dataset::{
    DatasetError, DatasetFormat, DatasetOptions, DatasetSpec, load_dataset,
};
use loadtest_sweep::inputs::{InputPlan, InputSource};
use loadtest_sweep::tokenize::TokenCounter;
use proptest::prelude::*;

fn counter() -> TokenCounter {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tiny-llama-tokenizer");
    TokenCounter::load(&dir).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn sharegpt(rows: usize) -> Vec<u8> {
    let rows: Vec<serde_json::Value> = (0..rows)
        .map(|i| {
            serde_json::json!({"conversations": [
                {"from": "human", "value": format!("row {i} {}", "word ".repeat(i % 40))},
                {"from": "gpt", "value": "answer ".repeat(i % 9 + 1)},
            ]})
        })
        .collect();
    serde_json::to_vec(&rows).unwrap()
}

fn spec(format: DatasetFormat, path: PathBuf) -> DatasetSpec {
    DatasetSpec { format, path }
}

#[test]
fn sharegpt_with_a_bom_and_hostile_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = b"\xEF\xBB\xBF[".to_vec();
    bytes.extend_from_slice(br#"{"conversations": [{"from": "human", "value": "a b c"}, {"from": "gpt", "value": "d e"}]},"#);
    bytes.extend_from_slice(
        br#"{"conversations": "no"}, 7, null, {"conversations": [{"from": "human", "value": 1}]},"#,
    );
    bytes.extend_from_slice(br#"{"conversations": [{"from": "human", "value": "x y"}, {"from": "gpt", "value": "z"}]}]"#);
    let path = write(dir.path(), "sg.json", &bytes);
    let pool = load_dataset(
        &spec(DatasetFormat::ShareGpt, path),
        &DatasetOptions::new(0),
        None,
    )
    .unwrap();
    let f = pool.facts();
    assert_eq!((f.rows_read, f.rows_invalid, f.rows_kept), (6, 4, 2));
    assert_eq!(f.bytes, bytes.len() as u64);
    assert_eq!(f.sha256.len(), 64);
    let mut sizes: Vec<(u64, Option<u64>)> = pool
        .rows()
        .iter()
        .map(|r| (r.prompt_tokens, r.output_tokens))
        .collect();
    sizes.sort();
    // Without a tokenizer, words.
    assert_eq!(sizes, vec![(2, Some(1)), (3, Some(2))]);
}

#[test]
fn a_file_that_is_not_an_array_or_has_no_usable_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "obj.json", br#"{"conversations": []}"#);
    let err = load_dataset(
        &spec(DatasetFormat::ShareGpt, path.clone()),
        &DatasetOptions::new(0),
        None,
    )
    .unwrap_err();
    assert!(matches!(err, DatasetError::Format { .. }), "{err}");
    assert!(err.to_string().contains("obj.json"), "{err}");
    let path = write(dir.path(), "bad.jsonl", b"{}\n[1]\n");
    let err = load_dataset(
        &spec(DatasetFormat::Jsonl, path),
        &DatasetOptions::new(0),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no usable row (2 read, 2 without"),
        "{err}"
    );
    let missing = dir.path().join("missing.json");
    let err = load_dataset(
        &spec(DatasetFormat::ShareGpt, missing),
        &DatasetOptions::new(0),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.json"), "{err}");
}

#[test]
fn filters_are_counted_and_the_pool_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sg.json", &sharegpt(400));
    let counter = counter();
    let mut options = DatasetOptions::new(3);
    options.pool_size = 50;
    options.min_prompt_tokens = Some(10);
    options.max_prompt_tokens = Some(30);
    options.max_model_len = Some(33);
    options.use_output_len = true;
    let pool = load_dataset(
        &spec(DatasetFormat::ShareGpt, path),
        &options,
        Some(&counter),
    )
    .unwrap();
    let f = pool.facts();
    assert_eq!(f.rows_read, 400);
    assert_eq!(f.rows_kept, 50);
    assert!(f.skipped_min_prompt_tokens > 0, "{f:?}");
    assert!(f.skipped_max_prompt_tokens > 0, "{f:?}");
    assert!(f.skipped_max_model_len > 0, "{f:?}");
    assert_eq!(
        f.rows_examined,
        f.rows_kept
            + f.skipped_min_prompt_tokens
            + f.skipped_max_prompt_tokens
            + f.skipped_max_model_len
    );
    for row in pool.rows() {
        assert!((10..=30).contains(&row.prompt_tokens));
        assert!(row.prompt_tokens + row.output_tokens.unwrap() <= 33);
    }
}

#[test]
fn jsonl_rows_with_messages_and_output_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "rows.jsonl",
        b"{\"prompt\": \"one two three\", \"output_tokens\": 7}\n{\"messages\": [{\"role\": \"user\", \"content\": \"hi there\"}]}\n",
    );
    let mut options = DatasetOptions::new(0);
    options.use_output_len = true;
    let pool = load_dataset(&spec(DatasetFormat::Jsonl, path), &options, None).unwrap();
    let plan = InputPlan::new(InputSource::Dataset(Arc::new(pool)), DistSpec::Fixed(5), 0);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..50 {
        let inputs = plan.inputs(i);
        seen.insert((inputs.input_tokens_target, inputs.max_tokens));
    }
    // The row with output_tokens sends it; the other falls back to --max-output-tokens.
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        vec![(Some(2), 5), (Some(3), 7)]
    );
}

fn plan(path: &Path, seed: u64) -> InputPlan {
    let mut options = DatasetOptions::new(seed);
    options.pool_size = 30;
    let pool = load_dataset(
        &spec(DatasetFormat::ShareGpt, path.to_owned()),
        &options,
        None,
    )
    .unwrap();
    InputPlan::new(
        InputSource::Dataset(Arc::new(pool)),
        "uniform:1:100".parse().unwrap(),
        seed,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Request i's inputs depend only on (seed, i): two independent loads of the file, asked
    /// in any order, agree.
    #[test]
    fn dataset_inputs_depend_only_on_seed_and_index(
        seed in any::<u64>(),
        indices in proptest::collection::vec(0u64..1_000_000, 1..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "sg.json", &sharegpt(120));
        let a = plan(&path, seed);
        let b = plan(&path, seed);
        let forward: Vec<_> = indices.iter().map(|&i| a.inputs(i)).collect();
        let backward: Vec<_> = indices.iter().rev().map(|&i| b.inputs(i)).collect();
        for (x, y) in forward.iter().zip(backward.iter().rev()) {
            prop_assert_eq!(&x.prompt, &y.prompt);
            prop_assert_eq!(x.max_tokens, y.max_tokens);
            prop_assert_eq!(x.input_tokens_target, y.input_tokens_target);
        }
    }
}

#[test]
fn another_seed_draws_another_sample() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "sg.json", &sharegpt(300));
    let (one, two) = (plan(&path, 1), plan(&path, 2));
    let a: Vec<_> = (0..40).map(|i| one.inputs(i).prompt).collect();
    let b: Vec<_> = (0..40).map(|i| two.inputs(i).prompt).collect();
    assert_ne!(a, b);
}

#[test]
fn shared_prefix_prompts_start_with_one_of_the_groups() {
    let counter = Arc::new(counter());
    let plan = InputPlan::new(
        InputSource::Synthetic("uniform:1:30".parse().unwrap()),
        DistSpec::Fixed(4),
        9,
    )
    .with_tokenizer(Some(Arc::clone(&counter)))
    .with_shared_prefix(
        Some(loadtest_sweep::prefix::SharedPrefix {
            tokens: 40,
            groups: 4,
        }),
        9,
    );
    let mut prefixes = std::collections::BTreeSet::new();
    for i in 0..200 {
        let inputs = plan.inputs(i);
        let text = inputs.prompt.as_text().unwrap();
        let n = inputs.input_tokens_target.unwrap();
        assert_eq!(counter.count_prompt(&text), n, "{text:?}");
        assert!((41..=70).contains(&n), "{n}");
        // The first 40 tokens are the group's prefix: the same text for every member.
        let words: Vec<&str> = text.split(' ').collect();
        prefixes.insert(words[..8].join(" "));
    }
    assert_eq!(prefixes.len(), 4, "{prefixes:?}");
}

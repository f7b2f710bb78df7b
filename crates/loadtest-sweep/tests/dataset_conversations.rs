//! `--turns dataset` against the simulator: each conversation is a ShareGPT row of
//! `testdata/datasets/sharegpt_multiturn.json`, its user messages the row's human turns in
//! order, as many turns as the row has; the same seed gives the same rows; a conversation
//! that ran out of turns is complete, not aborted. And the load: every turn kept, counted
//! with the tokenizer, cut to `--max-model-len`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use loadtest_run::{LoadMode, files};
use loadtest_sweep::conversation::{Conversations, MAX_TURNS, Turns};
use loadtest_sweep::dataset::{
    DatasetFormat, DatasetOptions, DatasetPool, DatasetRow, DatasetSpec, load_dataset,
};
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::tokenize::TokenCounter;
use serde_json::Value;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn spec() -> DatasetSpec {
    DatasetSpec {
        format: DatasetFormat::ShareGpt,
        path: testdata("datasets/sharegpt_multiturn.json"),
    }
}

fn options(seed: u64) -> DatasetOptions {
    let mut options = DatasetOptions::new(seed);
    options.turns = true;
    options.output_reserve = 4;
    options
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Every user message of `row`, in order.
fn user_messages(row: &DatasetRow) -> Vec<String> {
    let first = row.prompt.chat_messages().pop().unwrap().content;
    std::iter::once(first)
        .chain(row.turns.iter().map(|t| t.text.clone()))
        .collect()
}

#[test]
fn every_turn_is_kept_counted_and_cut_to_the_context() {
    let pool = load_dataset(&spec(), &options(3), None).unwrap();
    let facts = pool.facts();
    // 8 rows: 2 invalid (no human turn, a non-string value); the one-question row is a
    // one-turn conversation (single-turn reading refuses it: no answer).
    assert_eq!(
        (facts.rows_read, facts.rows_invalid, facts.rows_kept),
        (8, 2, 6)
    );
    let mut lengths: Vec<usize> = pool.rows().iter().map(|r| r.turns.len() + 1).collect();
    lengths.sort_unstable();
    assert_eq!(lengths, vec![1, 2, 2, 3, 3, 4]);
    let turns = facts.conversations.as_ref().unwrap();
    assert_eq!((turns.turns, turns.turns_max), (15, 4));
    assert_eq!(turns.turns_cut_max_model_len, 0);
    // Consecutive human turns are merged; a last question without answer has no length.
    let merged = pool
        .rows()
        .iter()
        .find(|r| r.turns.len() == 2 && r.turns[1].output_tokens.is_none());
    let merged = merged.expect("the row with a trailing question");
    assert!(merged.turns[0].text.contains("\n\n"), "{merged:?}");
    assert_eq!(merged.turns[0].tokens, words(&merged.turns[0].text));
    // Single-turn reading is unchanged: the row without an answer is invalid there.
    let single = load_dataset(&spec(), &DatasetOptions::new(3), None).unwrap();
    assert_eq!(
        (single.facts().rows_invalid, single.facts().rows_kept),
        (3, 5)
    );
    assert!(single.facts().conversations.is_none());
    assert!(single.rows().iter().all(|r| r.turns.is_empty()));

    // With the tokenizer, answer lengths are tokens: --output-len dataset sends them.
    let dir = testdata("tiny-llama-tokenizer");
    let counter = TokenCounter::load(&dir).unwrap();
    let mut o = options(3);
    o.use_output_len = true;
    let counted = load_dataset(&spec(), &o, Some(&counter)).unwrap();
    let four = counted.rows().iter().find(|r| r.turns.len() == 3).unwrap();
    for turn in &four.turns {
        assert_eq!(turn.tokens, counter.count_content(&turn.text));
        assert!(turn.output_tokens.unwrap() > 0);
    }

    // --max-model-len: each conversation keeps the turns whose estimate fits (at least
    // the first), the cut turns counted.
    o.max_model_len = Some(60);
    let cut = load_dataset(&spec(), &o, Some(&counter)).unwrap();
    let facts = cut.facts().conversations.as_ref().unwrap();
    assert!(facts.rows_cut_max_model_len > 0, "{facts:?}");
    let full: u64 = counted.facts().conversations.as_ref().unwrap().turns;
    assert_eq!(cut.facts().skipped_max_model_len, 0);
    assert_eq!(facts.turns + facts.turns_cut_max_model_len, full);
    for row in cut.rows() {
        let mut context = row.prompt_tokens + row.output_tokens.unwrap_or(4);
        for turn in &row.turns {
            context += turn.tokens + turn.output_tokens.unwrap_or(4);
        }
        assert!(context <= 60, "{row:?}");
    }
}

/// Checks every conversation against its row: as many turns as the row (fewer only when
/// the run ended first), turn 0 the row's first question, each later prompt the history
/// plus the row's next question. Returns the conversations that ran all their turns.
fn check_against_rows(pool: &DatasetPool, by: &BTreeMap<u64, Vec<Value>>) -> Vec<u64> {
    let mut complete = Vec::new();
    for (&c, rows) in by {
        let row = pool.pick(c).unwrap();
        let users = user_messages(row);
        let n = users.len();
        assert!(
            rows.len() <= n,
            "conversation {c}: {} rows of {n}",
            rows.len()
        );
        for r in rows {
            assert_eq!(r["conversation_turns"].as_u64(), Some(n as u64), "{r}");
        }
        if rows.iter().all(|r| r["status"] == "ok") && rows.len() == n {
            complete.push(c);
        }
        let ok: Vec<&Value> = rows.iter().take_while(|r| r["status"] == "ok").collect();
        if let Some(first) = ok.first() {
            assert_eq!(first["prompt_tokens"].as_u64(), Some(words(&users[0])));
        }
        for (k, pair) in ok.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let (pa, ca) = (
                a["prompt_tokens"].as_u64().unwrap(),
                a["completion_tokens"].as_u64().unwrap(),
            );
            let pb = b["prompt_tokens"].as_u64().unwrap();
            // The simulator counts words: the history, the answer received (≤ its tokens in
            // words) and the row's next question.
            let question = words(&users[k + 1]);
            assert!(
                pb >= pa + question && pb <= pa + ca + question,
                "conversation {c} turn {}: {pb} after {pa} + answer {ca} + question {question}",
                k + 1
            );
            assert_eq!(b["input_tokens_target"].as_u64(), Some(pb));
        }
    }
    complete
}

fn run_config(
    url: &str,
    out: &Path,
    pool: &Arc<DatasetPool>,
) -> loadtest_sweep::config::SweepConfig {
    let mut config = common::config(url, out, &[3.0], 1.5);
    config.input = InputSource::Dataset(Arc::clone(pool));
    config.max_output_tokens = "4".parse().unwrap();
    config.warmup = Duration::ZERO;
    config.seed = 3;
    config.conversations = Some(Conversations {
        turns: Turns::Dataset,
        think_time: "0.01".parse().unwrap(),
    });
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_are_dataset_rows_turn_by_turn() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let pool = Arc::new(load_dataset(&spec(), &options(3), None).unwrap());
    let outcome = common::run(run_config(&sim.base_url(), out.path(), &pool)).await;
    let dir = &outcome.run_dir;
    let rows = common::rows(dir);
    let by = common::conversations(&rows, u64::from(MAX_TURNS));
    let complete = check_against_rows(&pool, &by);
    // Conversations of several lengths ran to their rows' ends.
    let lengths: std::collections::BTreeSet<usize> =
        complete.iter().map(|&c| by[&c].len()).collect();
    assert!(complete.len() >= 6, "{complete:?} of {}", by.len());
    assert!(lengths.len() >= 2, "{lengths:?}");

    let summary = common::json(dir, files::STEP_SUMMARY);
    let step = &summary["steps"][0];
    // Ending with the row's last turn is completing, not aborting.
    assert!(step.get("conversations_aborted").is_none(), "{step}");
    // Turn k's population: the conversations that reached turn k.
    let table = step["turns"].as_array().unwrap();
    let requests: Vec<u64> = table
        .iter()
        .map(|t| t["requests"].as_u64().unwrap())
        .collect();
    assert!(requests.windows(2).all(|w| w[0] >= w[1]), "{requests:?}");
    assert!(requests[0] > requests[requests.len() - 1], "{requests:?}");
    let measured_turns = |k: u64| {
        rows.iter()
            .filter(|r| r["phase"] == "measure" && r["turn"].as_u64() == Some(k))
            .count() as u64
    };
    for t in table {
        assert_eq!(
            t["requests"].as_u64(),
            Some(measured_turns(t["turn"].as_u64().unwrap()))
        );
    }
    let config = common::json(dir, files::CONFIG);
    assert_eq!(config["settings"]["turns"], "dataset");
    assert_eq!(config["settings"]["think_time_s"], "0.01");
    assert_eq!(config["settings"]["dataset"]["conversations"]["turns"], 15);
    for (name, value) in [
        ("dataset", &config["settings"]["dataset"]),
        (
            "dataset_conversations",
            &config["settings"]["dataset"]["conversations"],
        ),
    ] {
        let keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        let mut documented = common::documented(name);
        documented.sort();
        assert_eq!(keys, documented, "docs/output-format.md's {name} table");
    }
    let md = std::fs::read_to_string(dir.join(files::SUMMARY_MD)).unwrap();
    assert!(md.contains("Each conversation is a dataset row"), "{md}");

    // The same seed, again in rate mode (arrivals start conversations): the same row for
    // every conversation both runs had.
    let out2 = tempfile::tempdir().unwrap();
    let again = Arc::new(load_dataset(&spec(), &options(3), None).unwrap());
    let mut config = run_config(&sim.base_url(), out2.path(), &again);
    config.load_mode = LoadMode::Rate;
    config.steps = vec![6.0];
    config.step_duration = Duration::from_secs(1);
    config.arrival = loadtest_run::Arrival::Constant;
    let outcome = common::run(config).await;
    let rows2 = common::rows(&outcome.run_dir);
    let by2 = common::conversations(&rows2, u64::from(MAX_TURNS));
    check_against_rows(&again, &by2);
    let mut shared = 0;
    for (c, rows) in &by2 {
        if let Some(first) = by.get(c) {
            shared += 1;
            assert_eq!(
                rows[0]["prompt_tokens"], first[0]["prompt_tokens"],
                "conversation {c}"
            );
            assert_eq!(
                rows[0]["conversation_turns"],
                first[0]["conversation_turns"]
            );
        }
    }
    assert!(shared >= 4, "{shared}");
    // Another seed draws other rows.
    let other = load_dataset(&spec(), &options(4), None).unwrap();
    assert!(
        (0..50)
            .any(|c| user_messages(other.pick(c).unwrap()) != user_messages(pool.pick(c).unwrap()))
    );
    sim.shutdown().await;
}

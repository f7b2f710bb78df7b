//! `--turns dataset`: every human turn of a ShareGPT row and the answer that follows it, read
//! into a [`RawConversation`], then counted and cut to what fits `--max-model-len` when the
//! row is kept ([`later_turns`]).
//!
//! How a row's `conversations` list becomes turns:
//! - speakers other than human and gpt (`system`, `tool`, …) are skipped wherever they are,
//!   and so is a gpt turn before the first human turn (as single-turn reading does);
//! - **consecutive human turns are merged** into one user message (joined by a blank line),
//!   and consecutive gpt turns into one answer: every turn is then one user message and the
//!   answer that followed it;
//! - a last human turn without an answer is still a turn (its `max_tokens` then comes from
//!   `--max-output-tokens`, as for a row without an answer length);
//! - every user message must be a non-empty string and every human or gpt `value` a string,
//!   else the row is invalid; a message or answer over [`MAX_ROW_BYTES`], or all of a row's
//!   texts together over [`MAX_CONVERSATION_BYTES`], makes it too large (both counted as
//!   skipped rows);
//! - at most [`MAX_TURNS`] turns: the rest are dropped when the row is read (counted in
//!   `rows_cut_max_turns`).

use serde::Serialize;
use serde_json::Value;

use super::read::{RawAnswer, RawPrompt, RawRow, RowOutcome, checked_text};
use super::sharegpt::{GPT, HUMAN};
use super::{DatasetOptions, MAX_CONVERSATION_BYTES, MAX_ROW_BYTES};
use crate::conversation::MAX_TURNS;

/// A turn after the first, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawTurn {
    /// The user message.
    pub(crate) text: String,
    /// The answer that followed it, if any.
    pub(crate) answer: Option<String>,
}

/// A row read with all its turns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawConversation {
    /// Turn 0, as a single-turn row: its user message and answer.
    pub(crate) first: RawRow,
    /// Turns 1 and on.
    pub(crate) later: Vec<RawTurn>,
    /// The row had more than [`MAX_TURNS`] turns: the rest were dropped.
    pub(crate) cut_at_max_turns: bool,
}

/// A later turn of a dataset row (`--turns dataset`): what conversation turn `k ≥ 1` sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetTurn {
    /// The user message.
    pub text: String,
    /// Its length: tokens with `--tokenizer` (as a message's content is counted), words
    /// otherwise.
    pub tokens: u64,
    /// The dataset's answer to it, counted likewise; `None` for a last turn without one.
    pub output_tokens: Option<u64>,
}

#[derive(Clone, Copy, PartialEq)]
enum Speaker {
    Human,
    Gpt,
}

/// One ShareGPT element with every turn (see the module's rules).
pub(crate) fn conversation_row(value: Value) -> RowOutcome {
    let invalid = |why: &str| RowOutcome::Invalid(why.to_owned());
    let Value::Object(mut obj) = value else {
        return invalid("row is not an object");
    };
    let Some(Value::Array(list)) = obj.remove("conversations") else {
        return invalid("no \"conversations\" array");
    };
    let mut turns: Vec<(String, Option<String>)> = Vec::new();
    let mut bytes = 0usize;
    let mut cut_at_max_turns = false;
    for item in list {
        let Value::Object(mut item) = item else {
            return invalid("a turn is not an object");
        };
        let from = item
            .get("from")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let speaker = match from.as_deref() {
            Some(s) if HUMAN.contains(&s) => Speaker::Human,
            Some(s) if GPT.contains(&s) => Speaker::Gpt,
            _ => continue,
        };
        if speaker == Speaker::Gpt && turns.is_empty() {
            continue;
        }
        let Some(Value::String(text)) = item.remove("value") else {
            return invalid("a human or gpt turn has no string \"value\"");
        };
        bytes = bytes.saturating_add(text.len());
        if bytes > MAX_CONVERSATION_BYTES {
            return RowOutcome::TooLarge;
        }
        match (speaker, turns.last_mut()) {
            (Speaker::Human, Some((question, None))) => join(question, &text),
            (Speaker::Human, _) => {
                if turns.len() >= MAX_TURNS as usize {
                    cut_at_max_turns = true;
                    break;
                }
                turns.push((text, None));
            }
            (Speaker::Gpt, Some((_, Some(answer)))) => join(answer, &text),
            (Speaker::Gpt, Some((_, answer))) => *answer = Some(text),
            (Speaker::Gpt, None) => {}
        }
    }
    let mut checked = Vec::with_capacity(turns.len());
    for (text, answer) in turns {
        let text = match checked_text(text, "prompt") {
            Ok(text) => text,
            Err(outcome) => return outcome,
        };
        if answer.as_ref().is_some_and(|a| a.len() > MAX_ROW_BYTES) {
            return RowOutcome::TooLarge;
        }
        checked.push(RawTurn { text, answer });
    }
    let mut later = checked.into_iter();
    let Some(first) = later.next() else {
        return invalid("no human turn");
    };
    RowOutcome::Conversation(RawConversation {
        first: RawRow {
            prompt: RawPrompt::Text(first.text),
            answer: first.answer.map_or(RawAnswer::None, RawAnswer::Text),
        },
        later: later.collect(),
        cut_at_max_turns,
    })
}

fn join(into: &mut String, text: &str) {
    into.push_str("\n\n");
    into.push_str(text);
}

/// What the `--max-model-len` cut removed from one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Turns removed.
    pub(crate) turns: u64,
}

/// The later turns of a kept row, counted with `count` and cut to the turns that fit
/// `--max-model-len`. `context` is turn 0's estimate (its prompt plus its `max_tokens`).
///
/// The estimate of turn `k` is the conversation so far: every user message, every earlier
/// answer at its turn's `max_tokens` (the dataset's answer length with `--output-len
/// dataset`, else the largest `--max-output-tokens`: what the answer can reach), and turn
/// `k`'s own `max_tokens`. Turn `k` and every later one are cut when it exceeds
/// `--max-model-len` — the estimate only grows, so the turns kept are a prefix.
pub(crate) fn later_turns(
    later: &[RawTurn],
    mut context: u64,
    options: &DatasetOptions,
    count: &dyn Fn(&str) -> u64,
) -> (Vec<DatasetTurn>, Cut) {
    let mut kept = Vec::with_capacity(later.len());
    for (k, turn) in later.iter().enumerate() {
        let tokens = count(&turn.text);
        let output_tokens = turn.answer.as_deref().map(|a| count(a).max(1));
        let reserve = match output_tokens {
            Some(n) if options.use_output_len => n,
            _ => options.output_reserve,
        };
        context = context.saturating_add(tokens).saturating_add(reserve);
        if options.max_model_len.is_some_and(|len| context > len) {
            let turns = (later.len() - k) as u64;
            return (kept, Cut { turns });
        }
        kept.push(DatasetTurn {
            text: turn.text.clone(),
            tokens,
            output_tokens,
        });
    }
    (kept, Cut::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversation(json: &str) -> RowOutcome {
        conversation_row(serde_json::from_str(json).unwrap())
    }

    fn turns(outcome: &RowOutcome) -> Vec<(String, Option<String>)> {
        let RowOutcome::Conversation(c) = outcome else {
            panic!("not a conversation: {outcome:?}");
        };
        let RawPrompt::Text(first) = &c.first.prompt else {
            panic!("{c:?}");
        };
        let answer = match &c.first.answer {
            RawAnswer::Text(a) => Some(a.clone()),
            _ => None,
        };
        std::iter::once((first.clone(), answer))
            .chain(c.later.iter().map(|t| (t.text.clone(), t.answer.clone())))
            .collect()
    }

    fn pair(q: &str, a: Option<&str>) -> (String, Option<String>) {
        (q.to_owned(), a.map(str::to_owned))
    }

    #[test]
    fn every_human_turn_with_its_answer() {
        let out = conversation(
            r#"{"conversations": [
              {"from": "gpt", "value": "an answer before any question"},
              {"from": "system", "value": "be nice"},
              {"from": "human", "value": "one"},
              {"from": "gpt", "value": "a1"},
              {"from": "Human", "value": "two"},
              {"from": "tool", "value": 7},
              {"from": "ChatGPT", "value": "a2"},
              {"from": "user", "value": "three"}]}"#,
        );
        assert_eq!(
            turns(&out),
            vec![
                pair("one", Some("a1")),
                pair("two", Some("a2")),
                pair("three", None)
            ]
        );
    }

    #[test]
    fn consecutive_turns_of_one_speaker_are_merged() {
        let out = conversation(
            r#"{"conversations": [
              {"from": "human", "value": "q1"}, {"from": "human", "value": "q1b"},
              {"from": "gpt", "value": "a1"}, {"from": "gpt", "value": "a1b"},
              {"from": "human", "value": "q2"}]}"#,
        );
        assert_eq!(
            turns(&out),
            vec![pair("q1\n\nq1b", Some("a1\n\na1b")), pair("q2", None)]
        );
        // A single human turn without answer is a one-turn conversation.
        let out = conversation(r#"{"conversations": [{"from": "human", "value": "q"}]}"#);
        assert_eq!(turns(&out), vec![pair("q", None)]);
    }

    #[test]
    fn hostile_rows_are_invalid_or_too_large() {
        let big = "x".repeat(MAX_ROW_BYTES + 1);
        let half = "y".repeat(MAX_ROW_BYTES / 2 + 1);
        let too_long: Vec<String> = (0..5)
            .map(|_| format!(r#"{{"from": "human", "value": "{half}"}}"#))
            .collect();
        let spread: Vec<String> = (0..5)
            .map(|_| {
                format!(
                    r#"{{"from": "human", "value": "q"}}, {{"from": "gpt", "value": "{half}"}}"#
                )
            })
            .collect();
        for (json, too_large) in [
            ("1".to_owned(), false),
            (r#"{"conversations": 3}"#.to_owned(), false),
            (r#"{"conversations": []}"#.to_owned(), false),
            (r#"{"conversations": [5]}"#.to_owned(), false),
            (
                r#"{"conversations": [{"from": "gpt", "value": "a"}]}"#.to_owned(),
                false,
            ),
            (
                r#"{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": 1}]}"#
                    .to_owned(),
                false,
            ),
            (
                r#"{"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}, {"from": "human", "value": " "}]}"#
                    .to_owned(),
                false,
            ),
            (
                format!(
                    r#"{{"conversations": [{{"from": "human", "value": "q"}}, {{"from": "gpt", "value": "{big}"}}]}}"#
                ),
                true,
            ),
            // Merged human turns over the per-message limit.
            (
                format!(r#"{{"conversations": [{}]}}"#, too_long[..2].join(",")),
                true,
            ),
            // Many turns each within the limit, together over the conversation's.
            (
                format!(r#"{{"conversations": [{}]}}"#, spread.join(",")),
                true,
            ),
            (
                format!(r#"{{"conversations": [{}]}}"#, too_long.join(",")),
                true,
            ),
        ] {
            let out = conversation(&json);
            if too_large {
                assert_eq!(out, RowOutcome::TooLarge, "{}", &json[..json.len().min(80)]);
            } else {
                assert!(matches!(out, RowOutcome::Invalid(_)), "{json}: {out:?}");
            }
        }
    }

    #[test]
    fn turns_past_the_most_are_dropped_and_said() {
        let list: Vec<String> = (0..MAX_TURNS + 5)
            .map(|i| {
                format!(r#"{{"from": "human", "value": "q{i}"}}, {{"from": "gpt", "value": "a"}}"#)
            })
            .collect();
        let out = conversation(&format!(r#"{{"conversations": [{}]}}"#, list.join(",")));
        let RowOutcome::Conversation(c) = &out else {
            panic!("{out:?}");
        };
        assert_eq!(c.later.len() + 1, MAX_TURNS as usize);
        assert!(c.cut_at_max_turns);
        assert_eq!(c.later.last().unwrap().answer.as_deref(), Some("a"));
    }

    #[test]
    fn the_cut_keeps_the_turns_that_fit() {
        let words = |t: &str| t.split_whitespace().count() as u64;
        let turn = |text: &str, answer: Option<&str>| RawTurn {
            text: text.into(),
            answer: answer.map(str::to_owned),
        };
        // Turn 1: 2 + 3, turn 2: 1 + reserve 10 (no answer) — on top of turn 0's 5.
        let later = [turn("a b", Some("x y z")), turn("c", None)];
        let mut options = DatasetOptions::new(0);
        options.use_output_len = true;
        options.output_reserve = 10;
        let (all, cut) = later_turns(&later, 5, &options, &words);
        assert_eq!((all.len(), cut), (2, Cut::default()));
        assert_eq!(all[0].tokens, 2);
        assert_eq!(all[0].output_tokens, Some(3));
        assert_eq!(all[1].output_tokens, None);
        options.max_model_len = Some(5 + 5 + 11);
        assert_eq!(later_turns(&later, 5, &options, &words).0.len(), 2);
        options.max_model_len = Some(5 + 5 + 10);
        let (kept, cut) = later_turns(&later, 5, &options, &words);
        assert_eq!((kept.len(), cut.turns), (1, 1));
        options.max_model_len = Some(9);
        let (kept, cut) = later_turns(&later, 5, &options, &words);
        assert_eq!((kept.len(), cut.turns), (0, 2));
        // Without --output-len dataset every answer is counted at the reserve.
        options.use_output_len = false;
        options.max_model_len = Some(5 + 12 + 10);
        let (kept, cut) = later_turns(&later, 5, &options, &words);
        assert_eq!((kept.len(), cut.turns), (1, 1));
    }
}

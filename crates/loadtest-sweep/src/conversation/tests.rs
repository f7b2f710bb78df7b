//! Seeding: a conversation's user messages depend only on (seed, conversation, turn).

use proptest::prelude::*;

use super::*;
use crate::dispatch::Sent;
use crate::inputs::InputSource;

fn plan(seed: u64) -> (ConversationPlan, InputPlan) {
    let config = Conversations {
        turns: Turns::Fixed(4),
        think_time: "uniform:0:2".parse().unwrap(),
    };
    let inputs = InputPlan::new(
        InputSource::Synthetic("uniform:5:30".parse().unwrap()),
        "uniform:1:64".parse().unwrap(),
        seed,
    );
    (ConversationPlan::new(&config, seed, None), inputs)
}

/// One request of a replayed conversation: id, prompt, length, `max_tokens`, think time after.
type Turn = (u64, Prompt, Option<u64>, u64, Option<Duration>);

/// Runs conversation `index` with the given answers; every request's id, prompt, length and
/// `max_tokens`, and every think time.
fn replay(seed: u64, index: u64, answers: &[String]) -> Vec<Turn> {
    let (plan, inputs) = plan(seed);
    let mut conversation = Conversation {
        index,
        turn: 0,
        turns: 0,
        messages: Vec::new(),
        tokens: None,
    };
    let mut out = Vec::new();
    for answer in answers {
        let (id, request, place) = conversation.next_request(&plan, &inputs);
        assert_eq!(place.conversation, index);
        let sent = Sent {
            status: Status::Ok,
            took: Duration::ZERO,
            end: std::time::Instant::now(),
            answer: place.keep_answer.then(|| (answer.clone(), false)),
        };
        let think = conversation.after(&plan, sent);
        out.push((
            id,
            request.prompt,
            request.input_tokens_target,
            request.max_tokens,
            think,
        ));
        if think.is_none() {
            break;
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_same_seed_gives_the_same_conversation(
        seed in any::<u64>(),
        index in 0u64..1_000_000,
        answers in proptest::collection::vec("[a-z ]{0,40}", 4),
    ) {
        let a = replay(seed, index, &answers);
        prop_assert_eq!(a.len(), 4);
        prop_assert_eq!(&a, &replay(seed, index, &answers));
        for (turn, (id, prompt, tokens, _, think)) in a.iter().enumerate() {
            prop_assert_eq!(*id, index * 4 + turn as u64);
            prop_assert_eq!(think.is_some(), turn < 3);
            let messages = prompt.chat_messages();
            // user, (assistant, user) per later turn, each answer as it was received.
            prop_assert_eq!(messages.len(), 1 + 2 * turn);
            for k in 0..turn {
                prop_assert_eq!(&messages[1 + 2 * k].role, "assistant");
                prop_assert_eq!(&messages[1 + 2 * k].content, &answers[k]);
            }
            let words: u64 = messages
                .iter()
                .map(|m| m.content.split_whitespace().count() as u64)
                .sum();
            prop_assert_eq!(*tokens, Some(words));
        }
        // Turn 0 is the run's prompt `index`, as a single-turn run sends it.
        let (_, inputs) = plan(seed);
        prop_assert_eq!(&a[0].1, &inputs.inputs(index).prompt);
        // Another seed, other user messages.
        let other = replay(seed ^ 1, index, &answers);
        prop_assert_ne!(&a[1].1, &other[1].1);
    }
}

#[test]
fn a_failed_turn_ends_the_conversation() {
    let (plan, inputs) = plan(3);
    let mut conversation = Conversation {
        index: 2,
        turn: 0,
        turns: 0,
        messages: Vec::new(),
        tokens: None,
    };
    let _ = conversation.next_request(&plan, &inputs);
    let sent = Sent {
        status: Status::HttpError,
        took: Duration::ZERO,
        end: std::time::Instant::now(),
        answer: None,
    };
    assert_eq!(conversation.after(&plan, sent), None);
}

/// A pool of rows of 1, 2 and 3 turns (`--turns dataset`), with their answer lengths.
fn dataset_plan(use_output_len: bool) -> (ConversationPlan, InputPlan) {
    use crate::dataset::{DatasetPool, DatasetRow, DatasetTurn};
    let row = |n: usize| DatasetRow {
        prompt: Prompt::text(&format!("row{n} turn0")),
        prompt_tokens: 2,
        output_tokens: Some(7),
        turns: (1..n)
            .map(|k| DatasetTurn {
                text: format!("row{n} turn{k}"),
                tokens: 2,
                output_tokens: (k + 1 < n).then_some(10 + k as u64),
            })
            .collect(),
    };
    let facts = loadtest_run::DatasetFacts {
        conversations: Some(loadtest_run::DatasetTurnFacts::default()),
        ..loadtest_run::DatasetFacts::default()
    };
    let pool = DatasetPool::from_rows(vec![row(1), row(2), row(3)], facts, use_output_len, 9);
    let config = Conversations {
        turns: Turns::Dataset,
        think_time: ThinkTime::NONE,
    };
    let inputs = InputPlan::new(
        InputSource::Dataset(std::sync::Arc::new(pool)),
        "50".parse().unwrap(),
        9,
    );
    (ConversationPlan::new(&config, 9, None), inputs)
}

#[test]
fn dataset_turns_are_the_rows_turns_and_end_with_the_row() {
    for use_output_len in [true, false] {
        let (plan, inputs) = dataset_plan(use_output_len);
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..40u64 {
            let InputSource::Dataset(pool) = inputs.source() else {
                unreachable!()
            };
            let row = pool.pick(index).unwrap();
            let n = row.turns.len() + 1;
            seen.insert(n);
            let mut conversation = Conversation {
                index,
                turn: 0,
                turns: 0,
                messages: Vec::new(),
                tokens: None,
            };
            for k in 0..n {
                let (id, request, place) = conversation.next_request(&plan, &inputs);
                assert_eq!(id, index * u64::from(MAX_TURNS) + k as u64);
                assert_eq!((place.turn, place.turns), (k as u32, Some(n as u32)));
                assert_eq!(place.keep_answer, k + 1 < n);
                let messages = request.prompt.chat_messages();
                assert_eq!(messages.len(), 1 + 2 * k);
                let users: Vec<&str> = messages
                    .iter()
                    .filter(|m| m.role == "user")
                    .map(|m| m.content.as_str())
                    .collect();
                let want: Vec<String> = (0..=k).map(|j| format!("row{n} turn{j}")).collect();
                assert_eq!(users, want);
                // The answer lengths are the row's with --output-len dataset (none for a
                // last turn without one: --max-output-tokens then).
                let want_max = match k {
                    _ if !use_output_len => 50,
                    0 => 7,
                    k if k + 1 < n => 10 + k as u64,
                    _ => 50,
                };
                assert_eq!(request.max_tokens, want_max, "row {n} turn {k}");
                // Each user message 2 words, each answer ("an answer") 2.
                assert_eq!(request.input_tokens_target, Some(2 + 4 * k as u64));
                let sent = Sent {
                    status: Status::Ok,
                    took: Duration::ZERO,
                    end: std::time::Instant::now(),
                    answer: place.keep_answer.then(|| ("an answer".to_owned(), false)),
                };
                // The row's last turn completes the conversation: no next turn.
                assert_eq!(conversation.after(&plan, sent).is_some(), k + 1 < n);
            }
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
    }
}

//! Multi-turn conversations (`--turns N` or `--turns dataset`, `--think-time-s`): each
//! virtual user keeps its conversation — the messages grow with the answers it actually
//! received — and sends turn `k + 1` after the answer to turn `k` plus a think time.
//!
//! - **Ids.** Conversation `c` (this process's `k`-th is the run's `k·n + i` with
//!   `--shard i/n`, so shards partition conversations) sends requests `c·N + t`, `t` = 0 … N−1
//!   (with `--turns dataset`, `N` is [`MAX_TURNS`], the most a row may have): every turn is a
//!   request with its own id, unique in the run.
//! - **Inputs.** Turn 0 is the run's prompt `c` ([`crate::inputs::InputPlan::inputs`], what a
//!   single-turn run's request `c` sends). Turn `t > 0` appends the answer to turn `t − 1`
//!   (the text the server streamed, at most [`MAX_ANSWER_BYTES`]) as an `assistant` message
//!   and a new `user` message: with `--turns N`, from `(seed, c·N + t)`
//!   ([`crate::inputs::InputPlan::turn_inputs`]); with `--turns dataset`, the `t`-th human
//!   turn of conversation `c`'s row (the row request `c` draws, `g(seed, c) mod pool`), whose
//!   number of turns is the conversation's. So the user messages depend only on the seed and
//!   the ids.
//! - **Failures.** A turn that fails ends its conversation: the remaining turns are not sent,
//!   and the step counts it in `conversations_aborted`. A turn cancelled by the tool (Ctrl-C,
//!   the drain) ends it too, as the run does. A conversation whose last turn was answered —
//!   with `--turns dataset`, its row had no more turns — is complete, not aborted.
//! - **Load.** The closed loop's concurrency counts users (each runs conversations back to
//!   back); rate mode's arrivals start conversations, whose later turns follow their answers.

mod answer;
pub(crate) mod check;
pub(crate) mod drive;
pub(crate) mod stats;
mod think;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use loadtest_client::{ChatMessage, Prompt};
use loadtest_dist::Sampler;
use loadtest_run::Status;

pub(crate) use answer::AnswerSink;
pub use answer::MAX_ANSWER_BYTES;
pub use think::{MAX_THINK_TIME_S, ThinkTime, ThinkTimeError};

pub use loadtest_run::Turns;

use crate::dataset::DatasetPool;
use crate::dispatch::{DispatchShared, Sent};
use crate::inputs::{InputPlan, InputSource, RequestInputs};
use crate::tokenize::TokenCounter;

/// The most turns a conversation may have.
pub const MAX_TURNS: u32 = 1000;

/// `--turns` and `--think-time-s`: every conversation has `turns` turns (requests), and a
/// user waits `think_time` after each answer before sending the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    /// Turns per conversation: [`Turns::Fixed`], 1 ..= [`MAX_TURNS`], or [`Turns::Dataset`]
    /// (each conversation is a row of a ShareGPT dataset read with
    /// [`crate::dataset::DatasetOptions::turns`], and has the row's turns).
    pub turns: Turns,
    /// The wait between an answer and the next turn.
    pub think_time: ThinkTime,
}

/// What every conversation of a run shares.
#[derive(Debug)]
pub(crate) struct ConversationPlan {
    turns: Turns,
    think: Sampler,
    tokenizer: Option<Arc<TokenCounter>>,
    /// This process's conversations so far.
    next: AtomicU64,
    /// An answer was cut at [`MAX_ANSWER_BYTES`] (warned once).
    truncated: AtomicBool,
}

/// A request's place in its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TurnOf {
    pub conversation: u64,
    pub turn: u32,
    /// Keep the answer's text: a later turn will send it back.
    pub keep_answer: bool,
    /// `--turns dataset`: the conversation's number of turns (its row's).
    pub turns: Option<u32>,
}

impl ConversationPlan {
    pub(crate) fn new(
        config: &Conversations,
        seed: u64,
        tokenizer: Option<Arc<TokenCounter>>,
    ) -> Self {
        ConversationPlan {
            turns: match config.turns {
                Turns::Fixed(n) => Turns::Fixed(n.max(1)),
                Turns::Dataset => Turns::Dataset,
            },
            think: config.think_time.sampler(seed),
            tokenizer,
            next: AtomicU64::new(0),
            truncated: AtomicBool::new(false),
        }
    }

    /// This process's next conversation.
    pub(crate) fn start(&self, shared: &DispatchShared) -> Conversation {
        let local = self.next.fetch_add(1, Ordering::Relaxed);
        Conversation {
            index: shared.shard.global_index(local),
            turn: 0,
            turns: 1,
            messages: Vec::new(),
            tokens: None,
        }
    }

    /// Request ids per conversation: `N` with `--turns N`, [`MAX_TURNS`] with `--turns
    /// dataset`.
    fn stride(&self) -> u64 {
        match self.turns {
            Turns::Fixed(n) => u64::from(n),
            Turns::Dataset => u64::from(MAX_TURNS),
        }
    }

    /// A message's length as the prompt lengths are counted: tokens with a tokenizer, words
    /// otherwise.
    fn count(&self, text: &str) -> u64 {
        match &self.tokenizer {
            Some(counter) => counter.count_content(text),
            None => text.split_whitespace().count() as u64,
        }
    }
}

/// One conversation in progress.
#[derive(Debug)]
pub(crate) struct Conversation {
    index: u64,
    turn: u32,
    /// Its number of turns (set when turn 0 is sent).
    turns: u32,
    messages: Vec<ChatMessage>,
    /// The messages' length so far, when turn 0's was known.
    tokens: Option<u64>,
}

impl Conversation {
    /// The next turn's request: its id, inputs and place.
    pub(crate) fn next_request(
        &mut self,
        plan: &ConversationPlan,
        inputs: &InputPlan,
    ) -> (u64, RequestInputs, TurnOf) {
        if self.turn == 0 {
            self.turns = match plan.turns {
                Turns::Fixed(n) => n,
                Turns::Dataset => dataset_row(inputs, self.index).map_or(1, |(_, row)| {
                    u32::try_from(row.turns.len())
                        .map_or(MAX_TURNS, |n| n.saturating_add(1).min(MAX_TURNS))
                }),
            };
        }
        let id = self.id(plan);
        let place = TurnOf {
            conversation: self.index,
            turn: self.turn,
            keep_answer: self.turn + 1 < self.turns,
            turns: (plan.turns == Turns::Dataset).then_some(self.turns),
        };
        if self.turn == 0 {
            // The run's prompt `c`, sent as a single-turn run sends it.
            let first = inputs.inputs(self.index);
            self.messages = first.prompt.chat_messages();
            self.tokens = first.input_tokens_target;
            return (id, first, place);
        }
        let (text, count, max_tokens) = match plan.turns {
            Turns::Fixed(_) => inputs.turn_inputs(id),
            Turns::Dataset => self.dataset_turn(inputs, id),
        };
        let n = count.unwrap_or_else(|| plan.count(&text));
        self.tokens = self.tokens.map(|t| t.saturating_add(n));
        self.messages.push(ChatMessage {
            role: "user".to_owned(),
            content: text,
        });
        let request = RequestInputs {
            prompt: Prompt::messages(&self.messages),
            input_tokens_target: self.tokens,
            max_tokens,
        };
        (id, request, place)
    }

    /// Takes the outcome of the turn just sent: the think time before the next turn, or
    /// `None` when the conversation is over (its last turn, or a turn that did not succeed).
    pub(crate) fn after(&mut self, plan: &ConversationPlan, sent: Sent) -> Option<Duration> {
        if sent.status != Status::Ok || self.turn + 1 >= self.turns {
            return None;
        }
        let (text, truncated) = sent.answer.unwrap_or_default();
        if truncated && !plan.truncated.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                conversation = self.index,
                turn = self.turn,
                "an answer was longer than {} MiB: its conversation goes on with it cut there",
                MAX_ANSWER_BYTES / (1024 * 1024)
            );
        }
        let n = plan.count(&text);
        self.tokens = self.tokens.map(|t| t.saturating_add(n));
        self.messages.push(ChatMessage {
            role: "assistant".to_owned(),
            content: text,
        });
        self.turn += 1;
        Some(ThinkTime::draw(&plan.think, self.id(plan)))
    }

    /// The request id of the turn to send next.
    fn id(&self, plan: &ConversationPlan) -> u64 {
        self.index
            .saturating_mul(plan.stride())
            .saturating_add(u64::from(self.turn))
    }

    /// `--turns dataset`: the user message of turn `self.turn ≥ 1`, request `id` — the row's
    /// human turn, its length as counted when the dataset was read, and its `max_tokens`
    /// (the row's answer length with `--output-len dataset`, else drawn as `--turns N`
    /// draws it).
    fn dataset_turn(&self, inputs: &InputPlan, id: u64) -> (String, Option<u64>, u64) {
        let at = (self.turn as usize).saturating_sub(1);
        let turn = dataset_row(inputs, self.index).and_then(|(pool, row)| {
            let turn = row.turns.get(at)?;
            Some((pool.uses_output_len(), turn))
        });
        match turn {
            Some((use_output_len, turn)) => {
                let max_tokens = match turn.output_tokens {
                    Some(n) if use_output_len => n,
                    _ => inputs.turn_max_tokens(id),
                };
                (turn.text.clone(), Some(turn.tokens), max_tokens)
            }
            // The conversation's turns are its row's, so there is always one; a plan without
            // a dataset (refused by validation) sends what `--turns N` would.
            None => inputs.turn_inputs(id),
        }
    }
}

/// The dataset pool of `inputs` and conversation `index`'s row in it.
fn dataset_row(
    inputs: &InputPlan,
    index: u64,
) -> Option<(&DatasetPool, &crate::dataset::DatasetRow)> {
    match inputs.source() {
        InputSource::Dataset(pool) => pool.pick(index).map(|row| (pool.as_ref(), row)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

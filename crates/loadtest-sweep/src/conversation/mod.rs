//! Multi-turn conversations (`--turns N`, `--think-time-s`): each virtual user keeps its
//! conversation — the messages grow with the answers it actually received — and sends turn
//! `k + 1` after the answer to turn `k` plus a think time.
//!
//! - **Ids.** Conversation `c` (this process's `k`-th is the run's `k·n + i` with
//!   `--shard i/n`, so shards partition conversations) sends requests `c·N + t`, `t` = 0 … N−1:
//!   every turn is a request with its own id, unique in the run.
//! - **Inputs.** Turn 0 is the run's prompt `c` ([`crate::inputs::InputPlan::inputs`], what a
//!   single-turn run's request `c` sends). Turn `t > 0` appends the answer to turn `t − 1`
//!   (the text the server streamed, at most [`MAX_ANSWER_BYTES`]) as an `assistant` message
//!   and a new `user` message ([`crate::inputs::InputPlan::turn_inputs`], from
//!   `(seed, c·N + t)`). So the user messages depend only on the seed and the ids.
//! - **Failures.** A turn that fails ends its conversation: the remaining turns are not sent,
//!   and the step counts it in `conversations_aborted`. A turn cancelled by the tool (Ctrl-C,
//!   the drain) ends it too, as the run does.
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

use crate::dispatch::{DispatchShared, Sent};
use crate::inputs::{InputPlan, RequestInputs};
use crate::tokenize::TokenCounter;

/// The most turns a conversation may have.
pub const MAX_TURNS: u32 = 1000;

/// `--turns` and `--think-time-s`: every conversation has `turns` turns (requests), and a
/// user waits `think_time` after each answer before sending the next.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversations {
    /// Turns per conversation, 1 ..= [`MAX_TURNS`].
    pub turns: u32,
    /// The wait between an answer and the next turn.
    pub think_time: ThinkTime,
}

/// What every conversation of a run shares.
#[derive(Debug)]
pub(crate) struct ConversationPlan {
    turns: u32,
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
}

impl ConversationPlan {
    pub(crate) fn new(
        config: &Conversations,
        seed: u64,
        tokenizer: Option<Arc<TokenCounter>>,
    ) -> Self {
        ConversationPlan {
            turns: config.turns.max(1),
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
            messages: Vec::new(),
            tokens: None,
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
        let id = self
            .index
            .saturating_mul(u64::from(plan.turns))
            .saturating_add(u64::from(self.turn));
        let place = TurnOf {
            conversation: self.index,
            turn: self.turn,
            keep_answer: self.turn + 1 < plan.turns,
        };
        if self.turn == 0 {
            // The run's prompt `c`, sent as a single-turn run sends it.
            let first = inputs.inputs(self.index);
            self.messages = first.prompt.chat_messages();
            self.tokens = first.input_tokens_target;
            return (id, first, place);
        }
        let (text, count, max_tokens) = inputs.turn_inputs(id);
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
        if sent.status != Status::Ok || self.turn + 1 >= plan.turns {
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
        let next_id = self
            .index
            .saturating_mul(u64::from(plan.turns))
            .saturating_add(u64::from(self.turn));
        Some(ThinkTime::draw(&plan.think, next_id))
    }
}

#[cfg(test)]
mod tests;

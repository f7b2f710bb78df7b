//! Multi-turn conversations (`--turns`): a step's statistics per turn index, in
//! `step_summary.json`'s `turns`.

use serde::{Deserialize, Serialize};

use crate::LatencyStats;

/// One turn index of a step's conversations: its measure-phase requests (the turns with that
/// index that started in the step's window), their TTFT and the prompt tokens the server
/// counted. Turn `k > 0` sends the whole conversation so far, so its prompt grows with the
/// answers received; a server with a prefix cache answers it faster than its length says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnStats {
    /// The turn index, 0-based.
    pub turn: u32,
    /// Measure-phase requests of this turn index.
    pub requests: u64,
    /// Of them, `ok`.
    pub ok: u64,
    /// Of them, failed (any status but `ok` and `cancelled`): each ended its conversation.
    pub failed: u64,
    /// TTFT of the `ok` ones.
    pub ttft_s: Option<LatencyStats>,
    /// Mean of the server's `usage.prompt_tokens` over the `ok` ones that reported it.
    pub prompt_tokens_mean: Option<f64>,
    /// Largest such `prompt_tokens`.
    pub prompt_tokens_max: Option<u64>,
    /// Mean `usage.prompt_tokens_details.cached_tokens` over the `ok` ones that reported it
    /// (vLLM sends it with `--enable-prompt-tokens-details`): the prefix cache's share.
    pub cached_tokens_mean: Option<f64>,
}

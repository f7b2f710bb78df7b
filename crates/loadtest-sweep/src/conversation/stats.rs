//! A step's numbers per turn index (`--turns`): folded from its measure-phase rows by the
//! recorder (and by `merge`, through the same fold), summarised into
//! `step_summary.json`'s `turns` and `conversations_aborted`.

use std::collections::BTreeMap;

use loadtest_run::{LatencyStats, RequestRow, Status, TurnStats};

/// The rows of one turn index.
#[derive(Debug, Default)]
struct TurnAcc {
    requests: u64,
    ok: u64,
    failed: u64,
    ttft_s: Vec<f64>,
    prompt_tokens_n: u64,
    prompt_tokens_sum: u64,
    prompt_tokens_max: u64,
    cached_tokens_n: u64,
    cached_tokens_sum: u64,
}

/// Per turn index, the measure-phase rows of one step (empty for single-turn runs, whose
/// rows have no `turn`).
#[derive(Debug, Default)]
pub(crate) struct TurnsAccumulator {
    turns: BTreeMap<u32, TurnAcc>,
}

impl TurnsAccumulator {
    /// Adds a measure-phase row (one without a `turn` is not a conversation's).
    pub(crate) fn add(&mut self, row: &RequestRow) {
        let Some(turn) = row.turn else {
            return;
        };
        let acc = self.turns.entry(turn).or_default();
        acc.requests += 1;
        match row.status {
            Status::Ok => {
                acc.ok += 1;
                acc.ttft_s.extend(row.ttft_s);
                if let Some(n) = row.prompt_tokens {
                    acc.prompt_tokens_n += 1;
                    acc.prompt_tokens_sum = acc.prompt_tokens_sum.saturating_add(n);
                    acc.prompt_tokens_max = acc.prompt_tokens_max.max(n);
                }
                if let Some(n) = row.cached_tokens {
                    acc.cached_tokens_n += 1;
                    acc.cached_tokens_sum = acc.cached_tokens_sum.saturating_add(n);
                }
            }
            // Cancelled by the tool (Ctrl-C, the drain's end): the run ended, not the turn.
            Status::Cancelled => {}
            _ => acc.failed += 1,
        }
    }

    /// The table for step_summary.json, and how many conversations a failed turn ended
    /// before their last turn (`turns`: the run's turns per conversation).
    pub(crate) fn summary(&self, turns: Option<u32>) -> (Vec<TurnStats>, u64) {
        let mean = |sum: u64, n: u64| (n > 0).then(|| sum as f64 / n as f64);
        let table = self
            .turns
            .iter()
            .map(|(&turn, acc)| TurnStats {
                turn,
                requests: acc.requests,
                ok: acc.ok,
                failed: acc.failed,
                ttft_s: LatencyStats::from_values(&mut acc.ttft_s.clone()),
                prompt_tokens_mean: mean(acc.prompt_tokens_sum, acc.prompt_tokens_n),
                prompt_tokens_max: (acc.prompt_tokens_n > 0).then_some(acc.prompt_tokens_max),
                cached_tokens_mean: mean(acc.cached_tokens_sum, acc.cached_tokens_n),
            })
            .collect();
        let aborted = self
            .turns
            .iter()
            .filter(|(turn, _)| turns.is_some_and(|n| turn.saturating_add(1) < n))
            .map(|(_, acc)| acc.failed)
            .sum();
        (table, aborted)
    }
}

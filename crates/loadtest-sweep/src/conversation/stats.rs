//! A step's numbers per turn index (`--turns`): folded from its measure-phase rows by the
//! recorder (and by `merge`, through the same fold), summarised into
//! `step_summary.json`'s `turns` and `conversations_aborted`.

use std::collections::BTreeMap;

use loadtest_run::{LatencyStats, RequestRow, Status, TurnStats, Turns};

/// The rows of one turn index.
#[derive(Debug, Default)]
struct TurnAcc {
    requests: u64,
    ok: u64,
    failed: u64,
    /// Failed rows whose conversation had more turns (`conversation_turns`, `--turns
    /// dataset`): each ended its conversation early.
    failed_before_last: u64,
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
            _ => {
                acc.failed += 1;
                if row
                    .conversation_turns
                    .is_some_and(|n| turn.saturating_add(1) < n)
                {
                    acc.failed_before_last += 1;
                }
            }
        }
    }

    /// The table for step_summary.json, and how many conversations a failed turn ended
    /// before their last turn (`turns`: the run's turns per conversation; with
    /// [`Turns::Dataset`] each row says its conversation's). A conversation that ended with
    /// its last turn — with `--turns dataset`, its row had no more — is complete, even when
    /// that last turn failed.
    pub(crate) fn summary(&self, turns: Option<Turns>) -> (Vec<TurnStats>, u64) {
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
        let aborted = match turns {
            Some(Turns::Fixed(n)) => self
                .turns
                .iter()
                .filter(|(turn, _)| turn.saturating_add(1) < n)
                .map(|(_, acc)| acc.failed)
                .sum(),
            Some(Turns::Dataset) => self.turns.values().map(|acc| acc.failed_before_last).sum(),
            None => 0,
        };
        (table, aborted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A measure-phase row of `turn`, `ok` or failed, of a conversation of `turns` turns
    /// (`--turns dataset`) or of unsaid length (`--turns N`).
    fn row(turn: u32, ok: bool, turns: Option<u32>) -> RequestRow {
        let mut row: RequestRow = serde_json::from_value(serde_json::json!({
            "id": 0, "start_unix_s": 0.0, "start_s": 0.0, "total_s": 0.1, "chunks": 1,
            "status": if ok { "ok" } else { "http_error" },
            "ttft_s": 0.01, "prompt_tokens": 10 + turn,
        }))
        .unwrap();
        row.conversation = Some(0);
        row.turn = Some(turn);
        row.conversation_turns = turns;
        row
    }

    #[test]
    fn a_failed_last_turn_of_a_dataset_row_completes_its_conversation() {
        let mut acc = TurnsAccumulator::default();
        // Rows of 1, 2 and 3 turns: a failed turn 0 of the 1-turn row and a failed turn 1 of
        // the 2-turn row were their rows' last (complete); a failed turn 1 of the 3-turn row
        // ended it early (aborted).
        acc.add(&row(0, false, Some(1)));
        acc.add(&row(0, true, Some(2)));
        acc.add(&row(1, false, Some(2)));
        acc.add(&row(0, true, Some(3)));
        acc.add(&row(1, false, Some(3)));
        // And a 2-turn row answered to its end.
        acc.add(&row(0, true, Some(2)));
        acc.add(&row(1, true, Some(2)));
        let (table, aborted) = acc.summary(Some(Turns::Dataset));
        assert_eq!(aborted, 1);
        // Turn k's population is the conversations that reached turn k.
        let counts: Vec<(u32, u64, u64)> = table
            .iter()
            .map(|t| (t.turn, t.requests, t.failed))
            .collect();
        assert_eq!(counts, vec![(0, 4, 1), (1, 3, 2)]);
        assert_eq!(table[1].prompt_tokens_mean, Some(11.0));
        // Read as `--turns 3`, the same failures would all be early ends.
        assert_eq!(acc.summary(Some(Turns::Fixed(3))).1, 3);
        assert_eq!(acc.summary(None).1, 0);
    }
}

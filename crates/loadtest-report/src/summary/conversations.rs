//! The conversations section (`--turns`): per step and turn index, the client's TTFT and the
//! prompt the server counted, beside the server's prefix-cache hit rate — turn ≥ 1 resends
//! the conversation so far, which a prefix cache answers without recomputing.

use std::fmt::Write as _;

use super::load_cell;
use crate::RunData;
use crate::format::{fixed, latency_pair, percent};

pub(super) fn write(md: &mut String, run: &RunData) {
    let settings = &run.facts.settings;
    let Some(turns) = settings.turns else {
        return;
    };
    let _ = writeln!(md, "\n## Conversations\n");
    let think = settings.think_time_s.as_deref().unwrap_or("0");
    let users = match settings.load_mode {
        loadtest_run::LoadMode::Concurrency => {
            "The load is users: each runs conversations back to back."
        }
        loadtest_run::LoadMode::Rate => "The load is conversations started per second.",
    };
    let turns = match turns {
        loadtest_run::Turns::Fixed(n) => format!("{n} turns per conversation"),
        loadtest_run::Turns::Dataset => {
            "Each conversation is a dataset row, its human turns in order (a conversation that ran out of turns is complete)".to_owned()
        }
    };
    let _ = writeln!(
        md,
        "{turns}, {think} s of think time after each answer; each turn resends the conversation so far, so its prompt grows with the answers received. {users} A server with prefix caching shows hits and a turn ≥ 1 TTFT that does not grow with the prompt. A failed turn ends its conversation.\n"
    );
    let _ = writeln!(
        md,
        "| load | turn | requests | failed | TTFT p50 / p99 | prompt tokens mean / max | cached tokens mean | prefix-cache hits (step) |"
    );
    let _ = writeln!(md, "|---:|---:|---:|---:|---:|---:|---:|---:|");
    for step in &run.summary.steps {
        let hits = percent(step.server.as_ref().and_then(|s| s.prefix_cache_hit_rate));
        for t in &step.turns {
            let ttft = t.ttft_s.as_ref();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} / {} | {} | {hits} |",
                load_cell(step),
                t.turn,
                t.requests,
                t.failed,
                latency_pair(ttft.map(|s| s.p50), ttft.map(|s| s.p99)),
                fixed(t.prompt_tokens_mean, 0),
                t.prompt_tokens_max
                    .map_or_else(String::new, |m| m.to_string()),
                fixed(t.cached_tokens_mean, 0),
            );
        }
    }
    let aborted: Vec<String> = run
        .summary
        .steps
        .iter()
        .filter(|s| s.conversations_aborted > 0)
        .map(|s| format!("{} at {}", s.conversations_aborted, load_cell(s)))
        .collect();
    if !aborted.is_empty() {
        let _ = writeln!(
            md,
            "\nConversations ended early by a failed turn (their remaining turns were not sent): {}.",
            aborted.join(", ")
        );
    }
}

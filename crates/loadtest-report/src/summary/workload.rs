//! The workload section: how prompt lengths were counted, what a dataset gave, and with shared
//! prefixes the server's prefix-cache hit rate beside the client's TTFT, per step.

use std::fmt::Write as _;

use super::load_cell;
use crate::RunData;
use crate::format::{latency_pair, percent};

pub(super) fn write(md: &mut String, run: &RunData) {
    let settings = &run.facts.settings;
    let overheads: Vec<String> = run
        .summary
        .steps
        .iter()
        .filter_map(|s| {
            s.prompt_overhead_tokens
                .map(|t| format!("{t:.1} at {}", load_cell(s)))
        })
        .collect();
    if settings.dataset.is_none() && settings.shared_prefix.is_none() && overheads.is_empty() {
        return;
    }
    let _ = writeln!(md, "\n## Workload\n");
    if !overheads.is_empty() {
        let _ = writeln!(
            md,
            "Prompt tokens the server counted beyond the client's tokenizer count, mean per request (the chat template's on chat): {}.\n",
            overheads.join(", ")
        );
    }
    let unit = match &settings.token_counting {
        Some(c) if c.method == "tokenizer" => "tokens",
        _ => "words",
    };
    if let Some(d) = &settings.dataset {
        let _ = writeln!(
            md,
            "Dataset `{}` ({}): {} rows read, {} invalid, {} too large; {} examined, {} kept (mean prompt {:.0} {unit}{}); skipped by min / max prompt length / context: {} / {} / {}; output length: {}.",
            d.path.display(),
            d.format,
            d.rows_read,
            d.rows_invalid,
            d.rows_too_large,
            d.rows_examined,
            d.rows_kept,
            d.mean_prompt_tokens,
            d.mean_output_tokens
                .map_or_else(String::new, |m| format!(", mean answer {m:.0} {unit}")),
            d.skipped_min_prompt_tokens,
            d.skipped_max_prompt_tokens,
            d.skipped_max_model_len,
            d.output_len,
        );
    }
    let Some(p) = &settings.shared_prefix else {
        return;
    };
    let _ = writeln!(
        md,
        "Shared prefixes: {} groups of {} {unit}; a server with prefix caching should show hits and a lower TTFT.\n",
        p.groups, p.tokens
    );
    let _ = writeln!(md, "| load | client TTFT p50 / p99 | prefix-cache hits |");
    let _ = writeln!(md, "|---:|---:|---:|");
    for step in &run.summary.steps {
        let ttft = step.ttft_s.as_ref();
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            load_cell(step),
            latency_pair(ttft.map(|t| t.p50), ttft.map(|t| t.p99)),
            percent(step.server.as_ref().and_then(|s| s.prefix_cache_hit_rate)),
        );
    }
}

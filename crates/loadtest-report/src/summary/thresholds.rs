//! The `--fail-on` thresholds of a run: one row per threshold and step checked, with the
//! observed value and its verdict (absent when the run had no threshold).

use std::fmt::Write as _;

use crate::RunData;
use crate::format::{cell, load};

/// Writes the "Thresholds" section when the run has any threshold verdict.
pub(super) fn write(md: &mut String, run: &RunData) {
    let verdicts: Vec<_> = run
        .summary
        .steps
        .iter()
        .flat_map(|s| s.thresholds.iter())
        .collect();
    let unmatched = &run.summary.thresholds_unmatched;
    if verdicts.is_empty() && unmatched.is_empty() {
        return;
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count() + unmatched.len();
    let _ = writeln!(md, "\n## Thresholds\n");
    let _ = writeln!(
        md,
        "{} of {} checks failed (`--fail-on`; a step without the data fails as `no data`).\n",
        failed,
        verdicts.len() + unmatched.len()
    );
    let _ = writeln!(
        md,
        "| threshold | load | observed | verdict |\n|---|---:|---:|---|"
    );
    for v in &verdicts {
        let verdict = match (v.passed, v.no_data) {
            (true, _) => "pass",
            (false, true) => "**FAIL** (no data)",
            (false, false) => "**FAIL**",
        };
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {verdict} |",
            cell(&v.expr, 120),
            load(v.load),
            v.observed_text()
        );
    }
    for expr in unmatched {
        let _ = writeln!(
            md,
            "| `{}` | – | no step at that load | **FAIL** |",
            cell(expr, 120)
        );
    }
}

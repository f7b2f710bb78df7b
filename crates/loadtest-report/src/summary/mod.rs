//! `summary.md`: run facts, the headline, the step table, charts, the server's view with the
//! TTFT breakdown, GPUs, client health, errors and warnings.

mod conversations;
mod facts;
mod glance;
mod health;
mod server;
mod steps;
mod thresholds;
mod workload;

use std::fmt::Write as _;

use loadtest_run::StepSummary;

use crate::RunData;
use crate::charts::ChartKind;
pub(crate) use crate::step_values::{gpu_power_w, gpu_util_pct, has_gpu, has_server};

/// Renders `summary.md` for a run. `charts` are the charts written beside it (linked as
/// `charts/<file>`), in the order they should appear.
pub fn render_summary(run: &RunData, charts: &[ChartKind]) -> String {
    let mut md = String::new();
    facts::write(&mut md, run);
    glance::write(&mut md, run);
    thresholds::write(&mut md, run);
    steps::write(&mut md, run);
    workload::write(&mut md, run);
    conversations::write(&mut md, run);
    write_charts(&mut md, run, charts);
    server::write(&mut md, run);
    health::write_gpu(&mut md, run);
    health::write_client(&mut md, run);
    health::write_errors(&mut md, run);
    health::write_warnings(&mut md, run);
    let _ = writeln!(
        md,
        "\n---\nRendered by `vllm-loadtest report` from config.json and step_summary.json; definitions of every number: docs/metrics.md."
    );
    md
}

fn write_charts(md: &mut String, run: &RunData, charts: &[ChartKind]) {
    let _ = writeln!(md, "\n## Charts\n");
    if charts.is_empty() {
        let _ = writeln!(md, "No chart: no step has data to plot.");
        return;
    }
    for chart in charts {
        let _ = writeln!(
            md,
            "![{}]({}/{})\n",
            chart.title(),
            loadtest_run::files::CHARTS_DIR,
            chart.file_name()
        );
    }
    let missing: Vec<&str> = ChartKind::ALL
        .iter()
        .filter(|k| !charts.contains(k))
        .filter_map(|k| k.why_missing(run))
        .collect();
    for why in missing {
        let _ = writeln!(md, "- {why}");
    }
}

/// The load cell: the level, with `(partial)` / `(client-bound)` flags.
pub(crate) fn load_cell(step: &StepSummary) -> String {
    let mut cell = crate::format::load(step.load);
    if step.partial {
        cell.push_str(" (partial)");
    }
    if step.client.bound {
        cell.push_str(" (client-bound)");
    }
    cell
}

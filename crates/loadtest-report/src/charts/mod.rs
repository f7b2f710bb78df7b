//! The charts of `charts/*.svg`: what each plots ([`spec`]), and how it is drawn ([`draw`]).

mod axis;
mod draw;
mod spec;

use crate::{ReportError, RunData};

/// The charts a report can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChartKind {
    /// Client and server output tokens/s and requests/s vs load.
    Throughput,
    /// TTFT, TPOT and ITL p50 and p99 vs load.
    Latency,
    /// Server running / waiting requests and KV-cache usage vs load.
    Server,
    /// GPU utilisation and power vs load.
    Gpu,
    /// With shared prefixes: the client's TTFT beside the server's prefix-cache hit rate.
    PrefixCache,
}

impl ChartKind {
    /// Every chart, in report order.
    pub const ALL: [ChartKind; 5] = [
        ChartKind::Throughput,
        ChartKind::Latency,
        ChartKind::Server,
        ChartKind::Gpu,
        ChartKind::PrefixCache,
    ];

    /// The file name under `charts/`.
    pub fn file_name(self) -> &'static str {
        match self {
            ChartKind::Throughput => "throughput.svg",
            ChartKind::Latency => "latency.svg",
            ChartKind::Server => "server.svg",
            ChartKind::Gpu => "gpu.svg",
            ChartKind::PrefixCache => "prefix_cache.svg",
        }
    }

    /// The chart's title (also its alt text in summary.md).
    pub fn title(self) -> &'static str {
        match self {
            ChartKind::Throughput => "Throughput vs load",
            ChartKind::Latency => "Latency percentiles vs load",
            ChartKind::Server => "Server queue and KV cache vs load",
            ChartKind::Gpu => "GPU utilisation and power vs load",
            ChartKind::PrefixCache => "TTFT and prefix-cache hits vs load (shared prefixes)",
        }
    }

    /// Why the report has no such chart for `run`; `None` where the chart does not apply to
    /// the run (the prefix-cache chart without shared prefixes), so nothing is said.
    pub(crate) fn why_missing(self, run: &RunData) -> Option<&'static str> {
        Some(match self {
            ChartKind::Throughput | ChartKind::Latency => {
                "No throughput or latency chart: no step has data."
            }
            ChartKind::Server => {
                if run.facts.target.metrics_url.is_none() {
                    "No server chart: `/metrics` was not scraped (`--no-metrics`)."
                } else {
                    "No server chart: no step has `/metrics` deltas."
                }
            }
            ChartKind::Gpu => {
                if run.facts.settings.gpu.enabled {
                    "No GPU chart: no GPU samples were collected."
                } else {
                    "No GPU chart: GPU telemetry was off (`--no-gpu`)."
                }
            }
            ChartKind::PrefixCache => {
                run.facts.settings.shared_prefix.as_ref()?;
                "No prefix-cache chart: no step has a TTFT or a prefix-cache hit rate."
            }
        })
    }
}

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Which chart.
    pub kind: ChartKind,
    /// The SVG document.
    pub svg: String,
}

/// Draws every chart `run` has data for, in [`ChartKind::ALL`] order.
///
/// # Errors
/// [`ReportError::Chart`] when plotters fails (it does not on finite data).
pub fn render_charts(run: &RunData) -> Result<Vec<Chart>, ReportError> {
    let mut charts = Vec::new();
    for kind in ChartKind::ALL {
        let Some(plot) = spec::plot(kind, run) else {
            continue;
        };
        let svg = draw::svg(&plot).map_err(|message| ReportError::Chart {
            chart: kind.file_name().to_owned(),
            message,
        })?;
        charts.push(Chart { kind, svg });
    }
    Ok(charts)
}

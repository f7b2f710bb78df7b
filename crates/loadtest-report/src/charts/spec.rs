//! What each chart plots, taken from the step summaries: series of (load, value) points.

use loadtest_run::LoadMode;
use loadtest_run::StepSummary;
use plotters::style::RGBColor;

use super::ChartKind;
use crate::RunData;
use crate::step_values::{gpu_power_w, gpu_util_pct};

/// Colour-blind-safe palette (Okabe–Ito).
const BLUE: RGBColor = RGBColor(0, 114, 178);
const ORANGE: RGBColor = RGBColor(230, 159, 0);
const GREEN: RGBColor = RGBColor(0, 158, 115);
const VERMILLION: RGBColor = RGBColor(213, 94, 0);
const PURPLE: RGBColor = RGBColor(204, 121, 167);

/// The y axis a series is read on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Axis {
    /// Left.
    Primary,
    /// Right.
    Secondary,
}

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stroke {
    /// Solid line, round markers.
    Solid,
    /// Dashed line, triangle markers.
    Dashed,
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub label: String,
    pub color: RGBColor,
    pub stroke: Stroke,
    pub axis: Axis,
    /// (load, value), finite values only.
    pub points: Vec<(f64, f64)>,
}

/// A whole chart.
#[derive(Debug, Clone)]
pub(crate) struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y2_label: Option<String>,
    /// Use a log y axis when the primary values span more than [`LOG_RATIO`].
    pub y_log_when_wide: bool,
    pub series: Vec<Series>,
}

/// Primary values spanning more than this ratio (max / min) get a log y axis.
pub(crate) const LOG_RATIO: f64 = 20.0;

fn series(
    label: &str,
    color: RGBColor,
    stroke: Stroke,
    axis: Axis,
    steps: &[StepSummary],
    value: impl Fn(&StepSummary) -> Option<f64>,
) -> Option<Series> {
    let points: Vec<(f64, f64)> = steps
        .iter()
        .filter_map(|s| value(s).filter(|v| v.is_finite()).map(|v| (s.load, v)))
        .filter(|(x, _)| x.is_finite())
        .collect();
    (!points.is_empty()).then(|| Series {
        label: label.to_owned(),
        color,
        stroke,
        axis,
        points,
    })
}

/// The plot of `kind` for `run`, or `None` when the run has no data for it.
pub(crate) fn plot(kind: ChartKind, run: &RunData) -> Option<Plot> {
    use Axis::{Primary, Secondary};
    use Stroke::{Dashed, Solid};
    let steps = &run.summary.steps;
    if steps.is_empty() {
        return None;
    }
    let x_label = match run.facts.settings.load_mode {
        LoadMode::Concurrency => "load (concurrent requests)".to_owned(),
        LoadMode::Rate => "load (offered requests/s)".to_owned(),
    };
    let ms = |x: Option<f64>| x.map(|s| s * 1e3);
    let (y_label, y2_label, log, list): (&str, Option<&str>, bool, Vec<Option<Series>>) = match kind
    {
        ChartKind::Throughput => (
            "output tokens/s",
            Some("requests/s"),
            false,
            vec![
                series("client output tok/s", BLUE, Solid, Primary, steps, |s| {
                    Some(s.output_tokens_per_s)
                }),
                series(
                    "server generation tok/s",
                    ORANGE,
                    Dashed,
                    Primary,
                    steps,
                    |s| s.server.as_ref().and_then(|v| v.generation_tokens_per_s),
                ),
                series(
                    "client req/s (right axis)",
                    GREEN,
                    Solid,
                    Secondary,
                    steps,
                    |s| Some(s.rps),
                ),
                series(
                    "goodput req/s (SLO, right axis)",
                    PURPLE,
                    Dashed,
                    Secondary,
                    steps,
                    |s| s.slo.as_ref().map(|v| v.goodput_rps),
                ),
            ],
        ),
        ChartKind::Latency => (
            "milliseconds",
            None,
            true,
            vec![
                series("TTFT p50", BLUE, Solid, Primary, steps, |s| {
                    ms(s.ttft_s.map(|x| x.p50))
                }),
                series("TTFT p99", BLUE, Dashed, Primary, steps, |s| {
                    ms(s.ttft_s.map(|x| x.p99))
                }),
                series("TPOT p50", VERMILLION, Solid, Primary, steps, |s| {
                    ms(s.tpot_s.map(|x| x.p50))
                }),
                series("TPOT p99", VERMILLION, Dashed, Primary, steps, |s| {
                    ms(s.tpot_s.map(|x| x.p99))
                }),
                series("ITL p50", GREEN, Solid, Primary, steps, |s| {
                    ms(s.itl_s.map(|x| x.p50))
                }),
                series("ITL p99", GREEN, Dashed, Primary, steps, |s| {
                    ms(s.itl_s.map(|x| x.p99))
                }),
            ],
        ),
        ChartKind::Server => {
            if !crate::step_values::has_server(steps) {
                return None;
            }
            (
                "requests",
                Some("KV cache usage (%)"),
                false,
                vec![
                    series("running (mean)", BLUE, Solid, Primary, steps, |s| {
                        s.server.as_ref().and_then(|v| v.running_mean)
                    }),
                    series("waiting (mean)", ORANGE, Solid, Primary, steps, |s| {
                        s.server.as_ref().and_then(|v| v.waiting_mean)
                    }),
                    series(
                        "KV cache % (mean, right axis)",
                        PURPLE,
                        Dashed,
                        Secondary,
                        steps,
                        |s| {
                            s.server
                                .as_ref()
                                .and_then(|v| v.kv_cache_usage_mean)
                                .map(|k| k * 100.0)
                        },
                    ),
                ],
            )
        }
        ChartKind::Gpu => {
            if !crate::step_values::has_gpu(steps) {
                return None;
            }
            (
                "GPU utilisation (%)",
                Some("power (W)"),
                false,
                vec![
                    series(
                        "GPU util % (mean of GPUs)",
                        BLUE,
                        Solid,
                        Primary,
                        steps,
                        gpu_util_pct,
                    ),
                    series(
                        "power W (all GPUs, right axis)",
                        VERMILLION,
                        Dashed,
                        Secondary,
                        steps,
                        gpu_power_w,
                    ),
                ],
            )
        }
        ChartKind::PrefixCache => {
            run.facts.settings.shared_prefix.as_ref()?;
            (
                "TTFT (milliseconds)",
                Some("prefix-cache hits (%)"),
                false,
                vec![
                    series("client TTFT p50", BLUE, Solid, Primary, steps, |s| {
                        ms(s.ttft_s.map(|x| x.p50))
                    }),
                    series("client TTFT p99", BLUE, Dashed, Primary, steps, |s| {
                        ms(s.ttft_s.map(|x| x.p99))
                    }),
                    series(
                        "server prefix-cache hits % (right axis)",
                        GREEN,
                        Solid,
                        Secondary,
                        steps,
                        |s| {
                            s.server
                                .as_ref()
                                .and_then(|v| v.prefix_cache_hit_rate)
                                .map(|r| r * 100.0)
                        },
                    ),
                ],
            )
        }
    };
    let series: Vec<Series> = list.into_iter().flatten().collect();
    if series.is_empty() {
        return None;
    }
    Some(Plot {
        title: kind.title().to_owned(),
        x_label,
        y_label: y_label.to_owned(),
        y2_label: y2_label.map(str::to_owned),
        y_log_when_wide: log,
        series,
    })
}

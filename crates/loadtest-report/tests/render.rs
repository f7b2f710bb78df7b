//! summary.md, charts and errors, on committed run folders (see data/README.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use loadtest_report::{
    ChartKind, ReportError, RunData, render_charts, render_run_to, render_summary,
};
use loadtest_run::ReadError;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn summary_of(name: &str) -> String {
    let run = RunData::load(&data(name)).unwrap();
    let kinds: Vec<ChartKind> = render_charts(&run)
        .unwrap()
        .iter()
        .map(|c| c.kind)
        .collect();
    render_summary(&run, &kinds)
}

/// Times, ports and temp paths vary between runs of the generator: filter them.
macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[TIME]"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
            (r"/tmp/[^` |)]+", "[TMP]"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn summary_of_a_full_run() {
    let md = summary_of("run_a");
    assert!(!md.contains("NaN") && !md.contains("inf"), "{md}");
    for section in [
        "## At a glance",
        "## Steps",
        "## Charts",
        "## Server view",
        "### Time to first token: client vs server",
        "## GPUs",
        "## Client health",
        "## Errors",
        "## Warnings",
    ] {
        assert!(md.contains(section), "missing {section}");
    }
    for chart in ["throughput", "latency", "server", "gpu"] {
        assert!(
            md.contains(&format!("](charts/{chart}.svg)")),
            "no link to {chart}"
        );
    }
    assert!(md.contains("| GPU util | GPU power | tok/J |"));
    snapshot!("summary_run_a", md);
}

#[test]
fn summary_with_errors_and_a_queue() {
    let md = summary_of("run_b");
    assert!(md.contains("| 1 | http_error | 1 | `HTTP 500: Simulated internal server error (fault injection)` (×1) |"), "{md}");
    assert!(md.contains("measured requests failed"));
    assert!(md.contains("No GPU columns"));
    assert!(md.contains("GPU telemetry was off (`--no-gpu`)"));
    snapshot!("summary_run_b", md);
}

#[test]
fn summary_without_server_metrics() {
    let md = summary_of("run_no_metrics");
    assert!(md.contains("No server-side data: `/metrics` was not scraped (`--no-metrics`)."));
    assert!(md.contains("- /metrics was not scraped (--no-metrics): no server-side data"));
    assert!(md.contains("No server chart: `/metrics` was not scraped"));
    assert!(!md.contains("server out tok/s"));
    assert!(!md.contains("](charts/server.svg)"));
    assert!(!md.contains("NaN"));
    snapshot!("summary_run_no_metrics", md);
}

#[test]
fn summary_of_an_interrupted_run_without_nvidia_smi() {
    let md = summary_of("run_interrupted");
    assert!(md.contains("**interrupted** (Ctrl-C / SIGTERM)"));
    assert!(md.contains("| 16 (partial) (client-bound) |"), "{md}");
    assert!(md.contains("- step 2 was interrupted: its window is partial"));
    assert!(md.contains("GPU telemetry unavailable: `/nonexistent/nvidia-smi` not found"));
    assert!(md.contains("No GPU chart: no GPU samples were collected."));
    assert!(md.contains("GPU telemetry was on, but no step has GPU samples"));
    snapshot!("summary_run_interrupted", md);
}

/// A minimal XML well-formedness check: every tag closed in order, quotes balanced, no
/// stray `<` or `&` in text.
fn check_xml(svg: &str) -> Result<usize, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    let mut elements = 0;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        if text.contains('&') && !text.contains("&amp;") && !text.contains("&lt;") {
            return Err(format!("raw & in text {text:?}"));
        }
        let close = rest[open..].find('>').ok_or("unterminated tag")? + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if !tag.matches('"').count().is_multiple_of(2) {
            return Err(format!("unbalanced quotes in <{tag}>"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .ok_or(format!("</{name}> without an opening tag"))?;
            if top != name.trim() {
                return Err(format!("</{name}> closes <{top}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if name.is_empty() {
            return Err(format!("bad tag <{tag}>"));
        }
        elements += 1;
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed {stack:?}"));
    }
    if !rest.trim().is_empty() {
        return Err(format!("text after the root: {rest:?}"));
    }
    Ok(elements)
}

#[test]
fn xml_checker_rejects_broken_documents() {
    assert!(check_xml("<svg><rect/><text>a</text></svg>").is_ok());
    assert!(check_xml("<svg><text>a</svg>").is_err());
    assert!(check_xml("<svg><rect x=\"1/></svg>").is_err());
    assert!(check_xml("<svg>").is_err());
    assert!(check_xml("<svg>a & b</svg>").is_err());
}

#[test]
fn every_chart_parses_and_holds_its_series() {
    let mut run = RunData::load(&data("run_a")).unwrap();
    // Without shared prefixes there is no prefix-cache chart; with them, every chart.
    let kinds: Vec<ChartKind> = render_charts(&run)
        .unwrap()
        .iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(kinds, ChartKind::ALL[..4]);
    run.facts.settings.shared_prefix = Some(loadtest_run::SharedPrefixFacts {
        tokens: 512,
        groups: 4,
    });
    let charts = render_charts(&run).unwrap();
    let kinds: Vec<ChartKind> = charts.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ChartKind::ALL);
    let steps = run.summary.steps.len();
    // (legend labels, solid series, dashed series): solid points are circles, dashed
    // points triangles (polygons).
    let expect = |kind: ChartKind| -> (&[&str], usize, usize) {
        match kind {
            ChartKind::Throughput => (
                &[
                    "client output tok/s",
                    "server generation tok/s",
                    "client req/s",
                ],
                2,
                1,
            ),
            ChartKind::Latency => (
                &[
                    "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99", "ITL p50", "ITL p99",
                ],
                3,
                3,
            ),
            ChartKind::Server => (&["running (mean)", "waiting (mean)", "KV cache %"], 2, 1),
            ChartKind::Gpu => (&["GPU util %", "power W"], 1, 1),
            ChartKind::PrefixCache => (
                &[
                    "client TTFT p50",
                    "client TTFT p99",
                    "server prefix-cache hits %",
                ],
                2,
                1,
            ),
        }
    };
    for chart in &charts {
        let name = chart.kind.file_name();
        let svg = &chart.svg;
        let elements = check_xml(svg).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(elements > 20, "{name}: only {elements} elements");
        assert!(svg.starts_with("<svg") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(!svg.contains("NaN"), "{name} has NaN");
        assert!(svg.contains(chart.kind.title()), "{name}: no title");
        let (labels, solid, dashed) = expect(chart.kind);
        for label in labels {
            assert!(svg.contains(label), "{name}: no legend {label}");
        }
        assert_eq!(
            svg.matches("<circle").count(),
            solid * steps,
            "{name}: markers of solid series"
        );
        assert_eq!(
            svg.matches("<polygon").count(),
            dashed * steps,
            "{name}: markers of dashed series"
        );
        // Lines: one polyline per solid series, several dashes per dashed one, plus the
        // two-segment legend swatches and the grid.
        assert!(
            svg.matches("<polyline").count() >= solid + dashed + 2 * labels.len(),
            "{name}"
        );
        // Ticks at the step loads.
        for step in &run.summary.steps {
            let tick = format!("\n{}\n</text>", step.load);
            assert!(svg.contains(&tick), "{name}: no tick at load {}", step.load);
        }
    }
    let latency = &charts[1].svg;
    assert!(!latency.contains("(log scale)\n</text>\n<text") || latency.contains("milliseconds"));
}

#[test]
fn latency_axis_turns_log_when_the_range_is_wide() {
    // run_b saturates (max-num-seqs 8 at load 32): TTFT p99 spans far more than 20x TPOT p50.
    let run = RunData::load(&data("run_b")).unwrap();
    let charts = render_charts(&run).unwrap();
    let latency = charts
        .iter()
        .find(|c| c.kind == ChartKind::Latency)
        .unwrap();
    assert!(
        latency.svg.contains("milliseconds (log scale)"),
        "no log y axis"
    );
    assert!(check_xml(&latency.svg).is_ok());
    let throughput = charts
        .iter()
        .find(|c| c.kind == ChartKind::Throughput)
        .unwrap();
    assert!(
        throughput
            .svg
            .contains("load (concurrent requests) (log scale)")
    );
    assert!(!throughput.svg.contains("tokens/s (log scale)"));
}

#[test]
fn render_run_to_writes_files_and_removes_stale_charts() {
    let out = tempfile::tempdir().unwrap();
    let first = render_run_to(&data("run_a"), out.path()).unwrap();
    assert_eq!(first.steps, 3);
    assert_eq!(first.charts.len(), 4);
    for chart in &first.charts {
        assert!(chart.starts_with(out.path().join("charts")));
        assert!(std::fs::metadata(chart).unwrap().len() > 1000);
    }
    let md = std::fs::read_to_string(&first.summary_md).unwrap();
    assert!(md.starts_with("# Load test: tiny-llama on vllm 0.32.0"));
    // Re-rendering another run in the same place leaves no chart it has no data for.
    let second = render_run_to(&data("run_no_metrics"), out.path()).unwrap();
    let names: Vec<String> = second
        .charts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["throughput.svg", "latency.svg"]);
    let mut on_disk: Vec<String> = std::fs::read_dir(out.path().join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, ["latency.svg", "throughput.svg"]);
    assert_eq!(
        second.warnings[0],
        "/metrics was not scraped (--no-metrics): no server-side data"
    );
}

#[test]
fn render_run_rewrites_inside_a_copied_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run_copy");
    std::fs::create_dir(&run).unwrap();
    for file in ["config.json", "step_summary.json"] {
        std::fs::copy(data("run_a").join(file), run.join(file)).unwrap();
    }
    std::fs::write(run.join("summary.md"), "old").unwrap();
    let outcome = loadtest_report::render_run(&run).unwrap();
    assert_eq!(outcome.summary_md, run.join("summary.md"));
    let md = std::fs::read_to_string(run.join("summary.md")).unwrap();
    assert!(md.contains("| run folder | `run_copy` |"));
    // Nothing but the outputs was added: no temporary files left behind.
    let mut names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["charts", "config.json", "step_summary.json", "summary.md"]
    );
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    assert!(matches!(
        render_run_to(&missing, dir.path()),
        Err(ReportError::NotADirectory { .. })
    ));
    let run = dir.path().join("half");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(data("run_a").join("config.json"), run.join("config.json")).unwrap();
    let err = RunData::load(&run).unwrap_err();
    assert!(matches!(err, ReportError::Read(ReadError::Missing { .. })));
    let text = err.to_string();
    assert!(
        text.contains("step_summary.json is missing") && text.contains("killed before finishing"),
        "{text}"
    );
    std::fs::write(run.join("step_summary.json"), "{\"steps\": [").unwrap();
    let err = RunData::load(&run).unwrap_err();
    assert!(matches!(err, ReportError::Read(ReadError::Parse { .. })));
    assert!(
        err.to_string()
            .contains("step_summary.json: not a valid step summary"),
        "{err}"
    );
    std::fs::write(
        run.join("step_summary.json"),
        "{\"steps\": [], \"warnings\": []}",
    )
    .unwrap();
    let empty = RunData::load(&run).unwrap();
    assert!(render_charts(&empty).unwrap().is_empty());
    let md = render_summary(&empty, &[]);
    assert!(md.contains("No step reached its measure window"));
    assert!(md.contains("No chart: no step has data to plot."));
}

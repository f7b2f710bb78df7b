//! `vllm_metrics.csv` row order and coverage in a real sweep: rows in the order the scrapes
//! were taken, both edges of every window, and polls through the final drain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use loadtest_run::files;

/// One row of `vllm_metrics.csv`: elapsed_s, step, phase.
#[derive(Debug)]
struct Row {
    elapsed: f64,
    step: usize,
    phase: String,
}

fn csv_rows(text: &str) -> Vec<Row> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..4], ["unix_s", "elapsed_s", "step", "phase"]);
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{line}");
            Row {
                elapsed: cells[1].parse().unwrap(),
                step: cells[2].parse().unwrap(),
                phase: cells[3].to_owned(),
            }
        })
        .collect()
}

/// The index of the row taken at `at` (the CSV keeps milliseconds) in `step`'s window.
fn edge_row(rows: &[Row], at: f64, step: usize) -> usize {
    rows.iter()
        .position(|r| (r.elapsed - at).abs() < 6e-4 && r.step == step && r.phase == "measure")
        .unwrap_or_else(|| panic!("no step {step} row at {at}: {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_are_in_order_with_every_edge_and_the_drain() {
    let sim = common::fixed_sim().await;
    let out = tempfile::tempdir().unwrap();
    let mut config = common::config(&sim.base_url(), out.path(), &[1.0, 2.0, 3.0], 0.5);
    config.poll_interval = Duration::from_millis(100);
    // 20 ms + 299 × 5 ms ≈ 1.5 s a request: requests outlive every window, and the last
    // ones run well into the drain.
    config.max_output_tokens = "300".parse().unwrap();
    config.ignore_eos = true;
    let outcome = common::run(config).await;
    let dir = &outcome.run_dir;
    assert!(!outcome.interrupted);
    let rows = csv_rows(&std::fs::read_to_string(dir.join(files::VLLM_METRICS)).unwrap());

    // In the order taken: time and step never go back.
    for w in rows.windows(2) {
        assert!(w[0].elapsed <= w[1].elapsed, "elapsed_s: {:?}", &w);
        assert!(w[0].step <= w[1].step, "step: {:?}", &w);
    }

    // Every window has its two edge rows, and they are the scrapes its deltas use.
    let summary = common::json(dir, files::STEP_SUMMARY);
    let steps = summary["steps"].as_array().unwrap();
    let deltas = common::json(dir, files::STEP_DELTAS);
    let deltas = deltas["steps"].as_array().unwrap();
    assert_eq!((steps.len(), deltas.len()), (3, 3));
    let mut edges = Vec::new();
    for (k, (step, delta)) in steps.iter().zip(deltas).enumerate() {
        assert_eq!(delta["step"], k);
        let window_start = step["window_start_s"].as_f64().unwrap();
        let window_end = step["window_end_s"].as_f64().unwrap();
        let first = delta["start_scrape_s"].as_f64().unwrap();
        let last = delta["end_scrape_s"].as_f64().unwrap();
        // The start edge: polls sit on a 100 ms grid that the edges fall on, so the only
        // scrape in the window's first 100 ms is the edge.
        assert!(
            (window_start..window_start + 0.1).contains(&first),
            "step {k}: first scrape at {first}, window from {window_start}"
        );
        // The end edge: polls after the window's end never count for it.
        assert!(
            last >= window_end,
            "step {k}: last scrape at {last}, window to {window_end}"
        );
        edges.push((edge_row(&rows, first, k), edge_row(&rows, last, k)));
    }
    // The end of step k is written before the start of step k + 1 (the same instant here).
    for k in 1..edges.len() {
        assert!(edges[k - 1].1 < edges[k].0, "{edges:?} {rows:#?}");
    }

    // Requests were still running when the last window closed…
    let run_end = steps[2]["window_end_s"].as_f64().unwrap();
    let last_finish = common::rows(dir)
        .iter()
        .map(|r| r["start_s"].as_f64().unwrap() + r["total_s"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(last_finish > run_end + 0.5, "{last_finish} vs {run_end}");
    // …and the server was polled while they finished, the last scrape once they had.
    let drain = &rows[edges[2].1 + 1..];
    assert!(drain.len() >= 5, "{rows:#?}");
    assert!(drain.iter().all(|r| r.phase == "drain" && r.step == 2));
    let last_row = rows.last().unwrap();
    assert!(
        last_row.elapsed + 6e-4 >= last_finish,
        "last scrape at {} before the last request ended at {last_finish}",
        last_row.elapsed
    );
    sim.shutdown().await;
}

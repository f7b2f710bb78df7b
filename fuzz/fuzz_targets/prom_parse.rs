//! Fuzz target: any bytes through the parser, the canonical reduction and the window
//! arithmetic must never panic.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use loadtest_prom::{CanonicalSnapshot, Exposition, GaugeWindow, ScrapeSummary, StepDeltas};

fuzz_target!(|data: &[u8]| {
    let exposition = Exposition::parse(data);
    let _ = exposition.sample_count();
    let snapshot = CanonicalSnapshot::from_exposition(&exposition);
    let _ = snapshot.csv_values();
    // The body against itself and against its first half: deltas, resets, quantiles.
    let half = CanonicalSnapshot::parse(&data[..data.len() / 2]).0;
    let mut gauges = GaugeWindow::new();
    gauges.observe(&half);
    gauges.observe(&snapshot);
    let step = StepDeltas::compute(&half, &snapshot, &gauges, Duration::from_millis(1500));
    let _ = format!("{step:?}");
    let _ = ScrapeSummary::of(&exposition).to_json_pretty();
});

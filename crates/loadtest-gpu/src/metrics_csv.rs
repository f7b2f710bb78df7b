//! A `gpu_metrics.csv` row from a sample (the row's type lives in `loadtest-run`; the caller
//! says which step and phase the sample fell in).

use std::time::Instant;

use loadtest_run::GpuMetricsRow;

use crate::sample::{GpuSample, signed_secs};

/// The `gpu_metrics.csv` row for `sample`, with `elapsed_s` measured from `run_start` and the
/// step and phase the caller assigns.
#[must_use]
pub fn metrics_row(
    sample: &GpuSample,
    run_start: Instant,
    step: Option<u32>,
    phase: &str,
) -> GpuMetricsRow {
    GpuMetricsRow {
        unix_s: sample.unix_s,
        elapsed_s: signed_secs(run_start, sample.at),
        step,
        phase: phase.to_owned(),
        reading: sample.reading.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loadtest_run::GpuReading;

    #[test]
    fn header_and_quoting() {
        let start = Instant::now();
        let sample = GpuSample {
            at: start,
            unix_s: 1_700_000_000.25,
            child_run: 0,
            reading: GpuReading {
                gpu: 1,
                name: Some("Odd, \"GPU\"".into()),
                power_w: Some(312.45),
                util_gpu_pct: Some(97.0),
                ..GpuReading::default()
            },
        };
        let line = metrics_row(&sample, start, Some(2), "measure").to_csv_line();
        assert_eq!(
            line,
            "1700000000.250,0.000,2,measure,1,,\"Odd, \"\"GPU\"\"\",97,,,,312.45,,,,,\n"
        );
        assert_eq!(line.matches(',').count(), 16 + 1); // 16 separators, 1 quoted
    }
}

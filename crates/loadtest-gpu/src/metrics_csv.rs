//! The `gpu_metrics.csv` row (design §9): one row per GPU per sample.

use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::sample::{GpuSample, signed_secs};

/// Column names of `gpu_metrics.csv`, in order.
pub const GPU_METRICS_COLUMNS: [&str; 17] = [
    "unix_s",
    "elapsed_s",
    "step",
    "phase",
    "gpu",
    "uuid",
    "name",
    "util_gpu_pct",
    "util_mem_pct",
    "mem_used_mib",
    "mem_total_mib",
    "power_w",
    "power_limit_w",
    "temp_c",
    "sm_clock_mhz",
    "mem_clock_mhz",
    "pstate",
];

/// The header line of `gpu_metrics.csv`, with its `\n`. A run without GPU telemetry still
/// writes it, so the file always parses.
#[must_use]
pub fn gpu_metrics_header() -> String {
    let mut s = GPU_METRICS_COLUMNS.join(",");
    s.push('\n');
    s
}

/// One row of `gpu_metrics.csv`. Missing values are written as empty fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuMetricsRow {
    /// Sample arrival, seconds since the Unix epoch.
    pub unix_s: f64,
    /// Sample arrival, seconds since the run started (negative before it).
    pub elapsed_s: f64,
    /// Step index the sample falls in, `None` outside any step.
    pub step: Option<u32>,
    /// Phase name (`warmup`, `ramp`, `measure`, …), as the sweep names it.
    pub phase: String,
    /// GPU index.
    pub gpu: u32,
    /// UUID.
    pub uuid: Option<String>,
    /// Product name.
    pub name: Option<String>,
    /// GPU utilisation, %.
    pub util_gpu_pct: Option<f64>,
    /// Memory utilisation, %.
    pub util_mem_pct: Option<f64>,
    /// Memory used, MiB.
    pub mem_used_mib: Option<f64>,
    /// Memory total, MiB.
    pub mem_total_mib: Option<f64>,
    /// Power draw, W.
    pub power_w: Option<f64>,
    /// Power limit, W.
    pub power_limit_w: Option<f64>,
    /// Temperature, °C.
    pub temp_c: Option<f64>,
    /// SM clock, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// Memory clock, MHz.
    pub mem_clock_mhz: Option<f64>,
    /// Performance state, e.g. `P0`.
    pub pstate: Option<String>,
}

impl GpuMetricsRow {
    /// The row for `sample`, with `elapsed_s` measured from `run_start` and the step and phase
    /// the sweep assigns.
    #[must_use]
    pub fn from_sample(
        sample: &GpuSample,
        run_start: Instant,
        step: Option<u32>,
        phase: &str,
    ) -> Self {
        let r = &sample.reading;
        Self {
            unix_s: sample.unix_s,
            elapsed_s: signed_secs(run_start, sample.at),
            step,
            phase: phase.to_owned(),
            gpu: r.gpu,
            uuid: r.uuid.clone(),
            name: r.name.clone(),
            util_gpu_pct: r.util_gpu_pct,
            util_mem_pct: r.util_mem_pct,
            mem_used_mib: r.mem_used_mib,
            mem_total_mib: r.mem_total_mib,
            power_w: r.power_w,
            power_limit_w: r.power_limit_w,
            temp_c: r.temp_c,
            sm_clock_mhz: r.sm_clock_mhz,
            mem_clock_mhz: r.mem_clock_mhz,
            pstate: r.pstate.clone(),
        }
    }

    /// Appends the row as one CSV line (with `\n`) to `out`. Times get millisecond precision;
    /// text containing a comma, quote or line break is quoted (RFC 4180).
    pub fn write_csv_line(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = write!(out, "{:.3},{:.3},", self.unix_s, self.elapsed_s);
        if let Some(step) = self.step {
            let _ = write!(out, "{step}");
        }
        out.push(',');
        push_text(out, Some(&self.phase));
        let _ = write!(out, ",{},", self.gpu);
        push_text(out, self.uuid.as_deref());
        out.push(',');
        push_text(out, self.name.as_deref());
        for v in [
            self.util_gpu_pct,
            self.util_mem_pct,
            self.mem_used_mib,
            self.mem_total_mib,
            self.power_w,
            self.power_limit_w,
            self.temp_c,
            self.sm_clock_mhz,
            self.mem_clock_mhz,
        ] {
            out.push(',');
            if let Some(v) = v {
                let _ = write!(out, "{v}");
            }
        }
        out.push(',');
        push_text(out, self.pstate.as_deref());
        out.push('\n');
    }

    /// The row as one CSV line, with `\n`.
    #[must_use]
    pub fn to_csv_line(&self) -> String {
        let mut s = String::with_capacity(192);
        self.write_csv_line(&mut s);
        s
    }
}

fn push_text(out: &mut String, text: Option<&str>) {
    let Some(text) = text else { return };
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::GpuReading;

    #[test]
    fn header_and_quoting() {
        assert!(gpu_metrics_header().starts_with("unix_s,elapsed_s,step,phase,gpu,uuid,name,"));
        assert!(gpu_metrics_header().ends_with(",pstate\n"));
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
        let line = GpuMetricsRow::from_sample(&sample, start, Some(2), "measure").to_csv_line();
        assert_eq!(
            line,
            "1700000000.250,0.000,2,measure,1,,\"Odd, \"\"GPU\"\"\",97,,,,312.45,,,,,\n"
        );
        assert_eq!(line.matches(',').count(), 16 + 1); // 16 separators, 1 quoted
    }
}

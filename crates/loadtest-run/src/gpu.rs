//! The GPU parts of a run folder: `gpu_metrics.csv` rows and each step's per-GPU statistics.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Statistics of one GPU over one step window. Every value is `None` when no sample in the
/// window carried it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuStepStats {
    /// GPU index.
    pub gpu: u32,
    /// UUID, from the last sample in the window that had one.
    pub uuid: Option<String>,
    /// Product name, from the last sample in the window that had one.
    pub name: Option<String>,
    /// Samples whose arrival time lies in the window (ends included).
    pub samples: u64,
    /// Mean of `utilization.gpu` over the samples, percent.
    pub util_gpu_mean_pct: Option<f64>,
    /// Max of `utilization.gpu`, percent.
    pub util_gpu_max_pct: Option<f64>,
    /// Mean of `utilization.memory`, percent.
    pub util_mem_mean_pct: Option<f64>,
    /// Max of `memory.used`, MiB.
    pub mem_used_max_mib: Option<f64>,
    /// `memory.total` of the last sample that had it, MiB.
    pub mem_total_mib: Option<f64>,
    /// Mean of `power.draw` over the samples, W.
    pub power_mean_w: Option<f64>,
    /// Max of `power.draw`, W.
    pub power_max_w: Option<f64>,
    /// Energy, J: trapezoidal integral of `power.draw` over the covered part of the window.
    pub energy_j: Option<f64>,
    /// Seconds of the window the energy integral covers (≤ `window_s`).
    pub energy_covered_s: f64,
    /// Length of the window, s.
    pub window_s: f64,
    /// Max of `temperature.gpu`, °C.
    pub temp_max_c: Option<f64>,
    /// Mean of `clocks.sm`, MHz.
    pub sm_clock_mean_mhz: Option<f64>,
}

/// Tokens per joule: `tokens / energy_j`, `None` unless the energy is finite and positive.
///
/// ```
/// assert_eq!(loadtest_run::tokens_per_joule(6_000, 3_000.0), Some(2.0));
/// assert_eq!(loadtest_run::tokens_per_joule(6_000, 0.0), None);
/// ```
#[must_use]
pub fn tokens_per_joule(tokens: u64, energy_j: f64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)] // token counts stay far below 2^53
    (energy_j.is_finite() && energy_j > 0.0).then(|| tokens as f64 / energy_j)
}

/// Sum of the GPUs' energies, `None` when no GPU has one.
#[must_use]
pub fn total_energy_j(stats: &[GpuStepStats]) -> Option<f64> {
    stats
        .iter()
        .filter_map(|s| s.energy_j)
        .fold(None, |acc, e| Some(acc.unwrap_or(0.0) + e))
}

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

    #[test]
    fn header_and_quoting() {
        assert!(gpu_metrics_header().starts_with("unix_s,elapsed_s,step,phase,gpu,uuid,name,"));
        assert!(gpu_metrics_header().ends_with(",pstate\n"));
        let row = GpuMetricsRow {
            unix_s: 1_700_000_000.25,
            elapsed_s: 0.0,
            step: Some(2),
            phase: "measure".to_owned(),
            gpu: 1,
            uuid: None,
            name: Some("Odd, \"GPU\"".into()),
            util_gpu_pct: Some(97.0),
            util_mem_pct: None,
            mem_used_mib: None,
            mem_total_mib: None,
            power_w: Some(312.45),
            power_limit_w: None,
            temp_c: None,
            sm_clock_mhz: None,
            mem_clock_mhz: None,
            pstate: None,
        };
        let line = row.to_csv_line();
        assert_eq!(
            line,
            "1700000000.250,0.000,2,measure,1,,\"Odd, \"\"GPU\"\"\",97,,,,312.45,,,,,\n"
        );
        assert_eq!(line.matches(',').count(), 16 + 1); // 16 separators, 1 quoted
    }
}

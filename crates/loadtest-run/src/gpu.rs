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

/// The values of one GPU from one `nvidia-smi` output line (`loadtest-gpu` parses them). Every value but the index may be missing:
/// `[N/A]`, `[Not Supported]`, any other `[…]` and an empty field all read as `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuReading {
    /// GPU index as nvidia-smi numbers it (PCI order).
    pub gpu: u32,
    /// `GPU-…` UUID.
    pub uuid: Option<String>,
    /// Product name.
    pub name: Option<String>,
    /// `utilization.gpu`, percent.
    pub util_gpu_pct: Option<f64>,
    /// `utilization.memory`, percent.
    pub util_mem_pct: Option<f64>,
    /// `memory.used`, MiB.
    pub mem_used_mib: Option<f64>,
    /// `memory.total`, MiB.
    pub mem_total_mib: Option<f64>,
    /// `power.draw`, watts.
    pub power_w: Option<f64>,
    /// `power.limit`, watts.
    pub power_limit_w: Option<f64>,
    /// `temperature.gpu`, °C.
    pub temp_c: Option<f64>,
    /// `clocks.sm`, MHz.
    pub sm_clock_mhz: Option<f64>,
    /// `clocks.mem`, MHz.
    pub mem_clock_mhz: Option<f64>,
    /// `pstate`, e.g. `P0`.
    pub pstate: Option<String>,
}

/// One row of `gpu_metrics.csv`: a [`GpuReading`] with when it came and where in the run it
/// falls. Missing values are written as empty fields.
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
    /// The GPU's values.
    #[serde(flatten)]
    pub reading: GpuReading,
}

impl GpuMetricsRow {
    /// Appends the row as one CSV line (with `\n`) to `out`. Times get millisecond precision;
    /// text containing a comma, quote or line break is quoted (RFC 4180).
    pub fn write_csv_line(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let r = &self.reading;
        let _ = write!(out, "{:.3},{:.3},", self.unix_s, self.elapsed_s);
        if let Some(step) = self.step {
            let _ = write!(out, "{step}");
        }
        out.push(',');
        push_text(out, Some(&self.phase));
        let _ = write!(out, ",{},", r.gpu);
        push_text(out, r.uuid.as_deref());
        out.push(',');
        push_text(out, r.name.as_deref());
        for v in [
            r.util_gpu_pct,
            r.util_mem_pct,
            r.mem_used_mib,
            r.mem_total_mib,
            r.power_w,
            r.power_limit_w,
            r.temp_c,
            r.sm_clock_mhz,
            r.mem_clock_mhz,
        ] {
            out.push(',');
            if let Some(v) = v {
                let _ = write!(out, "{v}");
            }
        }
        out.push(',');
        push_text(out, r.pstate.as_deref());
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
            reading: GpuReading {
                gpu: 1,
                name: Some("Odd, \"GPU\"".into()),
                util_gpu_pct: Some(97.0),
                power_w: Some(312.45),
                ..GpuReading::default()
            },
        };
        let line = row.to_csv_line();
        assert_eq!(
            line,
            "1700000000.250,0.000,2,measure,1,,\"Odd, \"\"GPU\"\"\",97,,,,312.45,,,,,\n"
        );
        assert_eq!(line.matches(',').count(), 16 + 1); // 16 separators, 1 quoted
    }
}

//! GPU telemetry during a sweep: drains the nvidia-smi poller every second, streams each
//! sample to `gpu_metrics.csv` with the step and phase it fell in, and aggregates each step's
//! window.

use std::path::Path;
use std::time::{Duration, Instant};

use loadtest_gpu::{
    ClockAnchor, GpuPoller, GpuPollerConfig, GpuSample, StepAggregator, metrics_row,
};
use loadtest_run::{GpuStepStats, gpu_metrics_header};

use crate::cancel::CancelToken;
use crate::output_file::OutputFile;
use crate::timeline::Timeline;
use loadtest_run::GpuSettings;
use loadtest_run::OutputError;

/// How often samples are moved from the poller to the file.
const DRAIN_EVERY: Duration = Duration::from_secs(1);

/// What GPU telemetry produced.
#[derive(Debug, Default)]
pub(crate) struct GpuTelemetry {
    /// Per step, one entry per GPU.
    pub steps: Vec<Vec<GpuStepStats>>,
    pub samples: u64,
    pub warnings: Vec<String>,
    pub write_error: Option<OutputError>,
    /// Rows of gpu_metrics.csv lost to a write error.
    pub rows_not_written: u64,
}

/// Creates `gpu_metrics.csv` with its header.
pub(crate) fn create_csv(path: &Path) -> Result<OutputFile, OutputError> {
    OutputFile::create(path, 64 * 1024, gpu_metrics_header().as_bytes())
}

/// Polls until `stop` (or returns at once with `settings.enabled` false).
pub(crate) async fn run(
    settings: GpuSettings,
    timeline: Timeline,
    run_start: Instant,
    run_start_unix_s: f64,
    mut csv: OutputFile,
    stop: CancelToken,
) -> GpuTelemetry {
    let mut telemetry = GpuTelemetry::default();
    if !settings.enabled {
        telemetry.steps = vec![Vec::new(); timeline.steps().len()];
        (telemetry.write_error, telemetry.rows_not_written) = csv.finish();
        return telemetry;
    }
    let mut config = GpuPollerConfig::new(settings.interval).with_binary(&settings.nvidia_smi);
    config.clock = Some(ClockAnchor::new(run_start, run_start_unix_s));
    let mut poller = GpuPoller::start(config);
    let max_gap = settings.interval * 3;
    let windows = |timeline: &Timeline| -> Vec<StepAggregator> {
        timeline
            .steps()
            .iter()
            .map(|s| {
                StepAggregator::new(run_start + s.measure_start, run_start + s.measure_end)
                    .with_max_gap(max_gap)
            })
            .collect()
    };
    // A count step's end is learned only when its requests have finished: its samples are
    // kept and aggregated at the end, when every window is known.
    let counted = timeline.is_counted();
    let mut aggregators = if counted {
        Vec::new()
    } else {
        windows(&timeline)
    };
    let mut kept: Vec<GpuSample> = Vec::new();
    let mut batch: Vec<GpuSample> = Vec::new();
    let mut line = String::with_capacity(256);
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(DRAIN_EVERY) => false,
            () = stop.cancelled() => true,
        };
        if stopping {
            poller.stop().await;
        }
        batch.clear();
        poller.drain_into(&mut batch);
        for sample in &batch {
            telemetry.samples += 1;
            let elapsed = sample.at.saturating_duration_since(run_start);
            let pos = timeline.at(elapsed);
            let row = metrics_row(
                sample,
                run_start,
                u32::try_from(pos.step).ok(),
                pos.phase.as_str(),
            );
            line.clear();
            row.write_csv_line(&mut line);
            csv.write(line.as_bytes());
            if counted {
                kept.push(sample.clone());
            }
            for aggregator in &mut aggregators {
                aggregator.push(sample);
            }
        }
        csv.flush();
        if stopping {
            break;
        }
    }
    telemetry.warnings = poller.warnings();
    (telemetry.write_error, telemetry.rows_not_written) = csv.finish();
    if counted {
        aggregators = windows(&timeline);
        for sample in &kept {
            for aggregator in &mut aggregators {
                aggregator.push(sample);
            }
        }
    }
    telemetry.steps = aggregators.iter().map(StepAggregator::finish).collect();
    telemetry
}

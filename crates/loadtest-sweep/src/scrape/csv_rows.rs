//! `vllm_metrics.csv`: its header and one row per scrape, in the columns of
//! `loadtest_prom::CSV_COLUMNS`.

use std::path::Path;

use loadtest_prom::CSV_COLUMNS;
use loadtest_run::{OutputError, Phase};

use super::{Scrape, ScrapeSetup};
use crate::output_file::OutputFile;
use crate::scrape_plan::Trigger;

/// The header line of `vllm_metrics.csv`.
pub(super) fn csv_header() -> String {
    let mut line = String::from("unix_s,elapsed_s,step,phase");
    for column in CSV_COLUMNS {
        line.push(',');
        line.push_str(column);
    }
    line.push('\n');
    line
}

/// Creates `vllm_metrics.csv` with its header.
pub(crate) fn create_csv(path: &Path) -> Result<OutputFile, OutputError> {
    OutputFile::create(path, 64 * 1024, csv_header().as_bytes())
}

pub(super) fn write_row(line: &mut String, setup: &ScrapeSetup, scrape: &Scrape) {
    use std::fmt::Write as _;
    let (step, phase) = match scrape.trigger {
        Trigger::WindowStart(k) | Trigger::WindowEnd(k) => (Some(k), Phase::Measure),
        Trigger::Periodic => {
            let pos = setup.timeline.at(scrape.at);
            (Some(pos.step), pos.phase)
        }
    };
    let _ = write!(
        line,
        "{:.3},{:.3},{},{}",
        setup.run_start_unix_s + scrape.at.as_secs_f64(),
        scrape.at.as_secs_f64(),
        step.map(|s| s.to_string()).unwrap_or_default(),
        phase.as_str()
    );
    match &scrape.result {
        Ok(snapshot) => {
            for value in snapshot.csv_values() {
                line.push(',');
                line.push_str(&value);
            }
        }
        Err(_) => {
            for _ in CSV_COLUMNS {
                line.push(',');
            }
        }
    }
    line.push('\n');
}

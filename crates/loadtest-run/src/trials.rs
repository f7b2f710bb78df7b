//! `trials.json` (`--repeat N`): the same sweep run N times, each trial a complete run folder
//! (`trial-1/` …), and per step the mean and spread of the headline numbers across trials —
//! the run-to-run noise a CI gate has to live with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::step_summary::StepSummary;

/// The file name in the parent run folder.
pub const TRIALS_JSON: &str = "trials.json";

/// Mean and spread of one number across trials.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Trials that had a value.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sample standard deviation (n − 1); null with one trial.
    pub stddev: Option<f64>,
}

impl Spread {
    /// The spread of the finite `values`; `None` when there is none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len();
        let mean = v.iter().sum::<f64>() / n as f64;
        let stddev = (n > 1)
            .then(|| (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt());
        Some(Spread {
            n,
            mean,
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            stddev,
        })
    }
}

/// One trial of the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialEntry {
    /// 1-based trial number.
    pub trial: u32,
    /// Its run folder, relative to the parent (`trial-1`).
    pub run_dir: String,
    /// True when Ctrl-C stopped it.
    pub interrupted: bool,
    /// Steps it measured.
    pub steps: usize,
}

/// One load level across trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialStep {
    /// Index in `--steps`.
    pub step: usize,
    /// Load level.
    pub load: f64,
    /// `concurrency` or `rate`.
    pub load_mode: String,
    /// Per headline number (`request_throughput`, `output_throughput`, `p50_ttft_ms`,
    /// `p99_ttft_ms`, `p50_tpot_ms`, `p99_tpot_ms`, `p50_itl_ms`, `p99_itl_ms`,
    /// `p50_e2el_ms`, `p99_e2el_ms`, `error_rate`): its spread across the trials that ran
    /// this step. Latencies in ms, throughputs per second, the error rate 0–1.
    pub metrics: BTreeMap<String, Spread>,
}

/// The whole `trials.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialsFile {
    /// Trials asked for (`--repeat`).
    pub repeat: u32,
    /// The trials that ran, in order.
    pub trials: Vec<TrialEntry>,
    /// Per step index, the spread across trials.
    pub steps: Vec<TrialStep>,
}

/// The headline numbers of a step, as named in `trials.json`.
pub fn headline_numbers(s: &StepSummary) -> Vec<(&'static str, Option<f64>)> {
    let ms = |v: Option<f64>| v.map(|x| x * 1e3);
    vec![
        ("request_throughput", Some(s.rps)),
        ("output_throughput", Some(s.output_tokens_per_s)),
        ("p50_ttft_ms", ms(s.ttft_s.map(|x| x.p50))),
        ("p99_ttft_ms", ms(s.ttft_s.map(|x| x.p99))),
        ("p50_tpot_ms", ms(s.tpot_s.map(|x| x.p50))),
        ("p99_tpot_ms", ms(s.tpot_s.map(|x| x.p99))),
        ("p50_itl_ms", ms(s.itl_s.map(|x| x.p50))),
        ("p99_itl_ms", ms(s.itl_s.map(|x| x.p99))),
        ("p50_e2el_ms", ms(s.e2e_s.map(|x| x.p50))),
        ("p99_e2el_ms", ms(s.e2e_s.map(|x| x.p99))),
        ("error_rate", s.counts.error_rate()),
    ]
}

/// A step's load, load mode, and every headline number's values across trials.
type StepValues = (f64, String, BTreeMap<&'static str, Vec<f64>>);

/// Per step index, the spread of every headline number across `trials` (each the steps of
/// one trial). A step some trials did not reach is aggregated over those that did.
pub fn aggregate_trials(trials: &[Vec<StepSummary>]) -> Vec<TrialStep> {
    let mut by_step: BTreeMap<usize, StepValues> = BTreeMap::new();
    for steps in trials {
        for s in steps {
            let entry = by_step
                .entry(s.step)
                .or_insert_with(|| (s.load, s.load_mode.clone(), BTreeMap::new()));
            for (name, value) in headline_numbers(s) {
                let values = entry.2.entry(name).or_default();
                if let Some(v) = value {
                    values.push(v);
                }
            }
        }
    }
    by_step
        .into_iter()
        .map(|(step, (load, load_mode, values))| TrialStep {
            step,
            load,
            load_mode,
            metrics: values
                .into_iter()
                .filter_map(|(name, v)| Spread::of(&v).map(|s| (name.to_owned(), s)))
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = Spread::of(&[1.0, 2.0, 3.0, f64::NAN]).unwrap();
        assert_eq!((s.n, s.mean, s.min, s.max), (3, 2.0, 1.0, 3.0));
        assert!((s.stddev.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[5.0]).unwrap().stddev, None);
        assert!(Spread::of(&[]).is_none());
    }
}

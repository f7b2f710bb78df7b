//! Reading the shard folders and refusing those that are not shards of one run.

use std::collections::BTreeMap;
use std::path::PathBuf;

use loadtest_run::{
    RunFacts, Shard, StepHistogramsFile, StepSummaryFile, read_config, read_step_histograms,
    read_step_summary, request_rows,
};

use super::MergeError;

/// Settings that may differ between the shards of one run: the shard itself, where each
/// wrote its folder, and whether it polled GPUs (only shard 0 does by default; a GPU node may
/// run its own).
pub(crate) const SETTINGS_PER_SHARD: [&str; 4] = ["shard", "output_dir", "run_name", "gpu"];

/// One shard's run folder, read back: its whole-file outputs. Its requests.jsonl is not held:
/// the merge streams it ([`request_rows`]) once, row by row.
pub(crate) struct ShardRun {
    pub dir: PathBuf,
    pub shard: Shard,
    pub facts: RunFacts,
    pub summary: StepSummaryFile,
    pub histograms: StepHistogramsFile,
    /// The run's start as unix seconds ([`run_start_unix_s`]).
    pub run_start_unix_s: Option<f64>,
}

impl ShardRun {
    pub fn index(&self) -> u32 {
        self.shard.index()
    }

    /// This shard scraped `/metrics`: a step has a server block, or a scrape succeeded.
    pub fn scraped(&self) -> bool {
        self.summary.steps.iter().any(|s| s.server.is_some())
            || self
                .facts
                .telemetry
                .as_ref()
                .is_some_and(|t| t.metrics_scrapes_ok > 0)
    }

    /// This shard sampled GPUs.
    pub fn sampled_gpus(&self) -> bool {
        self.summary.steps.iter().any(|s| !s.gpu.is_empty())
            || self
                .facts
                .telemetry
                .as_ref()
                .is_some_and(|t| t.gpu_samples > 0)
    }
}

/// The run's start as unix seconds: the first row's `start_unix_s − start_s` (both taken
/// from the one moment) that is a time, else config.json's `started_at`. Reads requests.jsonl
/// up to that row (its first line, but for a run whose rows carry no time), holding one row.
fn run_start_unix_s(dir: &std::path::Path, facts: &RunFacts) -> Result<Option<f64>, MergeError> {
    for row in request_rows(dir)? {
        let row = row?;
        let start = row.start_unix_s - row.start_s;
        if start.is_finite() && start > 0.0 {
            return Ok(Some(start));
        }
    }
    Ok(unix_s(&facts.started_at))
}

/// RFC 3339 → unix seconds.
pub(crate) fn unix_s(text: &str) -> Option<f64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(at.unix_timestamp_nanos() as f64 / 1e9)
}

/// Reads every folder's config.json and checks that they are shards of one run; then reads
/// the rest. Returns the shards in index order and the indexes missing.
pub(crate) fn read_shards(
    inputs: &[PathBuf],
    allow_partial: bool,
) -> Result<(Vec<ShardRun>, Vec<u32>), MergeError> {
    let mut configs: Vec<(PathBuf, Shard, RunFacts)> = Vec::new();
    for dir in inputs {
        let facts = read_config(dir)?;
        let shard = facts
            .settings
            .shard
            .ok_or_else(|| MergeError::NotAShard { dir: dir.clone() })?;
        configs.push((dir.clone(), shard, facts));
    }
    let Some((ref_dir, ref_shard, ref_facts)) = configs.first() else {
        return Err(MergeError::NoInputs);
    };
    let ref_settings = comparable_settings(ref_facts)?;
    let mut by_index: BTreeMap<u32, PathBuf> = BTreeMap::new();
    for (dir, shard, facts) in &configs {
        if facts.settings.seed != ref_facts.settings.seed {
            return Err(MergeError::DifferentSeed {
                dir: dir.clone(),
                seed: facts.settings.seed,
                reference: ref_dir.clone(),
                reference_seed: ref_facts.settings.seed,
            });
        }
        if shard.count() != ref_shard.count() {
            return Err(MergeError::DifferentShardCount {
                dir: dir.clone(),
                count: shard.count(),
                reference: ref_dir.clone(),
                reference_count: ref_shard.count(),
            });
        }
        let settings = comparable_settings(facts)?;
        if let Some(field) = first_difference(&ref_settings, &settings) {
            return Err(MergeError::DifferentSettings {
                dir: dir.clone(),
                reference: ref_dir.clone(),
                value: short(settings.get(&field)),
                reference_value: short(ref_settings.get(&field)),
                field: format!("settings.{field}"),
            });
        }
        if facts.target.model != ref_facts.target.model {
            return Err(MergeError::DifferentSettings {
                dir: dir.clone(),
                reference: ref_dir.clone(),
                field: "target.model".to_owned(),
                value: facts.target.model.clone(),
                reference_value: ref_facts.target.model.clone(),
            });
        }
        if let Some(first) = by_index.insert(shard.index(), dir.clone()) {
            return Err(MergeError::DuplicateShard {
                index: shard.index(),
                first,
                second: dir.clone(),
            });
        }
    }
    let missing: Vec<u32> = (0..ref_shard.count())
        .filter(|i| !by_index.contains_key(i))
        .collect();
    if !missing.is_empty() && !allow_partial {
        return Err(MergeError::MissingShards {
            missing,
            count: ref_shard.count(),
        });
    }
    let mut shards = Vec::new();
    configs.sort_by_key(|(_, shard, _)| shard.index());
    for (dir, shard, facts) in configs {
        shards.push(ShardRun {
            summary: read_step_summary(&dir)?,
            histograms: read_step_histograms(&dir)?,
            run_start_unix_s: run_start_unix_s(&dir, &facts)?,
            dir,
            shard,
            facts,
        });
    }
    Ok((shards, missing))
}

/// The settings of config.json as a JSON object, without [`SETTINGS_PER_SHARD`].
fn comparable_settings(
    facts: &RunFacts,
) -> Result<serde_json::Map<String, serde_json::Value>, MergeError> {
    let value = serde_json::to_value(&facts.settings).map_err(|e| MergeError::Internal {
        message: format!("settings do not serialise: {e}"),
    })?;
    let mut map = match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for key in SETTINGS_PER_SHARD {
        map.remove(key);
    }
    Ok(map)
}

/// The first key (in name order) whose value differs between `a` and `b`.
fn first_difference(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
) -> Option<String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .find(|k| a.get(*k) != b.get(*k))
        .map(|k| (*k).clone())
}

/// A setting's value for an error message: compact JSON, at most 80 characters.
fn short(value: Option<&serde_json::Value>) -> String {
    let text = value.map_or_else(|| "absent".to_owned(), serde_json::Value::to_string);
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

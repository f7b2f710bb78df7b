//! The merged run folder: which shard's telemetry it takes, its config.json, and every file.

use std::io::Write as _;
use std::path::Path;

use loadtest_run::{
    MergedShard, OutputError, RunFacts, StepDeltasFile, StepHistogramsFile, TelemetryFacts, files,
    read_step_deltas, request_rows,
};

use super::inputs::{ShardRun, unix_s};
use super::steps::{Sources, StepsMerge};
use super::{MergeError, MergeOptions, MergeOutcome, list};
use crate::summarize::{summary_file, write_outputs};
use crate::warnings::step_warnings;

/// What the merge takes from whom, and the notes saying so.
pub(crate) struct Plan {
    pub sources: Sources,
    pub notes: Vec<String>,
}

/// Picks the shards whose server and GPU telemetry the merged run takes: the lowest index
/// of those that have it.
pub(crate) fn plan(shards: &[ShardRun], missing: &[u32]) -> Plan {
    let mut notes = Vec::new();
    let indexes = |pick: &dyn Fn(&ShardRun) -> bool| -> Vec<usize> {
        shards
            .iter()
            .enumerate()
            .filter(|(_, s)| pick(s))
            .map(|(i, _)| i)
            .collect()
    };
    let scraped = indexes(&ShardRun::scraped);
    let sampled = indexes(&ShardRun::sampled_gpus);
    let names = |positions: &[usize]| -> String {
        list(
            &positions
                .iter()
                .map(|&p| shards[p].index())
                .collect::<Vec<_>>(),
        )
    };
    match scraped.as_slice() {
        [] => notes.push("no shard scraped /metrics: the merged run has no server data".to_owned()),
        [one] => notes.push(format!(
            "server /metrics data (server blocks, vllm_metrics.csv, vllm_step_deltas.json) from shard {}",
            shards[*one].index()
        )),
        [first, ..] => notes.push(format!(
            "shards {} scraped /metrics; the merged server data is shard {}'s (the lowest index), the others' are in their own folders",
            names(&scraped),
            shards[*first].index()
        )),
    }
    match sampled.as_slice() {
        [] => {}
        [one] => notes.push(format!(
            "GPU telemetry (GPU blocks, gpu_metrics.csv) from shard {}",
            shards[*one].index()
        )),
        [first, ..] => notes.push(format!(
            "shards {} sampled GPUs; the merged GPU data is shard {}'s (the lowest index): gpu_metrics.csv has no shard column, so the others' GPU rows are in their own folders",
            names(&sampled),
            shards[*first].index()
        )),
    }
    if !missing.is_empty() {
        notes.push(format!(
            "shard(s) {} missing (--allow-partial): the merged run holds the other shards' requests only",
            list(missing)
        ));
    }
    Plan {
        sources: Sources {
            server: scraped.first().copied(),
            gpu: sampled.first().copied(),
            complete: missing.is_empty(),
        },
        notes,
    }
}

/// Writes the merged run folder `out`; on a failure, removes what was written.
pub(crate) fn write(
    shards: &[ShardRun],
    out: &Path,
    options: &MergeOptions,
    plan: Plan,
    steps: StepsMerge<'_>,
    missing: Vec<u32>,
) -> Result<MergeOutcome, MergeError> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| OutputError::new(parent, e))?;
    }
    std::fs::create_dir(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            MergeError::OutExists {
                path: out.to_owned(),
            }
        } else {
            OutputError::new(out, e).into()
        }
    })?;
    let result = write_files(shards, out, options, plan, steps, missing);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(out);
    }
    result
}

fn write_files(
    shards: &[ShardRun],
    out: &Path,
    options: &MergeOptions,
    plan: Plan,
    mut steps: StepsMerge<'_>,
    missing: Vec<u32>,
) -> Result<MergeOutcome, MergeError> {
    let Plan { sources, notes } = plan;
    let requests = write_requests(shards, out, &mut steps)?;
    let merged = steps.finish(&sources);
    let server_shard = sources.server.map(|p| &shards[p]);
    let gpu_shard = sources.gpu.map(|p| &shards[p]);
    copy_or_header(
        server_shard,
        files::VLLM_METRICS,
        &files::vllm_metrics_header(),
        out,
    )?;
    copy_or_header(
        gpu_shard,
        files::GPU_METRICS,
        &loadtest_run::gpu_metrics_header(),
        out,
    )?;
    let mut deltas = match server_shard {
        Some(shard) => read_step_deltas(&shard.dir)?,
        None => StepDeltasFile { steps: Vec::new() },
    };
    for entry in &mut deltas.steps {
        if let Some(step) = merged.summaries.iter().find(|s| s.step == entry.step) {
            entry.load = step.load;
        }
    }
    let Some(reference) = shards.first() else {
        return Err(MergeError::NoInputs);
    };
    let facts = merged_facts(
        reference,
        shards,
        out,
        options,
        (server_shard, gpu_shard),
        &notes,
    );
    let mut warnings = merged.warnings;
    if !missing.is_empty() {
        warnings.insert(
            0,
            format!(
                "partial merge: shard(s) {} of {} missing; loads, counts and throughputs are those of the shards present",
                list(&missing),
                reference.shard.count()
            ),
        );
    }
    step_warnings(&merged.summaries, &mut warnings);
    for shard in shards {
        warnings.extend(
            shard
                .summary
                .warnings
                .iter()
                // Per-step warnings are judged again on the merged steps; a shard told not
                // to scrape is not a warning of the merged run.
                .filter(|w| !w.starts_with("step ") && !w.starts_with("/metrics was not scraped"))
                .map(|w| format!("shard {}: {w}", shard.index())),
        );
    }
    let auto_stopped = shards
        .first()
        .and_then(|s| s.summary.auto_stopped.clone())
        .map(|mut a| {
            if let Some(step) = merged.summaries.iter().find(|s| s.step == a.step) {
                a.load = step.load;
            }
            a
        });
    let file = summary_file(
        merged.summaries,
        &facts.settings,
        warnings.clone(),
        auto_stopped,
    );
    write_outputs(
        out,
        &facts,
        &file,
        &deltas,
        &StepHistogramsFile {
            steps: merged.histograms,
        },
        &mut warnings,
    )?;
    Ok(MergeOutcome {
        run_dir: out.to_owned(),
        shards: shards.iter().map(ShardRun::index).collect(),
        missing_shards: missing,
        steps: file.steps,
        requests,
        warnings,
        notes,
    })
}

/// requests.jsonl: the shards' files concatenated in shard order, each row with its `shard`
/// (ids are disjoint across shards: `k·n + i`), every row folded into `steps` on its way.
/// One pass over each shard's file, one row in memory at a time.
fn write_requests(
    shards: &[ShardRun],
    out: &Path,
    steps: &mut StepsMerge<'_>,
) -> Result<u64, MergeError> {
    let path = out.join(files::REQUESTS);
    let err = |e: std::io::Error| OutputError::new(&path, e);
    let file = std::fs::File::create(&path).map_err(err)?;
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    for (pos, shard) in shards.iter().enumerate() {
        for row in request_rows(&shard.dir)? {
            let mut row = row?;
            steps.fold(pos, &row);
            row.shard = Some(shard.index());
            serde_json::to_writer(&mut writer, &row).map_err(|e| err(std::io::Error::other(e)))?;
            writer.write_all(b"\n").map_err(err)?;
            written += 1;
        }
    }
    let file = writer.into_inner().map_err(|e| err(e.into_error()))?;
    file.sync_all().map_err(err)?;
    Ok(written)
}

/// Copies `name` from `shard`'s folder, or writes the header alone.
fn copy_or_header(
    shard: Option<&ShardRun>,
    name: &str,
    header: &str,
    out: &Path,
) -> Result<(), MergeError> {
    let to = out.join(name);
    match shard {
        Some(shard) => {
            let from = shard.dir.join(name);
            std::fs::copy(&from, &to).map_err(|e| {
                MergeError::Read(loadtest_run::ReadError::Io {
                    path: from.clone(),
                    source: e,
                })
            })?;
        }
        None => loadtest_run::write_atomic(&to, header.as_bytes())?,
    }
    Ok(())
}

/// The merged config.json: the lowest shard's facts without `settings.shard`, the earliest
/// start and latest end, the telemetry settings and counts of the shards it came from, and
/// `merged_from` / `merge_notes`.
fn merged_facts(
    reference: &ShardRun,
    shards: &[ShardRun],
    out: &Path,
    options: &MergeOptions,
    (server_shard, gpu_shard): (Option<&ShardRun>, Option<&ShardRun>),
    notes: &[String],
) -> RunFacts {
    let mut facts = reference.facts.clone();
    facts.settings.shard = None;
    facts.run_dir = out.to_owned();
    facts.command_line = options.command_line.clone();
    facts.interrupted = shards.iter().any(|s| s.facts.interrupted);
    let earliest = shards
        .iter()
        .filter_map(|s| Some((unix_s(&s.facts.started_at)?, &s.facts.started_at)))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    if let Some((_, at)) = earliest {
        facts.started_at = at.clone();
    }
    let latest = shards
        .iter()
        .filter_map(|s| {
            let at = s.facts.finished_at.as_ref()?;
            Some((unix_s(at)?, at))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    facts.finished_at = latest.map(|(_, at)| at.clone());
    if let Some(shard) = server_shard {
        facts.target.metrics_url = shard.facts.target.metrics_url.clone();
    }
    if let Some(shard) = gpu_shard {
        facts.settings.gpu = shard.facts.settings.gpu.clone();
    }
    let telemetry = |s: Option<&ShardRun>| s.and_then(|s| s.facts.telemetry.clone());
    let (server_t, gpu_t) = (telemetry(server_shard), telemetry(gpu_shard));
    facts.telemetry = Some(TelemetryFacts {
        metrics_scrapes_ok: server_t.as_ref().map_or(0, |t| t.metrics_scrapes_ok),
        metrics_scrapes_failed: server_t.as_ref().map_or(0, |t| t.metrics_scrapes_failed),
        metrics_first_error: server_t.and_then(|t| t.metrics_first_error),
        gpu_samples: gpu_t.as_ref().map_or(0, |t| t.gpu_samples),
        gpu_unavailable: match gpu_t {
            Some(t) => t.gpu_unavailable,
            None => reference
                .facts
                .telemetry
                .as_ref()
                .and_then(|t| t.gpu_unavailable.clone()),
        },
    });
    facts.merged_from = shards
        .iter()
        .map(|s| MergedShard {
            dir: s.dir.clone(),
            shard: s.index(),
            server_metrics: server_shard.is_some_and(|x| x.index() == s.index()),
            gpu: gpu_shard.is_some_and(|x| x.index() == s.index()),
        })
        .collect();
    facts.merge_notes = notes.to_vec();
    facts
}

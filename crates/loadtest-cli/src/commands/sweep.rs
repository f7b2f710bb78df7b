//! The main job: `vllm-loadtest [FLAGS]` runs a step sweep. Flags are parsed by clap into
//! [`SweepArgs`] (raw), then validated into a [`SweepConfig`] (`flags.rs`) before any library
//! call.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use loadtest_dist::DistSpec;
use loadtest_run::LoadMode;
use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::inputs::InputSource;
use loadtest_sweep::{CancelToken, LiveCounters, RunOptions, SweepError};

use crate::commands::signals::{self, EXIT_INTERRUPTED};
use crate::commands::{live, progress};
use crate::output;

pub(crate) use args::{InputMode, SweepArgs};

mod args;
mod command_line;
mod flags;
mod gating;
mod input;
mod trace;
mod values;
mod verdict;

/// Runs the sweep: `--simulate` first starts the simulator; Ctrl-C / SIGTERM stop the run
/// cleanly (exit 130), a second one exits at once.
pub(crate) fn run(args: SweepArgs) -> Result<ExitCode> {
    let workers = client_threads(args.client_threads)?;
    let open_files = crate::commands::raise_open_file_limit();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        runtime.worker_threads(workers);
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args, open_files))
}

/// The most `--client-threads` takes: more threads than that is a mistake, not a load.
const MAX_CLIENT_THREADS: usize = 1024;

/// `--client-threads`, checked: `None` for the runtime's default (one per core).
fn client_threads(flag: Option<usize>) -> Result<Option<usize>> {
    match flag {
        Some(n) if !(1..=MAX_CLIENT_THREADS).contains(&n) => {
            bail!("invalid --client-threads {n}: give 1 to {MAX_CLIENT_THREADS} threads")
        }
        other => Ok(other),
    }
}

/// File descriptors kept aside for files, scrapes, nvidia-smi and the runtime.
const RESERVED_FDS: u64 = 64;

/// Refuses a load whose sockets cannot fit under the open-file limit (§12).
fn check_open_files(config: &SweepConfig, limit: Option<u64>, simulate: bool) -> Result<()> {
    let Some(limit) = limit else { return Ok(()) };
    let peak = match config.load_mode {
        LoadMode::Concurrency => config.steps.iter().copied().fold(0.0, f64::max).ceil() as u64,
        LoadMode::Rate => config.max_inflight as u64,
    };
    let peak = peak.min(config.max_inflight as u64);
    // With --simulate both ends of every connection live in this process.
    let needed = peak * if simulate { 2 } else { 1 } + RESERVED_FDS;
    if needed > limit {
        bail!(
            "a peak of {peak} concurrent streams needs about {needed} open files, but the limit is {limit} (raise it with `ulimit -n`, or lower --steps / --max-inflight)"
        );
    }
    Ok(())
}

async fn run_async(args: SweepArgs, open_files: Option<u64>) -> Result<ExitCode> {
    let quiet = args.quiet;
    let simulate = args.simulate;
    let (repeat, json_out) = (args.repeat.unwrap_or(1), args.json_out.clone());
    if args.env_key_ignored() && !quiet {
        output::note(super::common::ENV_KEY_IGNORED_NOTE);
    }
    // Validate every flag before starting anything (the simulator's port is filled in after).
    let mut config = args.into_config(simulate.then(|| SIM_PLACEHOLDER_URL.to_owned()))?;
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    config.command_line =
        command_line::redacted("vllm-loadtest", argv.get(1..).unwrap_or_default());
    check_open_files(&config, open_files, simulate)?;
    if !quiet {
        for advice in clamp_advice(&config) {
            output::note(&format!("warning: {advice}"));
        }
    }
    let sim = if simulate {
        let sim = loadtest_sim::Simulator::start(loadtest_sim::SimConfig::ephemeral())
            .await
            .context("cannot start the simulator")?;
        let url = sim.base_url();
        if config.target.metrics_url.is_some() {
            config.target.metrics_url = Some(format!("{url}/metrics"));
        }
        config.target.client.base_url = url;
        if !quiet {
            output::note(&format!("simulator listening on {}", sim.base_url()));
        }
        Some(sim)
    } else {
        None
    };
    let cancel = CancelToken::new();
    let signals = tokio::spawn(signals::watch(cancel.clone(), quiet));
    let live = Arc::new(LiveCounters::default());
    let progress = (!quiet).then(|| tokio::spawn(live::show(config.timeline(), Arc::clone(&live))));
    let options = RunOptions {
        cancel: cancel.clone(),
        live,
        sink: None,
    };
    let result = loadtest_sweep::repeat::run_trials(config.clone(), repeat, options).await;
    if let Some(task) = progress {
        // It prints every step's line, then ends (the run is over).
        let _ = task.await;
    }
    if let Some(sim) = sim {
        sim.shutdown().await;
    }
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(SweepError::Interrupted) => {
            // Ctrl-C / SIGTERM during preflight: no run folder was made.
            signals.abort();
            if !quiet {
                output::note("interrupted before the run began: nothing was written");
            }
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Err(err) => return Err(err.into()),
    };
    if quiet {
        // Scripts read the run folder's path from stdout.
        output::line(&outcome.run_dir.display().to_string());
    } else {
        progress::print_outcome(&outcome);
    }
    // A signal that came after the drain (while outputs were written) still counts; the
    // watcher stays up until here so that a late SIGTERM cannot kill the process mid-write.
    signals.abort();
    if outcome.interrupted || cancel.is_cancelled() {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    verdict::exit_code(&outcome, config.max_error_rate, json_out.as_deref())
}

/// Warnings for token-count specs whose draws mostly hit a bound (a misread spec).
fn clamp_advice(config: &SweepConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |flag: &str, spec: &DistSpec| {
        if let Some(advice) = spec.clamp_check().advice() {
            // The advice starts with the spec itself.
            out.push(format!("{flag} {advice}"));
        }
    };
    if let InputSource::Synthetic(spec) = &config.input {
        check("--input-size", spec);
    }
    check("--max-output-tokens", &config.max_output_tokens);
    out
}

/// Stands for the simulator's URL while flags are validated.
const SIM_PLACEHOLDER_URL: &str = "http://127.0.0.1:0";

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn args(f: impl FnOnce(&mut SweepArgs)) -> SweepArgs {
        let mut a = SweepArgs {
            base_url: Some("http://127.0.0.1:1".into()),
            prompt_text: Some("hi".into()),
            ..SweepArgs::default()
        };
        f(&mut a);
        a
    }

    fn err(a: SweepArgs) -> String {
        format!("{:#}", a.into_config(None).unwrap_err())
    }

    #[test]
    fn defaults_are_the_seeds() {
        let c = args(|_| {}).into_config(None).unwrap();
        assert_eq!(c.steps, vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!(c.step_duration, Duration::from_secs(60));
        assert_eq!(c.warmup, Duration::from_secs(10));
        assert_eq!(c.max_output_tokens, DistSpec::Fixed(128));
        assert_eq!(c.max_inflight, 4096);
        assert_eq!(c.target.client.request_timeout, Duration::from_secs(600));
        assert_eq!(
            c.target.metrics_url.as_deref(),
            Some("http://127.0.0.1:1/metrics")
        );
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert_eq!(
            err(args(|a| a.input_size = Some("normal:10:x:1:5".into()))),
            "--prompt-text, --prompt-file and --input-size exclude each other: give one (or pick with --input-mode)"
        );
        assert_eq!(
            err(args(|a| {
                a.prompt_text = None;
                a.input_size = Some("normal:10:x:1:5".into());
            })),
            "invalid --input-size \"normal:10:x:1:5\": std \"x\" is not a number (expected normal:<mean>:<std>:<min>:<max>)"
        );
        assert!(err(args(|a| a.steps = Some("1,x".into()))).starts_with("invalid --steps"));
        assert!(
            err(args(|a| a.base_url = Some("localhost:8000".into())))
                .starts_with("invalid --base-url")
        );
        assert!(
            err(args(|a| a.step_duration_s = Some(0.0))).starts_with("invalid --step-duration-s")
        );
        assert!(err(args(|a| a.headers = vec!["nocolon".into()])).starts_with("invalid --header"));
        assert!(err(args(|a| a.base_url = None)).starts_with("--base-url is required"));
        assert!(err(args(|a| a.steps = Some("8000".into()))).contains("--max-inflight"));
        assert!(err(args(|a| a.prompt_text = None)).starts_with("no input given"));
    }

    #[test]
    fn simulate_has_demo_defaults() {
        let a = SweepArgs {
            simulate: true,
            ..SweepArgs::default()
        };
        let c = a.into_config(Some("http://127.0.0.1:9".into())).unwrap();
        assert_eq!(c.steps, vec![1.0, 4.0, 16.0, 64.0]);
        assert_eq!(c.step_duration, Duration::from_secs(10));
        assert!(matches!(c.input, InputSource::Synthetic(_)));
    }
}

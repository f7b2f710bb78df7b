//! `--arrival trace:PATH` on the command line: the flags that make no sense with a trace are
//! refused by name, `--trace-speed` and `--trace-max-steps` are checked, and the trace is
//! loaded (one streaming pass) once the warmup and step length are known.

use std::sync::Arc;

use anyhow::{Result, bail};
use loadtest_sweep::arrival::ArrivalSpec;
use loadtest_sweep::config::SweepConfig;
use loadtest_sweep::trace::{TraceOptions, TraceSpec, load_trace, replay_trace};

use super::SweepArgs;
use super::args::LoadModeArg;

/// A flag given with `--arrival trace:PATH` that has no meaning there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotWithTrace {
    /// The flag.
    pub(crate) flag: &'static str,
    /// Why, and what to use.
    pub(crate) why: &'static str,
}

impl std::fmt::Display for NotWithTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} does not apply to --arrival trace:PATH: {}",
            self.flag, self.why
        )
    }
}

impl std::error::Error for NotWithTrace {}

/// The trace asked for and how to replay it.
#[derive(Debug)]
pub(crate) struct TraceArgs {
    spec: TraceSpec,
    arrival_text: String,
    speed: f64,
    max_steps: Option<u64>,
}

const SLICES: &str = "the steps are consecutive --step-duration-s slices of the trace, each at the trace's own rate (cap them with --trace-max-steps)";
const LENGTHS: &str = "each request's input and output lengths are its trace row's";

/// Takes `--arrival trace:…`, `--trace-speed` and `--trace-max-steps` out of `args`; `None`
/// when `--arrival` is not a trace. A trace implies `--load-mode rate`.
pub(crate) fn take(args: &mut SweepArgs) -> Result<Option<TraceArgs>> {
    let spec = match args.arrival.as_deref().map(str::parse::<ArrivalSpec>) {
        Some(Ok(ArrivalSpec::Trace(spec))) => spec,
        Some(Err(e))
            if args
                .arrival
                .as_deref()
                .is_some_and(|a| a.starts_with("trace")) =>
        {
            bail!(
                "invalid --arrival {:?}: {e}",
                loadtest_client::sanitize_error(args.arrival.as_deref().unwrap_or_default())
            )
        }
        _ => {
            for (given, flag) in [
                (args.trace_speed.is_some(), "--trace-speed"),
                (args.trace_max_steps.is_some(), "--trace-max-steps"),
            ] {
                if given {
                    bail!("{flag} applies to --arrival trace:PATH only");
                }
            }
            return Ok(None);
        }
    };
    for (given, flag, why) in [
        (args.steps.is_some(), "--steps", SLICES),
        (args.request_rate.is_some(), "--request-rate", SLICES),
        (args.num_prompts.is_some(), "--num-prompts", SLICES),
        (args.warmup_requests.is_some(), "--warmup-requests", SLICES),
        (
            args.load_mode == Some(LoadModeArg::Concurrency),
            "--load-mode concurrency",
            "a trace is replayed open loop, at its own arrival times",
        ),
        (args.ramp_s.is_some(), "--ramp-s", SLICES),
        (args.cooldown_s.is_some(), "--cooldown-s", SLICES),
        (args.input_size.is_some(), "--input-size", LENGTHS),
        (
            args.max_output_tokens.is_some(),
            "--max-output-tokens",
            LENGTHS,
        ),
        (args.prompt_text.is_some(), "--prompt-text", LENGTHS),
        (args.prompt_file.is_some(), "--prompt-file", LENGTHS),
        (args.input_mode.is_some(), "--input-mode", LENGTHS),
        (args.dataset.is_some(), "--dataset", LENGTHS),
        (args.dataset_name.is_some(), "--dataset-name", LENGTHS),
        (
            args.shared_prefix_tokens.is_some(),
            "--shared-prefix-tokens",
            "a Mooncake trace's hash_ids give its shared prefixes",
        ),
    ] {
        if given {
            return Err(NotWithTrace { flag, why }.into());
        }
    }
    let speed = args.trace_speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0) {
        bail!("invalid --trace-speed {speed}: expected a number > 0 (2 replays twice as fast)");
    }
    if args.trace_max_steps == Some(0) {
        bail!("invalid --trace-max-steps 0: expected at least 1 step");
    }
    let arrival_text = args.arrival.take().unwrap_or_default();
    args.load_mode = Some(LoadModeArg::Rate);
    Ok(Some(TraceArgs {
        spec,
        arrival_text,
        speed,
        max_steps: args.trace_max_steps,
    }))
}

impl TraceArgs {
    /// Loads the trace, sliced with `config`'s warmup and step length, and makes `config`
    /// replay it.
    pub(crate) fn apply(self, config: &mut SweepConfig) -> Result<()> {
        let options = TraceOptions {
            speed: self.speed,
            warmup: config.warmup,
            step_duration: config.step_duration,
            max_steps: self.max_steps,
        };
        let trace = load_trace(&self.spec, options).map_err(|e| {
            anyhow::anyhow!(
                "invalid --arrival {:?}: {e}",
                loadtest_client::sanitize_error(&self.arrival_text)
            )
        })?;
        replay_trace(config, Arc::new(trace));
        Ok(())
    }
}

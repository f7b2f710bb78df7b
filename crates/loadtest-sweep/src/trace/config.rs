//! A trace in a [`SweepConfig`]: putting it there ([`replay_trace`]) and the rules a run
//! with one follows ([`validate`], called by [`SweepConfig::validate`]).

use std::sync::Arc;

use loadtest_run::{Arrival, LoadMode, Shard};

use super::TraceReplay;
use crate::config::SweepConfig;
use crate::inputs::InputSource;
use crate::validate::{ConfigError, ConfigField, MAX_RATE_PER_S};

/// Makes `config` replay `trace`: its input and arrivals are the trace's, the load mode is
/// rate, the steps are the trace's slices (`steps` = their offered rates, the whole run's),
/// the warmup and step duration those it was sliced with, no ramp and no cooldown.
pub fn replay_trace(config: &mut SweepConfig, trace: Arc<TraceReplay>) {
    let options = trace.options();
    config.steps = trace.loads(Shard::SINGLE);
    config.warmup = options.warmup;
    config.step_duration = options.step_duration;
    config.ramp = std::time::Duration::ZERO;
    config.cooldown = std::time::Duration::ZERO;
    config.load_mode = LoadMode::Rate;
    config.arrival = Arrival::Trace;
    config.input = InputSource::Trace(trace);
}

/// A rate-mode step value is a rate > 0 and at most [`MAX_RATE_PER_S`]; a trace's slice may
/// also have none (0: no arrival in it).
pub(crate) fn rate_step_ok(config: &SweepConfig, step: f64) -> bool {
    let trace = matches!(config.input, InputSource::Trace(_));
    step.is_finite() && (step > 0.0 || (trace && step == 0.0)) && step <= MAX_RATE_PER_S
}

/// The rules of a run with a trace: input and arrival both the trace's, rate mode, no
/// `--steps auto`, no fixed-count steps, no ramp or cooldown (the steps are consecutive
/// slices of the trace), and the warmup and step length it was sliced with.
pub(crate) fn validate(config: &SweepConfig) -> Result<(), ConfigError> {
    let trace = match (&config.input, config.arrival) {
        (InputSource::Trace(trace), Arrival::Trace) => trace,
        (InputSource::Trace(_), other) => {
            return Err(ConfigError::new(
                ConfigField::Arrival,
                other,
                "a trace input replays with its own arrivals (arrival trace)",
            ));
        }
        (_, Arrival::Trace) => {
            return Err(ConfigError::new(
                ConfigField::Arrival,
                "trace",
                "needs a trace input (trace:PATH)",
            ));
        }
        _ => return Ok(()),
    };
    let why = "a trace's steps are consecutive slices of its time";
    if config.load_mode != LoadMode::Rate {
        return Err(ConfigError::new(
            ConfigField::Arrival,
            "trace",
            "a trace replays in the rate load mode (open loop)",
        ));
    }
    if config.auto_stop.is_some() {
        return Err(ConfigError::new(
            ConfigField::AutoStop,
            "auto",
            format!("does not apply to a trace: {why}"),
        ));
    }
    if let Some(n) = config.num_prompts {
        return Err(ConfigError::new(
            ConfigField::NumPrompts,
            n,
            format!("does not apply to a trace: {why}, not request counts"),
        ));
    }
    if !config.ramp.is_zero() {
        return Err(ConfigError::new(
            ConfigField::Arrival,
            "trace",
            format!("expects no ramp (ramp 0): {why}"),
        ));
    }
    if !config.cooldown.is_zero() {
        return Err(ConfigError::new(
            ConfigField::Arrival,
            "trace",
            format!("expects no cooldown (cooldown 0): {why}, with no pause"),
        ));
    }
    let options = trace.options();
    if options.warmup != config.warmup || options.step_duration != config.step_duration {
        return Err(ConfigError::new(
            ConfigField::StepDuration,
            config.step_duration.as_secs_f64(),
            format!(
                "the trace was sliced with a {} s warmup and {} s steps: load it with the run's (see trace::replay_trace)",
                options.warmup.as_secs_f64(),
                options.step_duration.as_secs_f64()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::TargetConfig;
    use crate::trace::{TraceOptions, load_trace};
    use std::time::Duration;

    #[test]
    fn a_trace_config_follows_its_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            "{\"timestamp\": 0, \"input_length\": 3, \"output_length\": 2}\n{\"timestamp\": 2500, \"input_length\": 3, \"output_length\": 2}\n",
        )
        .unwrap();
        let spec = path.display().to_string().parse().unwrap();
        let trace = load_trace(
            &spec,
            TraceOptions::new(Duration::ZERO, Duration::from_secs(1)),
        )
        .unwrap();
        let mut c = SweepConfig::new(
            TargetConfig::new("http://127.0.0.1:1"),
            InputSource::Synthetic("8".parse().unwrap()),
        );
        replay_trace(&mut c, Arc::new(trace));
        assert_eq!(c.steps, vec![1.0, 0.0, 1.0]);
        c.validate().unwrap();
        assert_eq!(c.timeline().steps().len(), 3);
        let field = |f: &dyn Fn(&mut SweepConfig)| {
            let mut c = c.clone();
            f(&mut c);
            c.validate().unwrap_err().field
        };
        assert_eq!(
            field(&|c| c.arrival = Arrival::Poisson),
            ConfigField::Arrival
        );
        let mut closed = c.clone();
        closed.load_mode = LoadMode::Concurrency;
        assert_eq!(validate(&closed).unwrap_err().field, ConfigField::Arrival);
        assert_eq!(
            field(&|c| c.ramp = Duration::from_secs(1)),
            ConfigField::Arrival
        );
        assert_eq!(
            field(&|c| c.cooldown = Duration::from_secs(1)),
            ConfigField::Arrival
        );
        assert_eq!(
            field(&|c| c.step_duration = Duration::from_secs(2)),
            ConfigField::StepDuration
        );
        assert_eq!(field(&|c| c.num_prompts = Some(3)), ConfigField::NumPrompts);
        let mut plain = SweepConfig::new(
            TargetConfig::new("http://127.0.0.1:1"),
            InputSource::Synthetic("8".parse().unwrap()),
        );
        plain.arrival = Arrival::Trace;
        assert_eq!(plain.validate().unwrap_err().field, ConfigField::Arrival);
    }
}

//! The engine's own rules for a [`SweepConfig`]: [`SweepConfig::validate`] is called by
//! `run_sweep` before anything starts, so an embedding program gets the same checks as the
//! command line, and each error names the field (a front end maps it to its flag).

use std::fmt::{self, Display};
use std::time::Duration;

use loadtest_client::{Endpoint, StreamRequest};
use loadtest_run::{Arrival, LoadMode};

use crate::config::SweepConfig;
use crate::inputs::InputSource;

/// The shortest `/metrics` poll interval: shorter ones only hammer the server being measured.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The largest arrival rate a step may ask for, requests/s.
pub const MAX_RATE_PER_S: f64 = 1e6;

/// The connection-open rates a run may ask for, per second: from one a second to a million.
pub const CONNECT_RATE_PER_S: std::ops::RangeInclusive<f64> = 1.0..=1e6;

/// A [`SweepConfig`] field, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigField {
    /// `steps`.
    Steps,
    /// `step_duration`.
    StepDuration,
    /// `max_inflight`.
    MaxInflight,
    /// `connect_rate_per_s`.
    ConnectRate,
    /// `start_at`.
    StartAt,
    /// `target.client.request_timeout`.
    RequestTimeout,
    /// `poll_interval`.
    PollInterval,
    /// `gpu.interval`.
    GpuInterval,
    /// `arrival`.
    Arrival,
    /// `auto_stop`.
    AutoStop,
    /// `slo.attainment`.
    SloAttainment,
    /// `knee.min_throughput_gain`.
    KneeThroughputGain,
    /// `knee.max_latency_growth`.
    KneeLatencyGrowth,
    /// `max_error_rate`.
    MaxErrorRate,
    /// `run_name`.
    RunName,
    /// `target.model`.
    Model,
    /// `target.endpoint` with the prompts of `input`.
    Endpoint,
    /// `extra_body`.
    ExtraBody,
    /// `num_prompts`.
    NumPrompts,
    /// `warmup_requests`.
    WarmupRequests,
    /// `conversations.turns` (`--turns`), with what it cannot be combined with.
    Turns,
}

impl ConfigField {
    /// The field's path in [`SweepConfig`].
    pub fn path(self) -> &'static str {
        match self {
            ConfigField::Steps => "steps",
            ConfigField::StepDuration => "step_duration",
            ConfigField::MaxInflight => "max_inflight",
            ConfigField::ConnectRate => "connect_rate_per_s",
            ConfigField::StartAt => "start_at",
            ConfigField::RequestTimeout => "target.client.request_timeout",
            ConfigField::PollInterval => "poll_interval",
            ConfigField::GpuInterval => "gpu.interval",
            ConfigField::Arrival => "arrival",
            ConfigField::AutoStop => "auto_stop",
            ConfigField::SloAttainment => "slo.attainment",
            ConfigField::KneeThroughputGain => "knee.min_throughput_gain",
            ConfigField::KneeLatencyGrowth => "knee.max_latency_growth",
            ConfigField::MaxErrorRate => "max_error_rate",
            ConfigField::RunName => "run_name",
            ConfigField::Model => "target.model",
            ConfigField::Endpoint => "target.endpoint",
            ConfigField::ExtraBody => "extra_body",
            ConfigField::NumPrompts => "num_prompts",
            ConfigField::WarmupRequests => "warmup_requests",
            ConfigField::Turns => "conversations.turns",
        }
    }
}

impl fmt::Display for ConfigField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Why a [`SweepConfig`] cannot run: the field, the value given and what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {field} {value}: {expected}")]
pub struct ConfigError {
    /// The field.
    pub field: ConfigField,
    /// The value given, as text (sanitised where it came from a user).
    pub value: String,
    /// What is expected, or what is wrong.
    pub expected: String,
}

impl ConfigError {
    pub(crate) fn new(field: ConfigField, value: impl Display, why: impl Into<String>) -> Self {
        ConfigError {
            field,
            value: value.to_string(),
            expected: why.into(),
        }
    }
}

fn positive(field: ConfigField, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(ConfigError::new(
            field,
            "0",
            "expected a number of seconds > 0",
        ))
    } else {
        Ok(())
    }
}

fn fraction(field: ConfigField, value: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::new(
            field,
            value,
            "expected a fraction between 0 and 1",
        ))
    }
}

impl SweepConfig {
    /// Checks every rule the engine relies on; `run_sweep` calls it first.
    ///
    /// ```
    /// use loadtest_sweep::config::{SweepConfig, TargetConfig};
    /// use loadtest_sweep::inputs::InputSource;
    /// use loadtest_sweep::validate::ConfigField;
    ///
    /// let input = InputSource::Synthetic("128".parse().unwrap());
    /// let mut config = SweepConfig::new(TargetConfig::new("http://127.0.0.1:8000"), input);
    /// assert!(config.validate().is_ok());
    /// config.max_inflight = 0;
    /// assert_eq!(config.validate().unwrap_err().field, ConfigField::MaxInflight);
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        use ConfigField as F;
        if self.max_inflight == 0 {
            return Err(ConfigError::new(
                F::MaxInflight,
                0,
                "expected a whole number >= 1",
            ));
        }
        if self.steps.is_empty() {
            return Err(ConfigError::new(
                F::Steps,
                "[]",
                "expected at least one step",
            ));
        }
        for &step in &self.steps {
            let ok = match self.load_mode {
                LoadMode::Concurrency => step.is_finite() && step >= 1.0 && step.fract() == 0.0,
                LoadMode::Rate => crate::trace::rate_step_ok(self, step),
            };
            if !ok {
                let expected = match self.load_mode {
                    LoadMode::Concurrency => "expected whole numbers >= 1 (concurrent requests)",
                    LoadMode::Rate => "expected rates > 0 and <= 1000000 (requests/s)",
                };
                return Err(ConfigError::new(F::Steps, step, expected));
            }
        }
        if self.load_mode == LoadMode::Concurrency
            && let Some(top) = self.steps.iter().copied().reduce(f64::max)
            && top > self.max_inflight as f64
        {
            return Err(ConfigError::new(
                F::Steps,
                top,
                format!(
                    "a step asks for {top} concurrent requests but max_inflight is {}: raise max_inflight or lower the steps",
                    self.max_inflight
                ),
            ));
        }
        if let Some(at) = self.start_at
            && at
                .duration_since(std::time::SystemTime::now())
                .is_ok_and(|ahead| ahead > crate::start_at::MAX_START_AHEAD)
        {
            return Err(ConfigError::new(
                F::StartAt,
                crate::start_at::format_start_at(at),
                "expected an instant within the next 24 hours",
            ));
        }
        let shards = self.shard.count();
        if shards > 1 {
            if self.auto_stop.is_some() {
                return Err(ConfigError::new(
                    F::AutoStop,
                    "auto",
                    format!(
                        "cannot be sharded ({shards} shards would each stop on their own): give the steps"
                    ),
                ));
            }
            if self.load_mode == LoadMode::Concurrency
                && let Some(&low) = self.steps.iter().find(|&&s| s < f64::from(shards))
            {
                return Err(ConfigError::new(
                    F::Steps,
                    low,
                    format!(
                        "with {shards} shards every step needs at least {shards} concurrent requests (one per shard)"
                    ),
                ));
            }
        }
        if self.auto_stop.is_some() && self.load_mode == LoadMode::Rate {
            return Err(ConfigError::new(
                F::AutoStop,
                "auto",
                "applies to the concurrency load mode only: give rate mode a list of requests/s",
            ));
        }
        if let Arrival::Gamma { burstiness } = self.arrival
            && let Some(reason) = Arrival::burstiness_error(burstiness)
        {
            return Err(ConfigError::new(F::Arrival, self.arrival, reason));
        }
        crate::count::validate(self).and(crate::trace::validate(self))?;
        crate::conversation::check::validate(self)?;
        positive(F::StepDuration, self.step_duration)?;
        positive(F::RequestTimeout, self.target.client.request_timeout)?;
        if self.poll_interval < MIN_POLL_INTERVAL {
            return Err(ConfigError::new(
                F::PollInterval,
                self.poll_interval.as_secs_f64(),
                format!(
                    "expected at least {} seconds (shorter polls only load the server being measured)",
                    MIN_POLL_INTERVAL.as_secs_f64()
                ),
            ));
        }
        positive(F::GpuInterval, self.gpu.interval)?;
        if !CONNECT_RATE_PER_S.contains(&self.connect_rate_per_s) {
            return Err(ConfigError::new(
                F::ConnectRate,
                self.connect_rate_per_s,
                format!(
                    "expected new connections per second from {} to {}",
                    CONNECT_RATE_PER_S.start(),
                    CONNECT_RATE_PER_S.end()
                ),
            ));
        }
        if let Some(slo) = &self.slo {
            fraction(F::SloAttainment, slo.attainment)?;
        }
        fraction(F::KneeThroughputGain, self.knee.min_throughput_gain)?;
        let growth = self.knee.max_latency_growth;
        if !(growth.is_finite() && growth > 0.0) {
            return Err(ConfigError::new(
                F::KneeLatencyGrowth,
                growth,
                "expected a number > 0 (0.5 = +50 %)",
            ));
        }
        if let Some(rate) = self.max_error_rate {
            fraction(F::MaxErrorRate, rate)?;
        }
        let name = &self.run_name;
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(ConfigError::new(
                F::RunName,
                format!("{:?}", loadtest_client::sanitize_error(name)),
                "expected a plain folder name",
            ));
        }
        if self
            .target
            .model
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            return Err(ConfigError::new(
                F::Model,
                "\"\"",
                "expected a model name (or none, to use the first of /v1/models)",
            ));
        }
        if let Err(e) = loadtest_client::ExtraFields::new(&self.extra_body) {
            return Err(ConfigError::new(F::ExtraBody, "", e.to_string()));
        }
        if self.target.endpoint == Endpoint::Completions
            && let InputSource::PromptFile(rows) = &self.input
            && rows.iter().any(|row| {
                StreamRequest::new(Endpoint::Completions, "m".into(), row.clone()).is_err()
            })
        {
            return Err(ConfigError::new(
                F::Endpoint,
                "completions",
                "cannot send the chat \"messages\" rows of the prompt file: use the chat endpoint",
            ));
        }
        if self.target.endpoint == Endpoint::Completions
            && let InputSource::Dataset(pool) = &self.input
            && pool.rows().iter().any(|row| {
                StreamRequest::new(Endpoint::Completions, "m".into(), row.prompt.clone()).is_err()
            })
        {
            return Err(ConfigError::new(
                F::Endpoint,
                "completions",
                "cannot send the chat \"messages\" rows of the dataset: use the chat endpoint",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetConfig;

    fn config() -> SweepConfig {
        SweepConfig::new(
            TargetConfig::new("http://127.0.0.1:1"),
            InputSource::Synthetic(loadtest_dist::DistSpec::Fixed(8)),
        )
    }

    fn field(f: impl FnOnce(&mut SweepConfig)) -> ConfigField {
        let mut c = config();
        f(&mut c);
        c.validate().unwrap_err().field
    }

    #[test]
    fn every_rule_names_its_field() {
        assert!(config().validate().is_ok());
        assert_eq!(field(|c| c.max_inflight = 0), ConfigField::MaxInflight);
        assert_eq!(field(|c| c.steps.clear()), ConfigField::Steps);
        assert_eq!(field(|c| c.steps = vec![1.5]), ConfigField::Steps);
        assert_eq!(field(|c| c.steps = vec![8192.0]), ConfigField::Steps);
        assert_eq!(
            field(|c| {
                c.load_mode = LoadMode::Rate;
                c.steps = vec![f64::NAN];
            }),
            ConfigField::Steps
        );
        assert_eq!(
            field(|c| {
                c.load_mode = LoadMode::Rate;
                c.auto_stop = Some(loadtest_run::AutoStop::default());
            }),
            ConfigField::AutoStop
        );
        for burstiness in [0.0, 1e-12, 0.009, 1000.5, f64::NAN, f64::INFINITY] {
            assert_eq!(
                field(|c| c.arrival = Arrival::Gamma { burstiness }),
                ConfigField::Arrival
            );
        }
        let mut c = config();
        c.arrival = Arrival::Gamma { burstiness: 1e-12 };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid arrival gamma:1e-12: burstiness 1e-12 is outside 0.01..=1000 \
             (gamma:<burstiness>; 1 is Poisson, smaller is burstier)"
        );
        c.arrival = Arrival::Gamma { burstiness: 0.01 };
        assert!(c.validate().is_ok());
        assert_eq!(
            field(|c| c.step_duration = Duration::ZERO),
            ConfigField::StepDuration
        );
        assert_eq!(
            field(|c| c.target.client.request_timeout = Duration::ZERO),
            ConfigField::RequestTimeout
        );
        assert_eq!(
            field(|c| c.connect_rate_per_s = 0.0),
            ConfigField::ConnectRate
        );
        assert_eq!(
            field(|c| {
                c.start_at =
                    Some(std::time::SystemTime::now() + Duration::from_secs(2 * 24 * 3600));
            }),
            ConfigField::StartAt
        );
        assert_eq!(
            field(|c| {
                c.steps = vec![4.0, 2.0];
                c.shard = "1/3".parse().unwrap();
            }),
            ConfigField::Steps
        );
        assert_eq!(
            field(|c| c.connect_rate_per_s = f64::NAN),
            ConfigField::ConnectRate
        );
        assert_eq!(
            field(|c| c.poll_interval = Duration::ZERO),
            ConfigField::PollInterval
        );
        assert_eq!(
            field(|c| c.poll_interval = Duration::from_micros(100)),
            ConfigField::PollInterval
        );
        assert_eq!(
            field(|c| c.poll_interval = Duration::from_millis(49)),
            ConfigField::PollInterval
        );
        let mut c = config();
        c.poll_interval = MIN_POLL_INTERVAL;
        assert!(c.validate().is_ok());
        c.poll_interval = Duration::from_micros(100);
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid poll_interval 0.0001: expected at least 0.05 seconds \
             (shorter polls only load the server being measured)"
        );
        assert_eq!(
            field(|c| c.knee.min_throughput_gain = 2.0),
            ConfigField::KneeThroughputGain
        );
        assert_eq!(
            field(|c| c.knee.max_latency_growth = 0.0),
            ConfigField::KneeLatencyGrowth
        );
        assert_eq!(
            field(|c| c.max_error_rate = Some(-0.1)),
            ConfigField::MaxErrorRate
        );
        assert_eq!(field(|c| c.run_name = "a/b".into()), ConfigField::RunName);
        assert_eq!(
            field(|c| c.target.model = Some(" ".into())),
            ConfigField::Model
        );
        assert_eq!(
            field(|c| {
                c.extra_body
                    .insert("stream".into(), serde_json::json!(false));
            }),
            ConfigField::ExtraBody
        );
        assert_eq!(
            field(|c| {
                c.target.endpoint = Endpoint::Completions;
                c.input = InputSource::PromptFile(
                    vec![loadtest_client::Prompt::messages(&[
                        loadtest_client::ChatMessage {
                            role: "user".into(),
                            content: "hi".into(),
                        },
                    ])]
                    .into(),
                );
            }),
            ConfigField::Endpoint
        );
    }

    #[test]
    fn errors_read_as_one_line() {
        let mut c = config();
        c.max_inflight = 0;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid max_inflight 0: expected a whole number >= 1"
        );
    }
}

//! The rules of a run with conversations ([`validate`], called by
//! [`SweepConfig::validate`]).

use loadtest_client::Endpoint;

use super::{MAX_TURNS, Turns};
use crate::config::SweepConfig;
use crate::inputs::InputSource;
use crate::validate::{ConfigError, ConfigField};

/// `turns` in 1 ..= [`MAX_TURNS`]; the chat endpoint (a conversation's history is messages);
/// time steps (a fixed-count step counts requests, which conversations spread over steps);
/// not a trace replay (a trace's rows are single requests at their own times);
/// [`Turns::Dataset`] only with a ShareGPT dataset read with its turns.
pub(crate) fn validate(config: &SweepConfig) -> Result<(), ConfigError> {
    let Some(conversations) = &config.conversations else {
        return Ok(());
    };
    let turns = conversations.turns;
    let error = |why: &str| Err(ConfigError::new(ConfigField::Turns, turns, why));
    if let Turns::Fixed(n) = turns
        && !(1..=MAX_TURNS).contains(&n)
    {
        return error(&format!(
            "expected a whole number from 1 to {MAX_TURNS}, or dataset"
        ));
    }
    if config.target.endpoint == Endpoint::Completions {
        return error(
            "a conversation's history is chat messages: it takes the chat endpoint, not endpoint completions",
        );
    }
    if config.num_prompts.is_some() || config.warmup_requests.is_some_and(|w| w > 0) {
        return error(
            "conversations span steps, so they run in time steps: not with num_prompts (fixed-count steps)",
        );
    }
    if matches!(config.input, InputSource::Trace(_)) {
        return error("a trace replays single requests at their own times: not with a trace");
    }
    let rows_with_turns = matches!(&config.input, InputSource::Dataset(pool) if pool.has_turns());
    if turns == Turns::Dataset && !rows_with_turns {
        return error(
            "each conversation is a row of a ShareGPT dataset, with its own turns: it takes --dataset sharegpt:PATH",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetConfig;
    use crate::conversation::{Conversations, ThinkTime};

    #[test]
    fn conversation_rules_name_the_field() {
        let input = InputSource::Synthetic("16".parse().unwrap());
        let mut config = SweepConfig::new(TargetConfig::new("http://127.0.0.1:8000"), input);
        config.conversations = Some(Conversations {
            turns: Turns::Fixed(3),
            think_time: ThinkTime::NONE,
        });
        assert!(config.validate().is_ok());
        let refused = |config: &SweepConfig, needle: &str| {
            let err = config.validate().unwrap_err();
            assert_eq!(err.field, ConfigField::Turns);
            assert!(err.to_string().contains(needle), "{err}");
        };
        let mut c = config.clone();
        c.target.endpoint = Endpoint::Completions;
        refused(&c, "endpoint completions");
        let mut c = config.clone();
        c.num_prompts = Some(10);
        refused(&c, "num_prompts");
        for turns in [0, MAX_TURNS + 1] {
            let mut c = config.clone();
            c.conversations.as_mut().unwrap().turns = Turns::Fixed(turns);
            refused(&c, "whole number");
        }
    }

    #[test]
    fn dataset_turns_take_a_sharegpt_dataset_with_its_turns() {
        use std::sync::Arc;

        use crate::dataset::{DatasetPool, DatasetRow};
        let pool = |turns: bool| {
            let row = DatasetRow {
                prompt: loadtest_client::Prompt::text("q"),
                prompt_tokens: 1,
                output_tokens: None,
                turns: Vec::new(),
            };
            let facts = loadtest_run::DatasetFacts {
                conversations: turns.then(loadtest_run::DatasetTurnFacts::default),
                ..loadtest_run::DatasetFacts::default()
            };
            InputSource::Dataset(Arc::new(DatasetPool::from_rows(vec![row], facts, false, 0)))
        };
        let mut config = SweepConfig::new(TargetConfig::new("http://127.0.0.1:8000"), pool(true));
        config.conversations = Some(Conversations {
            turns: Turns::Dataset,
            think_time: "0.5".parse().unwrap(),
        });
        assert!(config.validate().is_ok());
        for input in [pool(false), InputSource::Synthetic("16".parse().unwrap())] {
            let mut c = config.clone();
            c.input = input;
            let err = c.validate().unwrap_err();
            assert_eq!(err.field, ConfigField::Turns);
            assert_eq!(
                err.to_string(),
                "invalid conversations.turns dataset: each conversation is a row of a ShareGPT dataset, with its own turns: it takes --dataset sharegpt:PATH"
            );
        }
        let mut c = config.clone();
        c.target.endpoint = Endpoint::Completions;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("endpoint completions")
        );
    }
}

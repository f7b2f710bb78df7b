//! Multi-turn conversations (`--turns`): a step's statistics per turn index, in
//! `step_summary.json`'s `turns`.

use serde::{Deserialize, Serialize};

use crate::LatencyStats;

/// One turn index of a step's conversations: its measure-phase requests (the turns with that
/// index that started in the step's window), their TTFT and the prompt tokens the server
/// counted. Turn `k > 0` sends the whole conversation so far, so its prompt grows with the
/// answers received; a server with a prefix cache answers it faster than its length says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnStats {
    /// The turn index, 0-based.
    pub turn: u32,
    /// Measure-phase requests of this turn index.
    pub requests: u64,
    /// Of them, `ok`.
    pub ok: u64,
    /// Of them, failed (any status but `ok` and `cancelled`): each ended its conversation.
    pub failed: u64,
    /// TTFT of the `ok` ones.
    pub ttft_s: Option<LatencyStats>,
    /// Mean of the server's `usage.prompt_tokens` over the `ok` ones that reported it.
    pub prompt_tokens_mean: Option<f64>,
    /// Largest such `prompt_tokens`.
    pub prompt_tokens_max: Option<u64>,
    /// Mean `usage.prompt_tokens_details.cached_tokens` over the `ok` ones that reported it
    /// (vLLM sends it with `--enable-prompt-tokens-details`): the prefix cache's share.
    pub cached_tokens_mean: Option<f64>,
}

/// How many turns each conversation has (`--turns`): config.json's `settings.turns`, a number
/// for [`Turns::Fixed`] and the string `"dataset"` for [`Turns::Dataset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turns {
    /// Every conversation has this many turns (`--turns N`).
    Fixed(u32),
    /// Each conversation is a dataset row, with the row's own human turns (`--turns dataset`).
    Dataset,
}

impl Turns {
    /// `dataset`, the word `--turns` and config.json use for [`Turns::Dataset`].
    pub const DATASET: &'static str = "dataset";
}

impl std::fmt::Display for Turns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Turns::Fixed(n) => write!(f, "{n}"),
            Turns::Dataset => f.write_str(Self::DATASET),
        }
    }
}

impl std::str::FromStr for Turns {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case(Self::DATASET) {
            return Ok(Turns::Dataset);
        }
        s.parse().map(Turns::Fixed).map_err(|_| {
            format!(
                "expected a whole number of turns or `dataset` (the dataset's own turns), got {s:?}"
            )
        })
    }
}

impl Serialize for Turns {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Turns::Fixed(n) => serializer.serialize_u32(*n),
            Turns::Dataset => serializer.serialize_str(Self::DATASET),
        }
    }
}

impl<'de> Deserialize<'de> for Turns {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Fixed(u32),
            Word(String),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Fixed(n) => Ok(Turns::Fixed(n)),
            Wire::Word(w) if w == Self::DATASET => Ok(Turns::Dataset),
            Wire::Word(w) => Err(serde::de::Error::custom(format!(
                "turns: expected a number or \"dataset\", got {w:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_keep_the_number_on_the_wire_and_say_dataset() {
        assert_eq!(serde_json::to_string(&Turns::Fixed(3)).unwrap(), "3");
        assert_eq!(
            serde_json::to_string(&Turns::Dataset).unwrap(),
            "\"dataset\""
        );
        for turns in [Turns::Fixed(3), Turns::Dataset] {
            let text = serde_json::to_string(&turns).unwrap();
            assert_eq!(serde_json::from_str::<Turns>(&text).unwrap(), turns);
            assert_eq!(turns.to_string().parse::<Turns>().unwrap(), turns);
        }
        assert!(serde_json::from_str::<Turns>("\"other\"").is_err());
        assert_eq!("Dataset".parse::<Turns>().unwrap(), Turns::Dataset);
        assert!("two".parse::<Turns>().unwrap_err().contains("`dataset`"));
    }
}

//! Synthetic prompts: `n` words (≈ `n` tokens; most common English words are one token for
//! Llama-family tokenizers), every word drawn from `(seed, request index)`, so each prompt is
//! unique from its first word and prefix caching does not flatter the server.

/// Common short English words, each one token for most BPE vocabularies.
const WORDS: [&str; 128] = [
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "name",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "back",
    "parent",
    "face",
    "others",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
    "research",
    "girl",
    "guy",
    "moment",
    "air",
    "teacher",
    "force",
    "education",
    "foot",
    "boy",
    "age",
    "policy",
    "music",
    "market",
    "sense",
    "nation",
    "plan",
    "college",
    "interest",
    "death",
    "experience",
    "effect",
    "use",
    "class",
    "control",
    "care",
    "field",
    "development",
    "role",
    "effort",
    "rate",
    "heart",
    "drug",
    "show",
    "leader",
    "light",
    "voice",
    "wife",
    "police",
    "mind",
];

/// A prompt of exactly `words` whitespace-separated words for request `index`.
pub fn synthetic_prompt(seed: u64, index: u64, words: u64) -> String {
    let mut state = seed ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let mut out = String::with_capacity(words as usize * 7);
    for i in 0..words {
        if i > 0 {
            out.push(' ');
        }
        let r = splitmix64(&mut state);
        out.push_str(WORDS[(r % WORDS.len() as u64) as usize]);
    }
    out
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_word_count_and_unique_prefixes() {
        let a = synthetic_prompt(1, 0, 300);
        assert_eq!(a.split(' ').count(), 300);
        let prefixes: std::collections::HashSet<String> =
            (0..1000).map(|i| synthetic_prompt(1, i, 8)).collect();
        assert!(prefixes.len() > 990, "{}", prefixes.len());
        assert_eq!(synthetic_prompt(1, 5, 20), synthetic_prompt(1, 5, 20));
        assert_eq!(synthetic_prompt(1, 5, 0), "");
    }
}

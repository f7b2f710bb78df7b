//! ShareGPT: one JSON array of `{"conversations": [{"from", "value"}, …]}`, split into its
//! elements by a byte scanner ([`super::split`]) and each parsed on its own, so a large file
//! never sits in memory whole and a broken element costs only itself.

use std::io::BufRead;

use serde_json::Value;

use super::read::{RawAnswer, RawPrompt, RawRow, RowOutcome, checked_text};
use super::split::{SplitError, for_each_element};

/// The longest element held (a whole conversation, every turn included).
pub(crate) const MAX_ELEMENT_BYTES: usize = 8 * 1024 * 1024;

/// Who asks, in ShareGPT's `from` (lower case).
pub(crate) const HUMAN: [&str; 2] = ["human", "user"];
/// Who answers.
pub(crate) const GPT: [&str; 5] = ["gpt", "chatgpt", "assistant", "bard", "bing"];

/// Calls `each` with every element of the top-level array in `reader`. The error is the
/// file's structure (not a JSON array, not closed) or a read error.
pub(crate) fn read_rows(
    reader: &mut impl BufRead,
    each: &mut dyn FnMut(RowOutcome),
) -> Result<(), SplitError> {
    read_with(reader, row, each)
}

/// [`read_rows`] keeping every human turn of each row and its answer (`--turns dataset`,
/// [`super::turns::conversation_row`]).
pub(crate) fn read_conversations(
    reader: &mut impl BufRead,
    each: &mut dyn FnMut(RowOutcome),
) -> Result<(), SplitError> {
    read_with(reader, super::turns::conversation_row, each)
}

fn read_with(
    reader: &mut impl BufRead,
    parse: fn(Value) -> RowOutcome,
    each: &mut dyn FnMut(RowOutcome),
) -> Result<(), SplitError> {
    for_each_element(reader, MAX_ELEMENT_BYTES, &mut |element| {
        each(match element {
            None => RowOutcome::TooLarge,
            Some(bytes) => match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => parse(value),
                Err(e) => RowOutcome::Invalid(format!("invalid JSON: {e}")),
            },
        });
    })
}

/// One element: the first human turn and the answer that follows it.
pub(crate) fn row(value: Value) -> RowOutcome {
    let invalid = |why: &str| RowOutcome::Invalid(why.to_owned());
    let Value::Object(mut obj) = value else {
        return invalid("row is not an object");
    };
    let Some(Value::Array(turns)) = obj.remove("conversations") else {
        return invalid("no \"conversations\" array");
    };
    let speaker = |turn: &Value| {
        turn.get("from")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
    };
    let Some(ask) = turns
        .iter()
        .position(|t| speaker(t).is_some_and(|s| HUMAN.contains(&s.as_str())))
    else {
        return invalid("no human turn");
    };
    let mut turns = turns.into_iter().skip(ask);
    let text_of = |turn: Option<Value>| match turn {
        Some(Value::Object(mut t)) => match t.remove("value") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
        _ => None,
    };
    let Some(prompt) = text_of(turns.next()) else {
        return invalid("the human turn has no string \"value\"");
    };
    let answer_turn = turns.next();
    if !answer_turn
        .as_ref()
        .and_then(speaker)
        .is_some_and(|s| GPT.contains(&s.as_str()))
    {
        return invalid("no gpt turn after the first human turn");
    }
    let Some(answer) = text_of(answer_turn) else {
        return invalid("the gpt turn has no string \"value\"");
    };
    let prompt = match checked_text(prompt, "prompt") {
        Ok(p) => p,
        Err(outcome) => return outcome,
    };
    if answer.len() > super::MAX_ROW_BYTES {
        return RowOutcome::TooLarge;
    }
    RowOutcome::Row(RawRow {
        prompt: RawPrompt::Text(prompt),
        answer: RawAnswer::Text(answer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(json: &str) -> Result<Vec<RowOutcome>, SplitError> {
        let mut out = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(5, json.as_bytes());
        read_rows(&mut reader, &mut |r| out.push(r))?;
        Ok(out)
    }

    fn ok(prompt: &str, answer: &str) -> RowOutcome {
        RowOutcome::Row(RawRow {
            prompt: RawPrompt::Text(prompt.into()),
            answer: RawAnswer::Text(answer.into()),
        })
    }

    #[test]
    fn first_human_turn_and_its_answer() {
        let json = r#"[
          {"id": "a", "conversations": [
            {"from": "system", "value": "be nice"},
            {"from": "human", "value": "hello there"},
            {"from": "gpt", "value": "hi, how can I help"},
            {"from": "human", "value": "second"}]},
          {"conversations": [{"from": "Human", "value": "q"}, {"from": "ChatGPT", "value": "a"}]}
        ]"#;
        assert_eq!(
            rows(json).unwrap(),
            vec![ok("hello there", "hi, how can I help"), ok("q", "a")]
        );
    }

    #[test]
    fn hostile_rows_are_counted_not_fatal() {
        let huge = "x".repeat(super::super::MAX_ROW_BYTES + 1);
        let json = format!(
            r#"[1, null, "text", [], {{}}, {{"conversations": 5}},
            {{"conversations": []}},
            {{"conversations": [{{"from": "gpt", "value": "only an answer"}}]}},
            {{"conversations": [{{"from": "human", "value": 7}}, {{"from": "gpt", "value": "a"}}]}},
            {{"conversations": [{{"from": "human", "value": "q"}}]}},
            {{"conversations": [{{"from": "human", "value": "q"}}, {{"from": "gpt"}}]}},
            {{"conversations": [{{"from": "human", "value": "  "}}, {{"from": "gpt", "value": "a"}}]}},
            {{"conversations": [{{"from": "human", "value": "{huge}"}}, {{"from": "gpt", "value": "a"}}]}},
            {{"conversations": [{{"from": "human", "value": "fine"}}, {{"from": "gpt", "value": "ok"}}]}}]"#
        );
        let out = rows(&json).unwrap();
        assert_eq!(out.len(), 14);
        assert_eq!(out[13], ok("fine", "ok"));
        assert_eq!(out[12], RowOutcome::TooLarge);
        assert!(
            out[..12]
                .iter()
                .all(|r| matches!(r, RowOutcome::Invalid(_))),
            "{out:?}"
        );
    }

    #[test]
    fn not_an_array_is_a_format_error() {
        assert!(rows(r#"{"conversations": []}"#).is_err());
        assert!(rows("[{\"conversations\": [}").is_err());
        assert!(rows("[] trailing").is_err());
        assert_eq!(rows(" [ ] ").unwrap(), vec![]);
        // A broken element is one invalid row, not a broken file.
        let out = rows(r#"[{"conversations" 1}, {"x": tru}]"#).unwrap();
        assert_eq!(out.len(), 2);
        assert!(
            out.iter().all(|r| matches!(r, RowOutcome::Invalid(_))),
            "{out:?}"
        );
    }
}

//! Keeping a streamed answer's text, for the next turn of its conversation: a [`GapSink`]
//! that forwards every gap and also reads `delta.content` from each token event's data.
//! Only conversation turns that have a next turn use it; every other request keeps the
//! client's text-free path.

use std::borrow::Cow;
use std::time::Duration;

use loadtest_client::GapSink;
use serde::Deserialize;

/// The most answer text kept per turn: 1 MiB. Beyond it the text is cut (at a character
/// boundary), the conversation goes on with what was kept, and a warning says so once.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Forwards gaps to `inner` and keeps the answer's text.
pub(crate) struct AnswerSink<'a, S: GapSink + ?Sized> {
    inner: &'a mut S,
    text: String,
    truncated: bool,
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

impl<'a, S: GapSink + ?Sized> AnswerSink<'a, S> {
    pub(crate) fn new(inner: &'a mut S) -> Self {
        AnswerSink {
            inner,
            text: String::new(),
            truncated: false,
        }
    }

    /// The text kept, and whether it was cut at [`MAX_ANSWER_BYTES`].
    pub(crate) fn into_text(self) -> (String, bool) {
        (self.text, self.truncated)
    }

    fn push(&mut self, piece: &str) {
        if self.truncated {
            return;
        }
        let room = MAX_ANSWER_BYTES - self.text.len();
        if piece.len() <= room {
            self.text.push_str(piece);
            return;
        }
        let mut cut = room;
        while !piece.is_char_boundary(cut) {
            cut -= 1;
        }
        self.text.push_str(&piece[..cut]);
        self.truncated = true;
    }
}

impl<S: GapSink + ?Sized> GapSink for AnswerSink<'_, S> {
    fn record_gap(&mut self, gap: Duration) {
        self.inner.record_gap(gap);
    }

    fn token_data(&mut self, data: &str) {
        // The client has already decoded the chunk; one that does not parse here carries no
        // text this reader knows (the answer is what could be read).
        let Ok(chunk) = serde_json::from_str::<Chunk<'_>>(data) else {
            return;
        };
        for choice in chunk.choices {
            if let Some(content) = choice.delta.and_then(|d| d.content) {
                self.push(&content);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_content_forwards_gaps_and_bounds_the_text() {
        let mut gaps = Vec::new();
        let mut inner = |g: Duration| gaps.push(g);
        let mut sink = AnswerSink::new(&mut inner);
        sink.token_data(r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#);
        sink.token_data(r#"{"choices":[{"index":0,"delta":{"content":"lo \"x\"\n"}}]}"#);
        sink.token_data(r#"{"choices":[{"index":0,"delta":{"reasoning":"hmm"}}]}"#);
        sink.token_data("not json");
        sink.record_gap(Duration::from_millis(3));
        let (text, truncated) = sink.into_text();
        assert_eq!(text, "Hello \"x\"\n");
        assert!(!truncated);
        assert_eq!(gaps, vec![Duration::from_millis(3)]);

        let mut none = loadtest_client::NoGapSink;
        let mut sink = AnswerSink::new(&mut none);
        let piece = "é".repeat(1000); // 2 bytes each
        let chunk = format!(r#"{{"choices":[{{"delta":{{"content":"{piece}"}}}}]}}"#);
        for _ in 0..600 {
            sink.token_data(&chunk);
        }
        let (text, truncated) = sink.into_text();
        assert!(truncated);
        assert!(text.len() <= MAX_ANSWER_BYTES && text.len() > MAX_ANSWER_BYTES - 4);
    }
}

//! Splitting a byte stream into bounded lines, whatever the chunk boundaries.

/// Longest line kept, in bytes. A real line is about 150 bytes; anything longer is garbage
/// and is reported as [`Line::Overlong`] without being buffered.
pub const MAX_LINE_BYTES: usize = 4096;

/// One line out of a [`LineSplitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line without its `\n` (invalid UTF-8 replaced by U+FFFD).
    Text(String),
    /// A line longer than [`MAX_LINE_BYTES`]; its bytes were dropped.
    Overlong,
}

/// Accumulates bytes and hands out complete lines. Memory stays under [`MAX_LINE_BYTES`]
/// whatever the input.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    overlong: bool,
}

impl LineSplitter {
    /// An empty splitter.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `bytes`; calls `on_line` for every line completed by them.
    pub fn push(&mut self, mut bytes: &[u8], mut on_line: impl FnMut(Line)) {
        while !bytes.is_empty() {
            let (part, complete) = match memchr::memchr(b'\n', bytes) {
                Some(i) => (&bytes[..i], Some(i + 1)),
                None => (bytes, None),
            };
            if !self.overlong {
                if self.buf.len() + part.len() > MAX_LINE_BYTES {
                    self.overlong = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(part);
                }
            }
            match complete {
                Some(next) => {
                    on_line(self.take());
                    bytes = &bytes[next..];
                }
                None => bytes = &[],
            }
        }
    }

    /// Hands out what is left after end of stream (a last line without `\n`), if anything.
    pub fn finish(&mut self) -> Option<Line> {
        if self.buf.is_empty() && !self.overlong {
            None
        } else {
            Some(self.take())
        }
    }

    fn take(&mut self) -> Line {
        let line = if self.overlong {
            Line::Overlong
        } else {
            Line::Text(String::from_utf8_lossy(&self.buf).into_owned())
        };
        self.buf.clear();
        self.overlong = false;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(chunks: &[&[u8]]) -> Vec<Line> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, |l| out.push(l));
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn every_split_point_gives_the_same_lines() {
        let input = b"a, 1\nb, 2\r\n\nlast";
        let whole = split_all(&[input]);
        assert_eq!(whole.len(), 4);
        for i in 0..=input.len() {
            assert_eq!(
                split_all(&[&input[..i], &input[i..]]),
                whole,
                "split at {i}"
            );
        }
    }

    #[test]
    fn overlong_line_is_dropped_and_bounded() {
        let long = vec![b'x'; MAX_LINE_BYTES * 3];
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for chunk in long.chunks(1000) {
            s.push(chunk, |l| out.push(l));
            assert!(s.buf.len() <= MAX_LINE_BYTES);
        }
        s.push(b"\nok\n", |l| out.push(l));
        assert_eq!(out, vec![Line::Overlong, Line::Text("ok".into())]);
    }
}

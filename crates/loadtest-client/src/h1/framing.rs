//! A response body's framing (RFC 9112 §6): a `Content-Length`, `chunked` transfer coding, or
//! everything until the server closes. [`BodyDecoder::decode`] works in place over whatever
//! bytes have arrived: it hands out the payload as slices of its input (no copy) and keeps
//! only a few integers of state between reads, so a chunk header or a CRLF split across two
//! reads is handled like any other.
//!
//! Everything here is bounded: a chunk-size line (with its extensions) is at most
//! [`MAX_CHUNK_LINE_BYTES`], a chunk size at most 2⁶⁰ − 1, trailers at most
//! [`MAX_TRAILER_BYTES`] in all. Anything else is a [`FramingError`], never a panic.

/// The longest chunk-size line accepted, extensions included.
pub(crate) const MAX_CHUNK_LINE_BYTES: usize = 4096;
/// The most trailer bytes accepted after the last chunk.
pub(crate) const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// The most hex digits of a chunk size (2⁶⁰ − 1: far beyond any body, and no overflow).
const MAX_SIZE_DIGITS: u32 = 15;

/// How a body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection (the connection cannot be reused).
    Close,
}

/// A body that breaks its framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FramingError {
    /// A chunk-size line that is not hex digits (optionally followed by `;` extensions).
    #[error("invalid chunk size line")]
    BadChunkSize,
    /// A chunk size over 2⁶⁰ − 1.
    #[error("chunk size too large")]
    ChunkTooLarge,
    /// A chunk-size line longer than the limit.
    #[error("chunk size line longer than {MAX_CHUNK_LINE_BYTES} bytes")]
    ChunkLineTooLong,
    /// A chunk's data not followed by CRLF.
    #[error("chunk data not followed by CRLF")]
    MissingChunkEnd,
    /// Trailers longer than the limit.
    #[error("trailers longer than {MAX_TRAILER_BYTES} bytes")]
    TrailersTooLong,
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line: the size so far, its digits, whether extensions started,
    /// the line's length so far.
    Size {
        size: u64,
        digits: u32,
        in_extension: bool,
        line: usize,
    },
    /// Saw the size line's CR: an LF must follow.
    SizeLf { size: u64 },
    /// Inside a chunk's data: bytes left.
    Data { left: u64 },
    /// After a chunk's data: the CR.
    DataCr,
    /// After a chunk's data: the LF.
    DataLf,
    /// After the last chunk: trailer lines until an empty one (a CR is skipped, an LF ends a
    /// line); `total` counts the bytes so far.
    Trailers { at_line_start: bool, total: usize },
    /// The body is complete.
    Done,
}

impl Chunk {
    const START: Chunk = Chunk::Size {
        size: 0,
        digits: 0,
        in_extension: false,
        line: 0,
    };
}

/// What [`BodyDecoder::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Input bytes used: the body's (payload and framing); the rest belongs to whatever
    /// follows the body on the connection.
    pub(crate) consumed: usize,
    /// Whether the body is complete.
    pub(crate) done: bool,
}

/// Incremental decoder of one body.
#[derive(Debug, Clone)]
pub(crate) struct BodyDecoder {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Length { left: u64 },
    Chunked(Chunk),
    Close { ended: bool },
}

impl BodyDecoder {
    /// A decoder for a body framed as `framing`.
    pub(crate) fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Length(n) => State::Length { left: n },
            Framing::Chunked => State::Chunked(Chunk::START),
            Framing::Close => State::Close { ended: false },
        };
        Self { state }
    }

    /// Whether the body is complete.
    pub(crate) fn is_done(&self) -> bool {
        match self.state {
            State::Length { left } => left == 0,
            State::Chunked(c) => c == Chunk::Done,
            State::Close { ended } => ended,
        }
    }

    /// The connection was closed by the server: a close-delimited body is then complete;
    /// any other body that is not yet complete was cut short (`false`).
    pub(crate) fn on_eof(&mut self) -> bool {
        if let State::Close { ended } = &mut self.state {
            *ended = true;
        }
        self.is_done()
    }

    /// Decodes what `input` holds, handing each run of payload bytes to `data` (in order,
    /// as slices of `input`). Stops at the body's end: bytes after it are not consumed.
    pub(crate) fn decode<'a>(
        &mut self,
        input: &'a [u8],
        data: &mut dyn FnMut(&'a [u8]),
    ) -> Result<Decoded, FramingError> {
        match &mut self.state {
            State::Length { left } => {
                let n = input
                    .len()
                    .min(usize::try_from(*left).unwrap_or(usize::MAX));
                if n > 0 {
                    data(&input[..n]);
                }
                *left -= n as u64;
                Ok(Decoded {
                    consumed: n,
                    done: *left == 0,
                })
            }
            State::Close { .. } => {
                if !input.is_empty() {
                    data(input);
                }
                Ok(Decoded {
                    consumed: input.len(),
                    done: false,
                })
            }
            State::Chunked(chunk) => decode_chunked(chunk, input, data),
        }
    }
}

fn decode_chunked<'a>(
    state: &mut Chunk,
    input: &'a [u8],
    data: &mut dyn FnMut(&'a [u8]),
) -> Result<Decoded, FramingError> {
    let mut i = 0;
    while i < input.len() {
        match *state {
            Chunk::Done => break,
            Chunk::Data { left } => {
                let n = (input.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                data(&input[i..i + n]);
                i += n;
                let left = left - n as u64;
                *state = if left == 0 {
                    Chunk::DataCr
                } else {
                    Chunk::Data { left }
                };
            }
            Chunk::Size {
                size,
                digits,
                in_extension,
                line,
            } => {
                let b = input[i];
                i += 1;
                let line = line + 1;
                if line > MAX_CHUNK_LINE_BYTES {
                    return Err(FramingError::ChunkLineTooLong);
                }
                *state = match b {
                    b'\r' if digits > 0 => Chunk::SizeLf { size },
                    // A bare LF ends the line too (lenient, as most clients are).
                    b'\n' if digits > 0 => after_size(size),
                    _ if in_extension => Chunk::Size {
                        size,
                        digits,
                        in_extension,
                        line,
                    },
                    b';' | b' ' | b'\t' if digits > 0 => Chunk::Size {
                        size,
                        digits,
                        in_extension: true,
                        line,
                    },
                    _ => {
                        let digit = (b as char).to_digit(16).ok_or(FramingError::BadChunkSize)?;
                        if digits >= MAX_SIZE_DIGITS {
                            return Err(FramingError::ChunkTooLarge);
                        }
                        Chunk::Size {
                            size: size * 16 + u64::from(digit),
                            digits: digits + 1,
                            in_extension,
                            line,
                        }
                    }
                };
            }
            Chunk::SizeLf { size } => {
                if input[i] != b'\n' {
                    return Err(FramingError::BadChunkSize);
                }
                i += 1;
                *state = after_size(size);
            }
            Chunk::DataCr => {
                *state = match input[i] {
                    b'\r' => Chunk::DataLf,
                    b'\n' => Chunk::START,
                    _ => return Err(FramingError::MissingChunkEnd),
                };
                i += 1;
            }
            Chunk::DataLf => {
                if input[i] != b'\n' {
                    return Err(FramingError::MissingChunkEnd);
                }
                i += 1;
                *state = Chunk::START;
            }
            Chunk::Trailers {
                at_line_start,
                total,
            } => {
                let b = input[i];
                i += 1;
                let total = total + 1;
                if total > MAX_TRAILER_BYTES {
                    return Err(FramingError::TrailersTooLong);
                }
                *state = match b {
                    b'\n' if at_line_start => Chunk::Done,
                    b'\n' => Chunk::Trailers {
                        at_line_start: true,
                        total,
                    },
                    b'\r' => Chunk::Trailers {
                        at_line_start,
                        total,
                    },
                    _ => Chunk::Trailers {
                        at_line_start: false,
                        total,
                    },
                };
            }
        }
    }
    Ok(Decoded {
        consumed: i,
        done: *state == Chunk::Done,
    })
}

/// After a chunk-size line: the data, or the trailers after the last (zero-size) chunk.
fn after_size(size: u64) -> Chunk {
    if size == 0 {
        Chunk::Trailers {
            at_line_start: true,
            total: 0,
        }
    } else {
        Chunk::Data { left: size }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Decodes `pieces` one after the other as separate reads (keeping unconsumed bytes, as
    /// the connection does), returning the payload, whether the body completed and what
    /// followed it.
    fn run(framing: Framing, pieces: &[&[u8]]) -> Result<(Vec<u8>, bool, Vec<u8>), FramingError> {
        let mut decoder = BodyDecoder::new(framing);
        let mut out = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            pending.extend_from_slice(piece);
            let d = decoder.decode(&pending, &mut |s| out.extend_from_slice(s))?;
            pending.drain(..d.consumed);
            if d.done {
                pending.extend(pieces[i + 1..].iter().flat_map(|p| p.iter()));
                return Ok((out, true, pending));
            }
        }
        Ok((out, decoder.is_done(), pending))
    }

    const BODY: &[u8] = b"6\r\nhello \r\n1b;ext=\"a;b\"\r\ndata: {\"x\":1}\n\ndata: [DONE]\r\n0\r\nX-Trailer: t\r\n\r\nHTTP/1.1";

    #[test]
    fn chunked_with_extensions_and_trailers() {
        let (out, done, rest) = run(Framing::Chunked, &[BODY]).unwrap();
        assert_eq!(out, b"hello data: {\"x\":1}\n\ndata: [DONE]");
        assert!(done);
        assert_eq!(rest, b"HTTP/1.1");
    }

    #[test]
    fn bare_lf_line_ends_are_accepted() {
        let (out, done, _) = run(Framing::Chunked, &[b"3\nabc\n0\n\n"]).unwrap();
        assert_eq!((out.as_slice(), done), (&b"abc"[..], true));
    }

    #[test]
    fn length_and_close_bodies() {
        let (out, done, rest) = run(Framing::Length(5), &[b"he", b"llo more"]).unwrap();
        assert_eq!(
            (out.as_slice(), done, rest.as_slice()),
            (&b"hello"[..], true, &b" more"[..])
        );
        let (out, done, _) = run(Framing::Close, &[b"a", b"b"]).unwrap();
        assert_eq!((out.as_slice(), done), (&b"ab"[..], false));
        let mut d = BodyDecoder::new(Framing::Close);
        assert!(d.on_eof());
        let mut d = BodyDecoder::new(Framing::Length(3));
        assert!(!d.on_eof(), "a body cut short is not complete");
        assert!(BodyDecoder::new(Framing::Length(0)).is_done());
    }

    #[test]
    fn hostile_chunked_bodies_are_errors() {
        let cases: [(&[u8], FramingError); 6] = [
            (b"zz\r\n", FramingError::BadChunkSize),
            (b"\r\n", FramingError::BadChunkSize),
            (b"1234567890abcdef0\r\n", FramingError::ChunkTooLarge),
            (b"3\rX", FramingError::BadChunkSize),
            (b"3\r\nabcX", FramingError::MissingChunkEnd),
            (b"3\r\nabc\rX", FramingError::MissingChunkEnd),
        ];
        for (input, want) in cases {
            assert_eq!(
                run(Framing::Chunked, &[input]).unwrap_err(),
                want,
                "{input:?}"
            );
        }
        let long_ext = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE_BYTES]].concat();
        assert_eq!(
            run(Framing::Chunked, &[&long_ext]).unwrap_err(),
            FramingError::ChunkLineTooLong
        );
        let trailers = [b"0\r\n".as_slice(), &[b'x'; MAX_TRAILER_BYTES + 1]].concat();
        assert_eq!(
            run(Framing::Chunked, &[&trailers]).unwrap_err(),
            FramingError::TrailersTooLong
        );
    }

    #[test]
    fn an_unfinished_chunked_body_is_not_done() {
        let (out, done, _) = run(Framing::Chunked, &[b"5\r\nabc"]).unwrap();
        assert_eq!((out.as_slice(), done), (&b"abc"[..], false));
        let mut d = BodyDecoder::new(Framing::Chunked);
        assert!(!d.on_eof());
    }

    #[test]
    fn the_fuzz_entry_point_holds_on_real_shapes() {
        let mut wire =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_vec();
        wire.extend_from_slice(BODY);
        for split in [0u8, 1, 77, 128, 254, 255] {
            let mut data = vec![split];
            data.extend_from_slice(&wire);
            crate::h1::fuzz_response(&data);
            crate::h1::fuzz_response(&data[..data.len() / 2]);
        }
        crate::h1::fuzz_response(b"");
        crate::h1::fuzz_response(b"\x00HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\nabc");
    }

    proptest! {
        /// Every split of a chunked body into reads decodes to the same payload and leaves
        /// the same bytes after it.
        #[test]
        fn every_split_decodes_the_same(a in 0..BODY.len(), b in 0..BODY.len()) {
            let (a, b) = (a.min(b), a.max(b));
            let got = run(Framing::Chunked, &[&BODY[..a], &BODY[a..b], &BODY[b..]]).unwrap();
            prop_assert_eq!(got, run(Framing::Chunked, &[BODY]).unwrap());
        }

        /// Any bytes: an error or a result, never a panic, and never more payload than input.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok((out, _, _)) = run(Framing::Chunked, &[&input]) {
                prop_assert!(out.len() <= input.len());
            }
        }

        /// Encoding any payload in any chunk sizes and decoding it round-trips.
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..512), size in 1usize..64) {
            let mut wire = Vec::new();
            for chunk in payload.chunks(size) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
            let (out, done, rest) = run(Framing::Chunked, &[&wire]).unwrap();
            prop_assert_eq!(out, payload);
            prop_assert!(done && rest.is_empty());
        }
    }
}

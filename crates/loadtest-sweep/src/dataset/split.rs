//! Splits one big JSON array into its elements without parsing them: a byte scanner that
//! tracks strings (with escapes) and nesting depth, so each element can be parsed on its own
//! (`serde_json::from_slice`, fast) and a broken or huge element costs only itself. Memory is
//! bounded by `cap`: an element longer than that is reported as too large and not held.

use std::io::BufRead;

/// Why the file is not a JSON array of elements.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SplitError {
    /// Reading failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The structure is wrong (at byte `offset` of the file, after any BOM).
    #[error("{reason} (at byte {offset})")]
    Format {
        /// Where.
        offset: u64,
        /// What.
        reason: &'static str,
    },
}

/// One element: its bytes, or `None` when it was longer than the cap.
pub(crate) type Element<'a> = Option<&'a [u8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Before the opening `[`.
    Before,
    /// Inside the array.
    Inside,
    /// After the closing `]`.
    After,
}

/// Calls `each` with every element of the top-level array in `reader`.
pub(crate) fn for_each_element(
    reader: &mut impl BufRead,
    cap: usize,
    each: &mut dyn FnMut(Element<'_>),
) -> Result<(), SplitError> {
    let mut at = Where::Before;
    let mut elem: Vec<u8> = Vec::new();
    let (mut too_large, mut depth, mut in_str, mut escaped) = (false, 0u32, false, false);
    let mut offset = 0u64;
    let bad = |offset: u64, reason: &'static str| SplitError::Format { offset, reason };
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let len = buf.len();
        let mut i = 0;
        while i < len {
            let b = buf[i];
            match at {
                Where::Before | Where::After if b.is_ascii_whitespace() => i += 1,
                Where::Before if b == b'[' => {
                    at = Where::Inside;
                    i += 1;
                }
                Where::Before => return Err(bad(offset + i as u64, "expected a JSON array")),
                Where::After => {
                    return Err(bad(
                        offset + i as u64,
                        "trailing characters after the array",
                    ));
                }
                Where::Inside if in_str && escaped => {
                    escaped = false;
                    push(&mut elem, &mut too_large, &buf[i..=i], cap);
                    i += 1;
                }
                Where::Inside if in_str => {
                    // Jump to the next quote or backslash: most bytes are string contents.
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        Some(n) => {
                            if buf[i + n] == b'\\' {
                                escaped = true;
                            } else {
                                in_str = false;
                            }
                            push(&mut elem, &mut too_large, &buf[i..=i + n], cap);
                            i += n + 1;
                        }
                        None => {
                            push(&mut elem, &mut too_large, &buf[i..], cap);
                            i = len;
                        }
                    }
                }
                Where::Inside => {
                    match b {
                        b'"' => in_str = true,
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' if depth > 0 => depth -= 1,
                        b'}' => return Err(bad(offset + i as u64, "unbalanced '}'")),
                        b']' | b',' if depth == 0 => {
                            let empty = elem.is_empty() && !too_large;
                            if b == b',' && empty {
                                return Err(bad(offset + i as u64, "empty array element"));
                            }
                            if !empty {
                                each((!too_large).then_some(&elem[..]));
                            }
                            elem.clear();
                            too_large = false;
                            if b == b']' {
                                at = Where::After;
                            }
                            i += 1;
                            continue;
                        }
                        c if c.is_ascii_whitespace() && depth == 0 => {
                            i += 1;
                            continue;
                        }
                        _ => {}
                    }
                    push(&mut elem, &mut too_large, &buf[i..i + 1], cap);
                    i += 1;
                }
            }
        }
        reader.consume(len);
        offset += len as u64;
    }
    match at {
        Where::After => Ok(()),
        Where::Before => Err(bad(
            offset,
            "expected a JSON array, found the end of the file",
        )),
        Where::Inside => Err(bad(offset, "the array is not closed (file cut short?)")),
    }
}

/// Appends `bytes` unless the element is over `cap` (then it is dropped and marked).
fn push(elem: &mut Vec<u8>, too_large: &mut bool, bytes: &[u8], cap: usize) {
    if *too_large {
        return;
    }
    if elem.len() + bytes.len() > cap {
        *too_large = true;
        elem.clear();
        elem.shrink_to(64 * 1024);
    } else {
        elem.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &[u8], cap: usize, chunk: usize) -> Result<Vec<Option<String>>, SplitError> {
        let mut out = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(chunk, text);
        for_each_element(&mut reader, cap, &mut |e| {
            out.push(e.map(|b| String::from_utf8_lossy(b).into_owned()));
        })?;
        Ok(out)
    }

    #[test]
    fn elements_at_every_chunk_size() {
        let text = br#" [ {"a":"x,]}\"\\"}, [1,{"b":[]}] ,"s\\" , 7 ,null]  "#;
        let want: Vec<Option<String>> = [
            r#"{"a":"x,]}\"\\"}"#,
            r#"[1,{"b":[]}]"#,
            r#""s\\""#,
            "7",
            "null",
        ]
        .iter()
        .map(|s| Some((*s).to_owned()))
        .collect();
        for chunk in 1..=text.len() {
            assert_eq!(split(text, 1000, chunk).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn strings_keep_their_bytes_and_escapes() {
        let text = br#"["a \"quoted\" ] , string", {"k": "v\\"}]"#;
        for chunk in 1..8 {
            let got = split(text, 1000, chunk).unwrap();
            assert_eq!(
                got,
                vec![
                    Some(r#""a \"quoted\" ] , string""#.to_owned()),
                    Some(r#"{"k": "v\\"}"#.to_owned()),
                ],
                "chunk {chunk}"
            );
        }
    }

    proptest::proptest! {
        /// Any array serde_json writes (strings full of quotes, escapes, brackets and commas,
        /// nested objects, pretty or compact) splits into exactly its elements, whatever the
        /// read size.
        #[test]
        fn splits_what_serde_writes(
            texts in proptest::collection::vec(".*", 0..8),
            chunk in 1usize..64,
            pretty in proptest::bool::ANY,
        ) {
            let values: Vec<serde_json::Value> = texts
                .iter()
                .enumerate()
                .map(|(i, t)| match i % 3 {
                    0 => serde_json::json!(t),
                    1 => serde_json::json!({"conversations": [{"from": "human", "value": t}], "n": [i, [t]]}),
                    _ => serde_json::json!([t, {"k": t}, null, 1.5]),
                })
                .collect();
            let text = if pretty {
                serde_json::to_vec_pretty(&values).unwrap()
            } else {
                serde_json::to_vec(&values).unwrap()
            };
            let mut got = Vec::new();
            let mut reader = std::io::BufReader::with_capacity(chunk, &text[..]);
            for_each_element(&mut reader, 1 << 20, &mut |e| {
                got.push(serde_json::from_slice::<serde_json::Value>(e.unwrap()).unwrap());
            })
            .unwrap();
            proptest::prop_assert_eq!(got, values);
        }
    }

    #[test]
    fn large_elements_are_dropped_not_held() {
        let big = format!(r#"["{}", "ok"]"#, "x".repeat(100));
        assert_eq!(
            split(big.as_bytes(), 50, 7).unwrap(),
            vec![None, Some("\"ok\"".to_owned())]
        );
    }

    #[test]
    fn broken_structure_is_a_format_error() {
        for bad in [&b"{}"[..], b"", b"[1, 2", b"[1,,2]", b"[1] x", b"[1}]"] {
            assert!(
                matches!(split(bad, 100, 3), Err(SplitError::Format { .. })),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(split(b"[]", 100, 1).unwrap(), Vec::<Option<String>>::new());
        assert_eq!(
            split(b" [ ] \n", 100, 1).unwrap(),
            Vec::<Option<String>>::new()
        );
    }
}

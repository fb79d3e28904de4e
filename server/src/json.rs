//! JSON text written straight into a buffer, for the large answers that are not built as a value
//! tree first (REST lineage, GraphQL's plain lists), and JSON bytes read as text. Escapes as `serde_json` does: `"`, `\` and
//! the control characters; everything else, non-ASCII included, is copied as it is.

/// JSON bytes as text: JSON is UTF-8. Checked whole, once, so that the text can be parsed as a
/// `str` (serde_json checks each string's UTF-8 again when it parses bytes; as text an event
/// parses ~15 % faster). The error names where the bytes stop being UTF-8.
pub fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at byte offset {}", e.valid_up_to()))
}

/// Writes `s` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_str_contents(out, s);
    out.push(b'"');
}

/// Writes `s` escaped, without the quotes. Names and ids rarely hold anything to escape, and
/// writing them is most of a large answer's time: the test is made eight bytes at a time, and a
/// string with nothing to escape is copied in one piece.
pub fn write_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !any_to_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether `bytes` hold anything JSON escapes, tested eight bytes at a time (the last word
/// overlapping the one before it; a string shorter than a word byte by byte).
fn any_to_escape(bytes: &[u8]) -> bool {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    if bytes.len() < 8 {
        return bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
    }
    (0..bytes.len() / 8).any(|i| needs_escape(word(i * 8))) || needs_escape(word(bytes.len() - 8))
}

/// Whether any of the eight bytes is `"`, `\` or a control character (the exact "has a byte
/// below n" and "has a zero byte" word tests; individual bytes' flags may be off, the answer
/// is not).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    let zero = |x: u64| below(x, 1);
    (below(word, 0x20)
        | zero(word ^ (ONES * u64::from(b'"')))
        | zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes an integer.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    use std::io::Write;
    write!(out, "{n}").expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain",
            "quote \" and backslash \\",
            "lines\nand\ttabs\r",
            "controls \u{0} \u{1} \u{8} \u{c} \u{1f} \u{7f}",
            "non-ASCII: é 漢字 \u{2028} 🦀",
            "s3://bucket/path:with:colons",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn every_character_to_escape_is_found_wherever_it_sits_in_a_word() {
        let fillers = ["a", "é", "\u{7f}", "\u{80}", "ÿ", "漢", "🦀"];
        let specials = ['"', '\\', '\u{0}', '\u{1f}', '\n', 'x', '\u{20}', '~'];
        for filler in fillers {
            for special in specials {
                for len in 0..20 {
                    for at in 0..=len {
                        let mut s: String = filler.repeat(len);
                        let at = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
                        s.insert(at, special);
                        let mut out = Vec::new();
                        write_str(&mut out, &s);
                        assert_eq!(
                            String::from_utf8(out).unwrap(),
                            serde_json::to_string(&s).unwrap(),
                            "{s:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn integers_are_written_in_decimal() {
        let mut out = Vec::new();
        for n in [0, 7, -3, i64::MAX] {
            write_int(&mut out, n);
            out.push(b' ');
        }
        assert_eq!(out, format!("0 7 -3 {} ", i64::MAX).into_bytes());
    }
}

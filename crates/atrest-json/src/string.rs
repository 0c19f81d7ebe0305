//! Strings: finding the end of one at word speed, checking its escapes, and unescaping it when its value is
//! needed (a key, or a wanted leaf). UTF-8 is checked once for the whole text before scanning, so here a string
//! body only has to be searched for `"`, `\` and control characters.

use crate::error::ErrorKind;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// A mask with the high bit set in (at least) the lowest byte of `w` that is `"`, `\` or below 0x20, and zero if
/// there is none. Each test is the classic "has a zero byte" trick: it can mark bytes above a true match, never
/// below one, so the lowest marked byte is always a true match.
#[inline(always)]
fn specials(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    let zero_q = quote.wrapping_sub(ONES) & !quote;
    let zero_b = backslash.wrapping_sub(ONES) & !backslash;
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (zero_q | zero_b | control) & HIGH
}

/// Index of the first byte of `chunk` that is `"`, `\\` or below 0x20, if any: two words of [`specials`].
/// (Measured against lane-by-lane forms that the compiler vectorizes, and against a bit mask gathered from
/// both words: this was the fastest on the store's documents; docs/benchmarks.md, "JSON validation".)
#[inline(always)]
fn first_special16(chunk: &[u8; 16]) -> Option<usize> {
    let (a, b) = chunk.split_at(8);
    let a = specials(u64::from_le_bytes(a.try_into().unwrap_or([0; 8])));
    if a != 0 {
        return Some((a.trailing_zeros() / 8) as usize);
    }
    let b = specials(u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    (b != 0).then(|| 8 + (b.trailing_zeros() / 8) as usize)
}

/// Scans the string whose opening quote is at `start`. Returns the offset just after its closing quote and
/// whether it has escapes, or the offset and kind of the first fault.
#[inline]
pub(crate) fn scan(text: &[u8], start: usize) -> Result<(usize, bool), (usize, ErrorKind)> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        // 16 bytes per step; the tail, and each special byte, one at a time.
        while let Some(chunk) = text.get(i..).and_then(<[u8]>::first_chunk::<16>) {
            if let Some(k) = first_special16(chunk) {
                i += k;
                break;
            }
            i += 16;
        }
        let Some(&c) = text.get(i) else {
            return Err((i, ErrorKind::UnexpectedEnd { expected: "'\"' to close the string" }));
        };
        match c {
            b'"' => return Ok((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i = escape(text, i)?;
            }
            0..=0x1f => return Err((i, ErrorKind::ControlCharacter { byte: c })),
            _ => i += 1,
        }
    }
}

/// Checks the escape whose backslash is at `i`; returns the offset after it.
fn escape(text: &[u8], i: usize) -> Result<usize, (usize, ErrorKind)> {
    match text.get(i + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 2),
        Some(b'u') => {
            let code = hex4(text, i + 2).ok_or((i, ErrorKind::BadHexEscape))?;
            match code {
                0xD800..=0xDBFF => {
                    let low = match text.get(i + 6..i + 8) {
                        Some(b"\\u") => hex4(text, i + 8).ok_or((i + 6, ErrorKind::BadHexEscape))?,
                        _ => return Err((i, ErrorKind::LoneSurrogate { code })),
                    };
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return Err((i, ErrorKind::LoneSurrogate { code }));
                    }
                    Ok(i + 12)
                }
                0xDC00..=0xDFFF => Err((i, ErrorKind::LoneSurrogate { code })),
                _ => Ok(i + 6),
            }
        }
        Some(_) => Err((i, ErrorKind::BadEscape { found: char_at(text, i + 1) })),
        None => Err((i + 1, ErrorKind::UnexpectedEnd { expected: "an escape after '\\'" })),
    }
}

/// The four hex digits at `i` as a number.
fn hex4(text: &[u8], i: usize) -> Option<u16> {
    let digits = text.get(i..i + 4)?;
    digits.iter().try_fold(0u16, |acc, &d| Some(acc << 4 | (d as char).to_digit(16)? as u16))
}

/// The character starting at `i` of a text already checked to be UTF-8 (U+FFFD if `i` is not a boundary).
pub(crate) fn char_at(text: &[u8], i: usize) -> char {
    let end = (i + 4).min(text.len());
    let bytes = text.get(i..end).unwrap_or_default();
    match std::str::from_utf8(bytes) {
        Ok(s) => s.chars().next(),
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok().and_then(|s| s.chars().next()),
    }
    .unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Appends the unescaped value of a string body (between its quotes) that [`scan`] accepted.
pub(crate) fn unescape(body: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(p) = body[i..].iter().position(|&b| b == b'\\') {
        out.extend_from_slice(&body[i..i + p]);
        i += p;
        let simple = match body.get(i + 1) {
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            Some(b'u') => None,
            Some(&c) => Some(c),
            None => return,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
            continue;
        }
        let code = u32::from(hex4(body, i + 2).unwrap_or(0xFFFD));
        let (c, len) = if (0xD800..=0xDBFF).contains(&code) {
            let low = u32::from(hex4(body, i + 8).unwrap_or(0xDC00));
            (0x10000 + ((code - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF), 12)
        } else {
            (code, 6)
        };
        let c = char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        i += len;
    }
    out.extend_from_slice(&body[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_finds_the_first_match_at_every_position() {
        for pos in 0..8 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for filler in [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b'[', b']'] {
                    let mut w = [filler; 8];
                    w[pos] = special;
                    // A second match above the first must not move the result.
                    if pos < 7 {
                        w[7] = b'"';
                    }
                    let m = specials(u64::from_le_bytes(w));
                    assert_eq!(m.trailing_zeros() / 8, pos as u32, "{w:?}");
                }
            }
        }
        for filler in [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b']', 0x21] {
            assert_eq!(specials(u64::from_le_bytes([filler; 8])), 0, "{filler:#x}");
        }
    }

    #[test]
    fn first_special16_finds_the_first_special_byte() {
        for pos in 0..16 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for filler in [b'a', 0x20, 0x7f, 0x80, 0xff, b'!', b'#', b']'] {
                    let mut c = [filler; 16];
                    c[pos] = special;
                    if pos < 15 {
                        c[15] = b'\\';
                    }
                    assert_eq!(first_special16(&c), Some(pos), "{c:?}");
                }
            }
        }
        assert_eq!(first_special16(&[b'x'; 16]), None);
    }

    #[test]
    fn scan_and_unescape() {
        let t = br#""a\"b\u0041\ud83d\ude00\n" x"#;
        let (end, esc) = scan(t, 0).unwrap();
        assert_eq!((end, esc), (t.len() - 2, true));
        let mut out = Vec::new();
        unescape(&t[1..end - 1], &mut out);
        assert_eq!(out, "a\"bA\u{1F600}\n".as_bytes());
        for len in 0..40 {
            let s = format!("\"{}\"", "x".repeat(len));
            assert_eq!(scan(s.as_bytes(), 0), Ok((len + 2, false)));
            let open = format!("\"{}", "x".repeat(len));
            assert!(matches!(scan(open.as_bytes(), 0), Err((_, ErrorKind::UnexpectedEnd { .. }))));
        }
        assert_eq!(scan(br#""\ud800""#, 0), Err((1, ErrorKind::LoneSurrogate { code: 0xd800 })));
        assert_eq!(scan(br#""\udc00\ud800""#, 0), Err((1, ErrorKind::LoneSurrogate { code: 0xdc00 })));
        assert_eq!(scan(br#""\ud800\u0041""#, 0), Err((1, ErrorKind::LoneSurrogate { code: 0xd800 })));
        assert_eq!(scan(b"\"ab\tc\"", 0), Err((3, ErrorKind::ControlCharacter { byte: 9 })));
        assert_eq!(scan(br#""\x""#, 0), Err((1, ErrorKind::BadEscape { found: 'x' })));
        assert_eq!(scan(br#""\u12g4""#, 0), Err((1, ErrorKind::BadHexEscape)));
    }
}

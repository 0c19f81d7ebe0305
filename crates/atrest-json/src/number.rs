//! Numbers: the RFC 8259 grammar, and an exact canonical decimal form so that equal values give equal bytes
//! (`1`, `1.0`, `1e0` and `10e-1` are one value; `-0` is `0`; no digit is ever rounded away).
//!
//! Canonical form: `0` for zero, else `[-]D[.DDD]eX`: the significant digits without leading or trailing zeros,
//! the point after the first one, and the decimal exponent `X` of that first digit (`1e0`, `1.5e3`, `-2.5e-7`).

use crate::error::ErrorKind;

/// Exponents longer than this (after leading zeros) are refused: the canonical exponent must fit an `i64`
/// together with the position of the first digit, which a text of at most `2^62` bytes bounds.
const MAX_EXPONENT_DIGITS: usize = 18;

fn digits_end(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b'0'..=b'9')) {
        i += 1;
    }
    i
}

/// Scans the number starting at `start`; returns the offset after it.
#[inline]
pub(crate) fn scan(text: &[u8], start: usize) -> Result<usize, (usize, ErrorKind)> {
    let mut i = start;
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    match text.get(i) {
        Some(b'0') => {
            i += 1;
            if matches!(text.get(i), Some(b'0'..=b'9')) {
                return Err((start, ErrorKind::LeadingZero));
            }
        }
        Some(b'1'..=b'9') => i = digits_end(text, i + 1),
        Some(_) => return Err((i, ErrorKind::BadNumber { expected: "a digit" })),
        None => return Err((i, ErrorKind::UnexpectedEnd { expected: "a digit" })),
    }
    if text.get(i) == Some(&b'.') {
        let j = digits_end(text, i + 1);
        if j == i + 1 {
            return Err((j, ErrorKind::BadNumber { expected: "a digit after '.'" }));
        }
        i = j;
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let j = digits_end(text, i);
        if j == i {
            return Err((j, ErrorKind::BadNumber { expected: "a digit in the exponent" }));
        }
        let significant = text[i..j].iter().skip_while(|&&d| d == b'0').count();
        if significant > MAX_EXPONENT_DIGITS {
            return Err((i, ErrorKind::ExponentTooLarge));
        }
        i = j;
    }
    Ok(i)
}

/// The parts of a number text that [`scan`] accepted.
struct Parts<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

fn parts(raw: &[u8]) -> Parts<'_> {
    let (negative, rest) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    let int_end = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    let (int, rest) = rest.split_at(int_end);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', r)) => {
            let end = r.iter().position(|b| !b.is_ascii_digit()).unwrap_or(r.len());
            r.split_at(end)
        }
        _ => (&rest[..0], rest),
    };
    let exp = match rest.split_first() {
        Some((_, r)) => {
            let (neg, digits) = match r.split_first() {
                Some((b'-', d)) => (true, d),
                Some((b'+', d)) => (false, d),
                _ => (false, r),
            };
            // At most 18 significant digits (checked by `scan`): no overflow.
            let v = digits.iter().fold(0i64, |acc, &d| acc.saturating_mul(10).saturating_add(i64::from(d - b'0')));
            if neg { -v } else { v }
        }
        None => 0,
    };
    Parts { negative, int, frac, exp }
}

/// Appends the canonical form of a number text that [`scan`] accepted.
pub(crate) fn canonical(raw: &[u8], out: &mut Vec<u8>) {
    let p = parts(raw);
    let digits = || p.int.iter().chain(p.frac.iter()).copied();
    let Some(first) = digits().position(|d| d != b'0') else {
        out.push(b'0');
        return;
    };
    let digit = |k: usize| if k < p.int.len() { p.int[k] } else { p.frac[k - p.int.len()] };
    let last = (first..p.int.len() + p.frac.len()).rev().find(|&k| digit(k) != b'0').unwrap_or(first);
    if p.negative {
        out.push(b'-');
    }
    let mut significant = digits().skip(first).take(last - first + 1);
    out.extend(significant.next());
    let mut rest = significant.peekable();
    if rest.peek().is_some() {
        out.push(b'.');
        out.extend(rest);
    }
    let exponent = p.int.len() as i64 - 1 - first as i64 + p.exp;
    out.push(b'e');
    if exponent < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(decimal(exponent.unsigned_abs(), &mut [0; 20]));
}

/// `n` in decimal, written into the end of `buf` (no allocation, unlike `to_string`).
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut k = buf.len();
    loop {
        k -= 1;
        buf[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[k..];
        }
    }
}

/// Whether a valid JSON number text is written as a plain integer (no fraction, no exponent, not
/// `-0`): the only number form this project accepts where a number names something, such as an id.
pub fn is_plain_integer(raw: &[u8]) -> bool {
    let p = parts(raw);
    p.frac.is_empty() && raw.iter().all(|&b| b == b'-' || b.is_ascii_digit()) && !(p.negative && p.int == b"0")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        assert_eq!(scan(s.as_bytes(), 0), Ok(s.len()), "{s}");
        let mut out = Vec::new();
        canonical(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn equal_values_equal_text() {
        for same in [
            &["1", "1.0", "1e0", "10e-1", "0.1e1", "1.000E+0", "100e-2"][..],
            &["0", "-0", "0.0", "0e5", "-0.000e-3"],
            &["-123.45", "-12345e-2", "-0.12345e3"],
            &["1e100", "10e99", "0.01e102"],
        ] {
            let c = canon(same[0]);
            for s in same {
                assert_eq!(canon(s), c, "{s} vs {}", same[0]);
            }
        }
        assert_eq!(canon("1"), "1e0");
        assert_eq!(canon("1500"), "1.5e3");
        assert_eq!(canon("-0.00025"), "-2.5e-4");
        assert_ne!(canon("12345678901234567890123"), canon("12345678901234567890124"));
        assert_eq!(canon("12345678901234567890123"), "1.2345678901234567890123e22");
        assert_eq!(canon("1e999999999999999999"), "1e999999999999999999");
        assert_eq!(canon("0.1e-999999999999999999"), "1e-1000000000000000000");
    }

    #[test]
    fn grammar() {
        for bad in ["-", "01", "-01", "1.", ".1", "1e", "1e+", "+1", "-a"] {
            assert!(scan(bad.as_bytes(), 0).is_err() || scan(bad.as_bytes(), 0) != Ok(bad.len()), "{bad}");
        }
        assert_eq!(scan(b"01", 0), Err((0, ErrorKind::LeadingZero)));
        assert_eq!(scan(b"1e0000000000000000000000001", 0), Ok(27));
        assert_eq!(scan(b"1e1234567890123456789", 0), Err((2, ErrorKind::ExponentTooLarge)));
        assert!(is_plain_integer(b"12345678901234567890123"));
        assert!(is_plain_integer(b"-7"));
        assert!(is_plain_integer(b"0"));
        for not in ["1.0", "1e2", "-0", "1E0"] {
            assert!(!is_plain_integer(not.as_bytes()), "{not}");
        }
    }
}

//! The canonical, type-tagged encoding of a scalar: one tag byte, then the value. Equal JSON values give equal
//! bytes and different values (or types) different bytes, so an index can compare and hash them as bytes:
//!
//! | value  | encoding                                   | example                        |
//! |--------|--------------------------------------------|--------------------------------|
//! | null   | `n`                                        | `n`                            |
//! | false  | `f`                                        | `f`                            |
//! | true   | `t`                                        | `t`                            |
//! | number | `#` and the exact decimal of `number.rs`   | `1.0` → `#1e0`, `-0` → `#0`    |
//! | string | `s` and the unescaped UTF-8                | `"\u0041"` → `sA`              |
//!
//! The string `"1"` (`s1`) and the number `1` (`#1e0`) differ.

use crate::{number, string};

/// Tag of `null`.
pub const TAG_NULL: u8 = b'n';
/// Tag of `false`.
pub const TAG_FALSE: u8 = b'f';
/// Tag of `true`.
pub const TAG_TRUE: u8 = b't';
/// Tag of a number.
pub const TAG_NUMBER: u8 = b'#';
/// Tag of a string.
pub const TAG_STRING: u8 = b's';

/// The type of a scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
}

/// The type of a canonical encoding (`None` if it is not one).
pub fn kind_of(canonical: &[u8]) -> Option<Kind> {
    match canonical.first()? {
        &TAG_NULL => Some(Kind::Null),
        &TAG_FALSE | &TAG_TRUE => Some(Kind::Bool),
        &TAG_NUMBER => Some(Kind::Number),
        &TAG_STRING => Some(Kind::String),
        _ => None,
    }
}

/// How a scanned scalar's text is to be read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw {
    Null,
    False,
    True,
    Number,
    /// A string with its quotes; whether it has escapes.
    String(bool),
}

/// Appends the canonical encoding of the scalar text `raw` (already checked by the scanner).
pub(crate) fn encode(kind: Raw, raw: &[u8], out: &mut Vec<u8>) {
    match kind {
        Raw::Null => out.push(TAG_NULL),
        Raw::False => out.push(TAG_FALSE),
        Raw::True => out.push(TAG_TRUE),
        Raw::Number => {
            out.push(TAG_NUMBER);
            number::canonical(raw, out);
        }
        Raw::String(escaped) => {
            out.push(TAG_STRING);
            let body = &raw[1..raw.len() - 1];
            if escaped {
                string::unescape(body, out);
            } else {
                out.extend_from_slice(body);
            }
        }
    }
}

/// A scalar found in a text: as written, and canonical.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar<'a> {
    /// Its JSON text as written (a string with its quotes and escapes).
    pub raw: &'a [u8],
    /// Its canonical encoding.
    pub canonical: Vec<u8>,
}

impl Scalar<'_> {
    /// Its type.
    pub fn kind(&self) -> Kind {
        kind_of(&self.canonical).unwrap_or(Kind::Null)
    }

    /// The unescaped value of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self.canonical.split_first() {
            Some((&TAG_STRING, s)) => std::str::from_utf8(s).ok(),
            _ => None,
        }
    }

    /// The text of a number written as a plain integer (digits, maybe a leading `-`; not `-0`), exactly as
    /// written, whatever its length.
    pub fn as_plain_integer(&self) -> Option<&str> {
        let plain = self.kind() == Kind::Number && number::is_plain_integer(self.raw);
        plain.then(|| std::str::from_utf8(self.raw).ok()).flatten()
    }
}

//! Errors: each names what is wrong and where (byte offset, and line and column, computed only when an error is
//! built, so the valid path pays nothing for them).

use std::fmt;

/// What is wrong with a JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is longer than the size limit (checked before anything is read).
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not UTF-8 (RFC 8259 §8.1).
    InvalidUtf8,
    /// The text ended where more was expected.
    UnexpectedEnd {
        /// What was expected.
        expected: &'static str,
    },
    /// A character that cannot stand here.
    Unexpected {
        /// The character found.
        found: char,
        /// What was expected.
        expected: &'static str,
    },
    /// A control character (U+0000 to U+001F) inside a string, where it must be escaped.
    ControlCharacter {
        /// The byte.
        byte: u8,
    },
    /// A backslash followed by something that is not an escape.
    BadEscape {
        /// The character after the backslash.
        found: char,
    },
    /// `\u` not followed by four hex digits.
    BadHexEscape,
    /// A UTF-16 surrogate escape without its other half: it names no character.
    LoneSurrogate {
        /// The surrogate.
        code: u16,
    },
    /// A number with a superfluous leading zero (`01`).
    LeadingZero,
    /// A malformed number.
    BadNumber {
        /// What was expected.
        expected: &'static str,
    },
    /// An exponent of more than 18 significant digits: beyond the range this implementation keeps exactly
    /// (RFC 8259 §9 lets an implementation limit the range of numbers).
    ExponentTooLarge,
    /// The same key twice in one object (compared after unescaping).
    DuplicateKey {
        /// The key.
        key: String,
        /// Byte offset of its first occurrence.
        first: usize,
    },
    /// Objects and arrays nested deeper than the limit.
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Something other than whitespace after the value.
    TrailingData,
    /// A document must be an object; this is another JSON value.
    NotAnObject,
    /// A query value must be a scalar; this is an object or array.
    NotAScalar,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::TooLarge { len, max } => write!(f, "document is {len} bytes, more than the limit of {max}"),
            ErrorKind::InvalidUtf8 => f.write_str("invalid UTF-8"),
            ErrorKind::UnexpectedEnd { expected } => write!(f, "unexpected end of input, expected {expected}"),
            ErrorKind::Unexpected { found, expected } => write!(f, "unexpected {found:?}, expected {expected}"),
            ErrorKind::ControlCharacter { byte } => {
                write!(f, "unescaped control character U+{byte:04X} in a string (write it as \\u{byte:04x})")
            }
            ErrorKind::BadEscape { found } => write!(f, "invalid escape \\{found} in a string"),
            ErrorKind::BadHexEscape => f.write_str("\\u must be followed by four hex digits"),
            ErrorKind::LoneSurrogate { code } => write!(
                f,
                "lone surrogate \\u{code:04x}: a UTF-16 surrogate escape must be a high one (\\ud800-\\udbff) \
                 followed at once by a low one (\\udc00-\\udfff)"
            ),
            ErrorKind::LeadingZero => f.write_str("number with a leading zero"),
            ErrorKind::BadNumber { expected } => write!(f, "invalid number: expected {expected}"),
            ErrorKind::ExponentTooLarge => f.write_str("number exponent out of range (more than 18 digits)"),
            ErrorKind::DuplicateKey { key, first } => write!(f, "duplicate key {key:?} (first at byte {first})"),
            ErrorKind::TooDeep { max } => write!(f, "objects and arrays nested deeper than {max} levels"),
            ErrorKind::TrailingData => f.write_str("data after the end of the JSON value"),
            ErrorKind::NotAnObject => f.write_str("a document must be a JSON object"),
            ErrorKind::NotAScalar => {
                f.write_str("expected a JSON scalar (string, number, true, false or null), not an object or array")
            }
        }
    }
}

/// Why a JSON text was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Byte offset of the fault from the start of the text.
    pub offset: usize,
    /// Line of the fault, from 1.
    pub line: usize,
    /// Column of the fault in bytes, from 1.
    pub column: usize,
}

impl JsonError {
    /// An error at `offset` of `text`.
    pub(crate) fn at(text: &[u8], offset: usize, kind: ErrorKind) -> JsonError {
        let before = &text[..offset.min(text.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let column = 1 + before.len() - before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        JsonError { kind, offset, line, column }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {}, column {} (byte {})", self.kind, self.line, self.column, self.offset)
    }
}

impl std::error::Error for JsonError {}

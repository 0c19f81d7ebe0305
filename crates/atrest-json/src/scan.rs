//! The one pass: a non-recursive scanner over the whole text that checks RFC 8259 grammar, nesting depth and
//! duplicate keys, and hands every wanted scalar leaf (pointer, text, canonical encoding) to a callback.
//! Nothing is allocated per value: paths, keys and canonical encodings live in buffers reused through the
//! document, and a leaf's pointer and encoding are only built when the filter wants them.

use crate::canonical::{self, Raw};
use crate::error::{ErrorKind, JsonError};
use crate::keys::{self, KeyRef};
use crate::{Filter, Leaf, Limits, number, pointer, string};
use std::ops::ControlFlow;

/// What the top-level value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Top {
    /// A document: an object.
    Object,
    /// A query value: a scalar.
    Scalar,
}

/// One open object or array.
struct Frame {
    object: bool,
    /// Length of the path of the container itself.
    path_len: usize,
    /// Where its keys start in `Scanner::keys`, and the unescaped keys in `Scanner::scratch`.
    keys_start: usize,
    scratch_len: usize,
    /// Index of the current element of an array.
    index: usize,
}

struct Scanner<'t, 'f, F> {
    text: &'t [u8],
    pos: usize,
    max_depth: usize,
    filter: Filter<'f>,
    /// Whether paths are built at all (not for `Filter::None`, nor for a document that is not an object).
    paths: bool,
    path: String,
    frames: Vec<Frame>,
    keys: Vec<KeyRef>,
    scratch: Vec<u8>,
    canonical: Vec<u8>,
    each: F,
    /// The callback asked to stop.
    stop: bool,
}

type Fault = (usize, ErrorKind);

/// Scans `text` (checking its size and UTF-8 first) and calls `each` for the wanted leaves. Stops early, with
/// `Ok`, when `each` breaks: the text after that point is then not checked.
pub(crate) fn run<F>(text: &[u8], limits: &Limits, filter: Filter<'_>, top: Top, each: F) -> Result<(), JsonError>
where
    F: FnMut(Leaf<'_>) -> ControlFlow<()>,
{
    if text.len() > limits.max_len {
        return Err(JsonError::at(text, 0, ErrorKind::TooLarge { len: text.len(), max: limits.max_len }));
    }
    if simdutf8::basic::from_utf8(text).is_err() {
        let at = simdutf8::compat::from_utf8(text).err().map_or(0, |e| e.valid_up_to());
        return Err(JsonError::at(text, at, ErrorKind::InvalidUtf8));
    }
    let mut s = Scanner {
        text,
        pos: 0,
        max_depth: limits.max_depth,
        paths: !matches!(filter, Filter::None),
        filter,
        path: String::new(),
        // Room for typical documents at once, rather than regrowing from nothing in every scan.
        frames: Vec::with_capacity(16),
        keys: Vec::with_capacity(64),
        scratch: Vec::new(),
        canonical: Vec::new(),
        each,
        stop: false,
    };
    s.skip_ws();
    let first = s.pos;
    let wrong_top = match (top, text.get(first)) {
        (Top::Object, Some(&c)) => c != b'{',
        (Top::Scalar, Some(&c)) => matches!(c, b'{' | b'['),
        (_, None) => false,
    };
    if wrong_top {
        // The whole text is still checked, so that invalid JSON is reported as such first.
        s.paths = false;
    }
    match s.value() {
        Err((at, kind)) => Err(JsonError::at(text, at, kind)),
        Ok(ControlFlow::Break(())) => Ok(()),
        Ok(ControlFlow::Continue(())) => {
            s.skip_ws();
            if s.pos != text.len() {
                Err(JsonError::at(text, s.pos, ErrorKind::TrailingData))
            } else if wrong_top {
                let kind = if top == Top::Object { ErrorKind::NotAnObject } else { ErrorKind::NotAScalar };
                Err(JsonError::at(text, first, kind))
            } else {
                Ok(())
            }
        }
    }
}

impl<F: FnMut(Leaf<'_>) -> ControlFlow<()>> Scanner<'_, '_, F> {
    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &'static str) -> Fault {
        match self.text.get(self.pos) {
            Some(_) => (self.pos, ErrorKind::Unexpected { found: string::char_at(self.text, self.pos), expected }),
            None => (self.pos, ErrorKind::UnexpectedEnd { expected }),
        }
    }

    /// One whole value from `pos`, iteratively: containers push a frame instead of recursing.
    fn value(&mut self) -> Result<ControlFlow<()>, Fault> {
        'value: loop {
            match self.text.get(self.pos) {
                Some(b'{') => {
                    self.open(true)?;
                    self.skip_ws();
                    match self.text.get(self.pos) {
                        Some(b'}') => self.close()?,
                        Some(b'"') => {
                            self.key()?;
                            continue 'value;
                        }
                        _ => return Err(self.unexpected("a string key or '}'")),
                    }
                }
                Some(b'[') => {
                    self.open(false)?;
                    self.skip_ws();
                    if self.text.get(self.pos) == Some(&b']') {
                        self.close()?;
                    } else {
                        self.element_path(0);
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let start = self.pos;
                    let (end, escaped) = string::scan(self.text, start)?;
                    self.pos = end;
                    self.leaf(start, Raw::String(escaped))?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    let start = self.pos;
                    self.pos = number::scan(self.text, start)?;
                    self.leaf(start, Raw::Number)?;
                }
                Some(b't') => self.literal(b"true", Raw::True)?,
                Some(b'f') => self.literal(b"false", Raw::False)?,
                Some(b'n') => self.literal(b"null", Raw::Null)?,
                _ => return Err(self.unexpected("a JSON value")),
            }
            if self.stop {
                return Ok(ControlFlow::Break(()));
            }
            // After a value: a separator, or the end of one or more containers.
            loop {
                let Some(object) = self.frames.last().map(|f| f.object) else {
                    return Ok(ControlFlow::Continue(()));
                };
                self.skip_ws();
                match self.text.get(self.pos) {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_ws();
                        if object {
                            if self.text.get(self.pos) != Some(&b'"') {
                                return Err(self.unexpected("a string key"));
                            }
                            self.key()?;
                        } else {
                            let i = self.frames.last_mut().map_or(0, |f| {
                                f.index += 1;
                                f.index
                            });
                            self.element_path(i);
                        }
                        continue 'value;
                    }
                    Some(b'}') if object => self.close()?,
                    Some(b']') if !object => self.close()?,
                    _ => return Err(self.unexpected(if object { "',' or '}'" } else { "',' or ']'" })),
                }
            }
        }
    }

    /// Opens an object or array at `pos`.
    fn open(&mut self, object: bool) -> Result<(), Fault> {
        if self.frames.len() >= self.max_depth {
            return Err((self.pos, ErrorKind::TooDeep { max: self.max_depth }));
        }
        self.frames.push(Frame {
            object,
            path_len: self.path.len(),
            keys_start: self.keys.len(),
            scratch_len: self.scratch.len(),
            index: 0,
        });
        self.pos += 1;
        Ok(())
    }

    /// Closes the innermost container at `pos` (its `}` or `]`); an object's keys are checked for duplicates.
    fn close(&mut self) -> Result<(), Fault> {
        self.pos += 1;
        let Some(f) = self.frames.pop() else { return Ok(()) };
        if f.object {
            keys::check_unique(&mut self.keys[f.keys_start..], self.text, &self.scratch)?;
            self.keys.truncate(f.keys_start);
            self.scratch.truncate(f.scratch_len);
        }
        self.path.truncate(f.path_len);
        Ok(())
    }

    /// A key at `pos` (its opening quote), the `:` after it, and the whitespace before the value.
    fn key(&mut self) -> Result<(), Fault> {
        let start = self.pos;
        let (end, escaped) = string::scan(self.text, start)?;
        self.pos = end;
        let key = if escaped {
            let from = self.scratch.len();
            string::unescape(&self.text[start + 1..end - 1], &mut self.scratch);
            KeyRef::unescaped(&self.scratch, from, start)
        } else {
            KeyRef::raw(self.text, start + 1, end - 1)
        };
        self.keys.push(key);
        if self.paths
            && let Some(f) = self.frames.last()
        {
            self.path.truncate(f.path_len);
            self.path.push('/');
            let bytes = key.bytes(self.text, &self.scratch);
            // Keys are UTF-8: the text was checked, and unescaping writes whole characters.
            let key = std::str::from_utf8(bytes).map_err(|_| (start, ErrorKind::InvalidUtf8))?;
            pointer::escape_token_into(key, &mut self.path);
        }
        self.skip_ws();
        if self.text.get(self.pos) != Some(&b':') {
            return Err(self.unexpected("':' after the key"));
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    /// Sets the path to element `i` of the innermost array.
    fn element_path(&mut self, i: usize) {
        if self.paths
            && let Some(f) = self.frames.last()
        {
            self.path.truncate(f.path_len);
            self.path.push('/');
            pointer::push_index(i, &mut self.path);
        }
    }

    fn literal(&mut self, word: &'static [u8], kind: Raw) -> Result<(), Fault> {
        let start = self.pos;
        for (k, &w) in word.iter().enumerate() {
            if self.text.get(start + k) != Some(&w) {
                self.pos = start + k;
                let expected = match kind {
                    Raw::True => "'true'",
                    Raw::False => "'false'",
                    _ => "'null'",
                };
                return Err(self.unexpected(expected));
            }
        }
        self.pos = start + word.len();
        self.leaf(start, kind)
    }

    /// A scalar from `start` to `pos`: handed to the callback if the filter wants its path.
    #[inline]
    fn leaf(&mut self, start: usize, kind: Raw) -> Result<(), Fault> {
        if !self.paths || self.stop || !self.filter.wants(&self.path) {
            return Ok(());
        }
        let raw = &self.text[start..self.pos];
        self.canonical.clear();
        canonical::encode(kind, raw, &mut self.canonical);
        let leaf = Leaf { pointer: &self.path, raw, canonical: &self.canonical };
        if (self.each)(leaf).is_break() {
            self.stop = true;
        }
        Ok(())
    }
}

//! Duplicate keys. Every key of an open object is recorded (a tag made of its length and first bytes, and where
//! its unescaped bytes are: in the text when it has no escapes, else in a scratch buffer); when the object
//! closes its keys are compared. Small objects compare pairwise, tags first; larger ones are sorted by their
//! bytes, which keeps a crafted object of many keys at O(n log n) comparisons.

use crate::error::ErrorKind;

/// Objects with up to this many keys are checked pairwise.
const PAIRWISE_MAX: usize = 16;

/// A key of an open object.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef {
    /// Length and first bytes: unequal tags mean unequal keys.
    tag: u64,
    /// Range of its unescaped bytes in the text (`in_scratch` false) or the scratch buffer.
    from: usize,
    to: usize,
    in_scratch: bool,
    /// Offset of its opening quote in the text.
    at: usize,
}

impl KeyRef {
    /// A key without escapes: `text[from..to]`.
    pub(crate) fn raw(text: &[u8], from: usize, to: usize) -> KeyRef {
        KeyRef { tag: tag(&text[from..to]), from, to, in_scratch: false, at: from - 1 }
    }

    /// A key unescaped into `scratch[from..]`, its quote at `at`.
    pub(crate) fn unescaped(scratch: &[u8], from: usize, at: usize) -> KeyRef {
        KeyRef { tag: tag(&scratch[from..]), from, to: scratch.len(), in_scratch: true, at }
    }

    pub(crate) fn bytes<'a>(&self, text: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        if self.in_scratch { &scratch[self.from..self.to] } else { &text[self.from..self.to] }
    }
}

/// The first 6 bytes (zero-padded) and the length, in one word.
#[inline]
fn tag(b: &[u8]) -> u64 {
    // Byte by byte rather than a copy into an array: a copy of a variable length becomes a `memmove` call.
    let head = b.iter().take(6).enumerate().fold(0u64, |h, (i, &c)| h | u64::from(c) << (8 * i));
    head | (b.len() as u64) << 48
}

/// Checks that the keys of one object are distinct; the fault is at the later of the earliest duplicate pair.
pub(crate) fn check_unique(keys: &mut [KeyRef], text: &[u8], scratch: &[u8]) -> Result<(), (usize, ErrorKind)> {
    let same = |a: &KeyRef, b: &KeyRef| a.tag == b.tag && a.bytes(text, scratch) == b.bytes(text, scratch);
    let mut dup: Option<(KeyRef, KeyRef)> = None;
    let mut note = |a: KeyRef, b: KeyRef| {
        let (first, later) = if a.at < b.at { (a, b) } else { (b, a) };
        if dup.is_none_or(|(_, l)| later.at < l.at) {
            dup = Some((first, later));
        }
    };
    if keys.len() <= PAIRWISE_MAX {
        for i in 1..keys.len() {
            for j in 0..i {
                if same(&keys[i], &keys[j]) {
                    note(keys[j], keys[i]);
                }
            }
        }
    } else {
        keys.sort_unstable_by(|a, b| a.bytes(text, scratch).cmp(b.bytes(text, scratch)));
        for w in keys.windows(2) {
            if same(&w[0], &w[1]) {
                note(w[0], w[1]);
            }
        }
    }
    match dup {
        None => Ok(()),
        Some((first, later)) => {
            let key = String::from_utf8_lossy(later.bytes(text, scratch)).into_owned();
            Err((later.at, ErrorKind::DuplicateKey { key, first: first.at }))
        }
    }
}

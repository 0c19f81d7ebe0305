//! JSON Pointers (RFC 6901): how leaves are named, and which ones a scan hands out.

/// Which leaves a scan hands out.
#[derive(Debug, Clone, Copy, Default)]
pub enum Filter<'a> {
    /// Every scalar leaf.
    #[default]
    All,
    /// Only the leaves at these pointers (a pointer that names an object or array yields nothing).
    Pointers(&'a [String]),
    /// None: the scan only validates, and builds no paths.
    None,
}

impl Filter<'_> {
    #[inline]
    pub(crate) fn wants(&self, pointer: &str) -> bool {
        match self {
            Filter::All => true,
            Filter::Pointers(list) => list.iter().any(|p| p == pointer),
            Filter::None => false,
        }
    }
}

/// Appends one reference token: `~` becomes `~0` and `/` becomes `~1` (RFC 6901 §3).
pub fn escape_token_into(token: &str, out: &mut String) {
    if !token.contains(['~', '/']) {
        out.push_str(token);
        return;
    }
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Appends an array index in decimal.
pub(crate) fn push_index(i: usize, out: &mut String) {
    out.extend(crate::number::decimal(i as u64, &mut [0; 20]).iter().map(|&d| char::from(d)));
}

/// The pointer to a top-level field.
pub fn field_pointer(field: &str) -> String {
    let mut p = String::with_capacity(field.len() + 1);
    p.push('/');
    escape_token_into(field, &mut p);
    p
}

/// Whether `pointer` is a JSON Pointer: empty, or `/`-prefixed with every `~` followed by `0` or `1`.
pub fn is_pointer(pointer: &str) -> bool {
    let b = pointer.as_bytes();
    (b.is_empty() || b[0] == b'/')
        && b.iter().enumerate().all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
}

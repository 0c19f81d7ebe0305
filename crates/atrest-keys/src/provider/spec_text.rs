//! The text of provider strings (`kmip://…?a=b&c=d`, `pkcs11:MODULE?…`): query parameters, percent-encoding
//! and flags, shared by every provider's parser so they refuse the same mistakes the same way.

/// The `name=value` pairs of a query, values percent-decoded; refuses a pair without `=`, bad
/// percent-encoding and a parameter given twice (saying which).
pub(crate) fn query_pairs(query: &str) -> Result<Vec<(&str, String)>, String> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("parameter {pair:?} has no value"))?;
        let value = percent_decode(value).ok_or_else(|| format!("parameter {name}: bad percent-encoding"))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("parameter {name} given twice"));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// A `true`/`false` parameter.
pub(crate) fn flag(name: &str, value: &str) -> Result<bool, String> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        v => Err(format!("{name}={v}: expected true or false")),
    }
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (c as char).to_string(),
            _ => format!("%{c:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_refusals() {
        assert_eq!(
            query_pairs("a=1&b=x%20y&&c=").unwrap(),
            vec![("a", "1".into()), ("b", "x y".into()), ("c", "".into())]
        );
        assert!(query_pairs("a").unwrap_err().contains("no value"));
        assert!(query_pairs("a=1&a=2").unwrap_err().contains("twice"));
        assert!(query_pairs("a=%zz").unwrap_err().contains("percent"));
        assert!(query_pairs("a=%e2%28").unwrap_err().contains("percent"), "not UTF-8");
        assert_eq!(percent_decode(&percent_encode("/a b/ü?&=%")).unwrap(), "/a b/ü?&=%");
        assert!(flag("x", "yes").unwrap_err().contains("x=yes"));
    }
}

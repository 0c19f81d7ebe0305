//! How `atrest find` prints a hit: `tsv` for people (the id, a tab, the document on one line) or `jsonl` for
//! scripts (`{"id":…,"doc":…}` per line, parseable whatever the id holds).
//!
//! Ids cannot hold control characters (the store refuses them), but a store written before that rule may have
//! some: `tsv` prints such an id's control characters as JSON escapes (`\t`, `\u001b`), so neither the columns
//! nor the terminal can be confused by it.

use std::fmt::Write as _;

/// The output format of `atrest find`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FindFormat {
    /// The id, a tab, the document on one line.
    Tsv,
    /// One JSON object per line: {"id": the id, "doc": the document}.
    Jsonl,
}

/// One hit as a line of output, with its `\n`. `doc` is a stored document on one line.
pub fn line(format: FindFormat, id: &str, doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(id.len() + doc.len() + 16);
    match format {
        FindFormat::Tsv => {
            if id.chars().any(char::is_control) {
                let quoted = serde_json::to_string(id).unwrap_or_default();
                out.extend_from_slice(quoted.trim_matches('"').as_bytes());
            } else {
                out.extend_from_slice(id.as_bytes());
            }
            out.push(b'\t');
        }
        FindFormat::Jsonl => {
            let mut head = String::from("{\"id\":");
            let _ = write!(head, "{},\"doc\":", serde_json::to_string(id).unwrap_or_default());
            out.extend_from_slice(head.as_bytes());
        }
    }
    out.extend_from_slice(doc);
    if format == FindFormat::Jsonl {
        out.push(b'}');
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_control_characters_cannot_break_a_line() {
        let tsv = line(FindFormat::Tsv, "a\tb\u{1b}[31m", br#"{"x":1}"#);
        assert_eq!(tsv, b"a\\tb\\u001b[31m\t{\"x\":1}\n");
        let jsonl = line(FindFormat::Jsonl, "a\"\n", br#"{"x":1}"#);
        let v: serde_json::Value = serde_json::from_slice(&jsonl).unwrap();
        assert_eq!((v["id"].as_str(), v["doc"]["x"].as_i64()), (Some("a\"\n"), Some(1)));
        assert_eq!(line(FindFormat::Tsv, "ada", b"{}"), b"ada\t{}\n");
    }
}

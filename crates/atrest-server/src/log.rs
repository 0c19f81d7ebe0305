//! The server's log: one line per event on stderr, with the time. What is logged is chosen so that no
//! token secret, key or document content ever appears: token ids and client addresses only.

use std::io::Write;

/// Writes `args` as one log line.
pub(crate) fn line(args: std::fmt::Arguments<'_>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let text = format!("{}.{:03} atrest serve: {args}\n", now.as_secs(), now.subsec_millis());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

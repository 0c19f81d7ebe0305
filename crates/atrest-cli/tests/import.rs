//! `atrest import`, `put` and `find` on bad and awkward input: what a failed import committed and how it
//! continues, canonical ids, repeated keys, control characters in ids, CRLF files, size limits while reading.

mod common;

use common::{atrest, fails, init_store, ok};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

struct Cli {
    home: tempfile::TempDir,
    data: String,
    key: String,
}

impl Cli {
    fn new() -> Cli {
        let home = tempfile::tempdir().unwrap();
        let (data, key) = init_store(home.path(), "4");
        Cli { home, data, key }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.run_in(args, None)
    }

    fn run_in(&self, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
        let mut v = vec!["--data", &self.data, "--key-file", &self.key];
        v.extend_from_slice(args);
        atrest(self.home.path(), &v, stdin)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.home.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    }

    fn get(&self, id: &str) -> Option<String> {
        let o = self.run(&["get", "c", id]);
        o.status.success().then(|| String::from_utf8(o.stdout).unwrap())
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_failed_import_says_what_it_committed_and_resumes() {
    let cli = Cli::new();
    let mut lines: Vec<String> = (1..=25).map(|i| format!("{{\"id\":\"d{i}\",\"n\":{i}}}")).collect();
    lines[14] = "{\"id\":\"d15\",\"n\":".into();
    let f = cli.file("a.jsonl", &(lines.join("\n") + "\n"));
    let o = cli.run(&["import", "c", &f, "--batch", "10"]);
    fails(&o, "line 15: invalid JSON");
    fails(&o, "committed lines 1-14; nothing after");
    fails(&o, "--resume-from 15");
    assert!(cli.get("d14").is_some(), "the lines before the bad one are committed");
    assert!(cli.get("d16").is_none());
    lines[14] = "{\"id\":\"d15\",\"n\":15}".into();
    let f = cli.file("a.jsonl", &(lines.join("\n") + "\n"));
    let o = cli.run(&["import", "c", &f, "--batch", "10", "--resume-from", "15"]);
    ok(o.clone());
    assert!(stderr(&o).contains("imported 11 documents into \"c\": 11 new, 0 replaced"), "{}", stderr(&o));
    assert_eq!(ok(cli.run(&["find", "c", "/n", "25"])).lines().count(), 1);
    assert_eq!(cli.get("d1").unwrap(), "{\"id\":\"d1\",\"n\":1}\n", "resume skipped the committed lines");
}

#[test]
fn a_document_the_store_refuses_names_its_line_and_the_batch_not_written() {
    let cli = Cli::new();
    let f = cli.file("b.jsonl", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n\n{\"id\":\"\"}\n{\"id\":\"d\"}\n");
    let o = cli.run(&["import", "c", &f, "--batch", "2"]);
    fails(&o, "line 4: document id is empty (nothing of lines 4-5 was written)");
    fails(&o, "committed lines 1-2; nothing after");
    fails(&o, "--resume-from 4");
    assert!(cli.get("b").is_some() && cli.get("d").is_none());
}

/// Reading overlaps committing: batches read after the one the store refuses are never written, and what
/// was committed before it is reported exactly.
#[test]
fn batches_read_after_a_refused_one_are_not_written() {
    let cli = Cli::new();
    let mut lines: Vec<String> = (1..=40).map(|i| format!("{{\"id\":\"d{i}\"}}")).collect();
    lines[24] = "{\"id\":\"\"}".into();
    let f = cli.file("many.jsonl", &(lines.join("\n") + "\n"));
    let o = cli.run(&["import", "c", &f, "--batch", "5"]);
    fails(&o, "line 25: document id is empty (nothing of lines 21-25 was written)");
    fails(&o, "committed lines 1-20; nothing after");
    for i in 1..=40 {
        assert_eq!(cli.get(&format!("d{i}")).is_some(), i <= 20, "d{i}");
    }
}

#[test]
fn ids_have_one_canonical_form() {
    let cli = Cli::new();
    let f = cli.file(
        "ids.jsonl",
        "{\"id\":1,\"v\":\"number\"}\n{\"id\":\"1\",\"v\":\"string\"}\n\
         {\"id\":12345678901234567890123}\n{\"id\":12345678901234567890124}\n{\"id\":-7}\n",
    );
    let o = cli.run(&["import", "c", &f]);
    ok(o.clone());
    let err = stderr(&o);
    assert!(err.contains("line 2: id \"1\" repeats line 1"), "{err}");
    assert!(err.contains("imported 5 documents into \"c\": 4 new, 1 replaced"), "{err}");
    assert_eq!(cli.get("1").unwrap(), "{\"id\":\"1\",\"v\":\"string\"}\n", "the later line wins");
    assert!(cli.get("12345678901234567890123").is_some() && cli.get("12345678901234567890124").is_some());
    assert!(ok(cli.run(&["get", "c", "--", "-7"])).contains("-7"));
    for (bad, shown) in [("1e2", "1e2"), ("1.0", "1.0"), ("-0", "-0"), ("true", "true")] {
        let f = cli.file("bad.jsonl", &format!("{{\"id\":\"ok\"}}\n{{\"id\":{bad}}}\n"));
        let o = cli.run(&["import", "c", &f]);
        fails(&o, "line 2: ");
        fails(&o, shown);
        fails(&o, "committed lines 1-1");
    }
    // Re-importing the same ids replaces: the count says so.
    let o = cli.run(&["import", "c", &f]);
    assert!(stderr(&o).contains("0 new"), "{}", stderr(&o));
}

#[test]
fn repeated_keys_and_lone_surrogates_are_refused_by_line() {
    let cli = Cli::new();
    let f = cli.file("d.jsonl", "{\"id\":\"a\",\"x\":1,\"x\":2}\n");
    fails(&cli.run(&["import", "c", &f]), "line 1: invalid JSON: duplicate key \"x\"");
    fails(&cli.run_in(&["put", "c", "p"], Some(b"{\"a\":1,\"\\u0061\":2}")), "duplicate key \"a\"");
    let f = cli.file("s.jsonl", "{\"id\":\"a\",\"s\":\"\\ud800\"}\n");
    fails(&cli.run(&["import", "c", &f]), "lone surrogate \\ud800");
    assert!(cli.get("a").is_none() && cli.get("p").is_none());
}

#[test]
fn control_characters_in_ids_are_refused_and_find_has_jsonl() {
    let cli = Cli::new();
    fails(&cli.run_in(&["put", "c", "a\tb"], Some(b"{}")), "control character U+0009");
    let f = cli.file("t.jsonl", "{\"id\":\"x\\u001b[31m\",\"k\":1}\n");
    fails(&cli.run(&["import", "c", &f]), "control character U+001B");
    let f = cli.file("ok.jsonl", "{\"id\":\"a \\\"q\\\"\",\"k\":1}\n{\"id\":\"b\",\"k\":1,\"s\":\"t\\tx\"}\n");
    ok(cli.run(&["import", "c", &f]));
    let out = ok(cli.run(&["find", "c", "/k", "1", "--format", "jsonl"]));
    let hits: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["id"], "a \"q\"");
    assert_eq!(hits[1]["doc"]["s"], "t\tx");
    assert!(ok(cli.run(&["find", "c", "/k", "1"])).starts_with("a \"q\"\t{"));
}

#[test]
fn crlf_lines_keep_no_carriage_return() {
    let cli = Cli::new();
    let f = cli.file("w.jsonl", "{\"id\":\"a\",\"n\":1}\r\n{\"id\":\"b\",\"n\":2}\r\n");
    ok(cli.run(&["import", "c", &f]));
    assert_eq!(cli.get("a").unwrap(), "{\"id\":\"a\",\"n\":1}\n");
    assert_eq!(cli.get("b").unwrap(), "{\"id\":\"b\",\"n\":2}\n");
}

/// Streams up to `total` bytes of one endless line into `atrest ARGS` on stdin; returns how many bytes it took
/// before it stopped reading, and its output.
fn stream_one_line(cli: &Cli, args: &[&str], total: usize) -> (usize, std::process::Output) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atrest"));
    c.args(["--data", &cli.data, "--key-file", &cli.key]).args(args);
    c.env("XDG_CONFIG_HOME", cli.home.path().join("cfg")).env("HOME", cli.home.path());
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = input.write_all(b"{\"id\":\"big\",\"pad\":\"").map_or(0, |()| 18);
    while sent < total {
        match input.write_all(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(_) => break,
        }
    }
    drop(input);
    (sent, child.wait_with_output().unwrap())
}

#[test]
fn an_overlong_line_is_refused_while_reading() {
    let cli = Cli::new();
    let (sent, o) = stream_one_line(&cli, &["import", "c", "/dev/stdin"], 200 << 20);
    fails(&o, "line 1: document is more than 16777216 bytes");
    fails(&o, "nothing committed");
    assert!(sent < 64 << 20, "the import read {sent} bytes of one line before refusing it");
    // `put` too, from stdin and from a file.
    let (sent, o) = stream_one_line(&cli, &["put", "c", "big"], 200 << 20);
    fails(&o, "stdin: document is more than 16777216 bytes");
    assert!(sent < 64 << 20, "put read {sent} bytes before refusing the document");
    let mut big = b"{\"pad\":\"".to_vec();
    big.resize(17 << 20, b'x');
    let f = cli.home.path().join("big.json");
    std::fs::write(&f, &big).unwrap();
    fails(&cli.run(&["put", "c", "big", f.to_str().unwrap()]), "document is more than 16777216 bytes");
    assert!(Path::new(&cli.data).exists());
}

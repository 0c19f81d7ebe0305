//! Builds the VFS as a loadable extension for the `sqlite3` shell and copies it into a directory:
//! `cargo run --profile dist -p atrest-sqlite --example extension -- <dir>` writes `<dir>/libatrest_sqlite.so`.

fn main() {
    let target = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    let scratch = tempfile::tempdir().expect("a scratch directory");
    let build = atrest_sqlite::Build::new(scratch.path()).unwrap_or_else(|e| panic!("{e}"));
    let so = build.extension().unwrap_or_else(|e| panic!("{e}"));
    let out = target.join("libatrest_sqlite.so");
    std::fs::copy(&so, &out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("{}", out.display());
}

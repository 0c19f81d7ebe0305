//! `atrest bench` without the CLI: `cargo run --release -p atrest-bench --example bench -- [--data DIR]
//! [--size BYTES] [--threads N] [--json]`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut opts = atrest_bench::BenchOptions::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let parsed = match arg.as_str() {
            "--data" => value("--data").map(|v| opts.data = Some(v.into())),
            "--size" => value("--size").and_then(|v| atrest_bench::parse_size(&v)).map(|v| opts.size = v),
            "--threads" => value("--threads")
                .and_then(|v| v.parse().map_err(|_| format!("--threads: {v:?} is not a number")))
                .map(|v| opts.threads = v),
            "--json" => {
                json = true;
                Ok(())
            }
            other => Err(format!("unknown argument {other:?}")),
        };
        if let Err(e) = parsed {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    match atrest_bench::run_and_print(&opts, json) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Compiles `tests/c/roundtrip.c` against `include/atrest.h` and this crate's static library with the system C
//! compiler, then runs it once per supported backend: proof that the header and the exported symbols agree
//! and that C callers get the documented behaviour.

use std::path::PathBuf;
use std::process::Command;

/// The static library cargo built next to this test's dependencies.
fn staticlib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    for dir in [deps, deps.parent().unwrap()] {
        let candidate = dir.join("libatrest_ffi.a");
        if candidate.exists() {
            return candidate;
        }
    }
    panic!("libatrest_ffi.a not found next to {}", exe.display());
}

#[test]
fn c_program_round_trips_on_every_backend() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("atrest_c_roundtrip");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-std=c99")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join("tests/c/roundtrip.c"))
        .arg(staticlib())
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"));
    assert!(status.success(), "compiling the C test failed");

    let mut runs: Vec<Option<&str>> = vec![None];
    runs.extend(atrest_core::backend::supported().into_iter().map(|b| Some(b.name())));
    for backend in runs {
        let mut cmd = Command::new(&out);
        cmd.args(backend);
        let result = cmd.output().unwrap();
        assert!(
            result.status.success(),
            "backend {backend:?}: {}{}",
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

//! Compiles the C tests in `tests/c/` against `include/atrest.h` and this crate's static library with the
//! system C compiler (`-Wall -Werror`), then runs them once per supported backend: proof that the header and
//! the exported symbols agree and that C callers get the documented behaviour. One build goes through
//! `atrest.pc` with pkg-config, as an engine's build would.

use std::path::{Path, PathBuf};
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

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `tests/c/<name>.c` with the given compiler and linker flags.
fn compile(name: &str, flags: &[String]) -> PathBuf {
    compile_source(&root().join(format!("tests/c/{name}.c")), name, flags)
}

/// Compiles the C file `src` into `<target tmp>/atrest_c_<name>`.
fn compile_source(src: &Path, name: &str, flags: &[String]) -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("atrest_c_{name}"));
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L"])
        .arg(src)
        .args(flags)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cc:?}: {e}"));
    assert!(status.success(), "compiling {} failed", src.display());
    out
}

fn direct_flags() -> Vec<String> {
    let include = format!("-I{}", root().join("include").display());
    let lib = staticlib().display().to_string();
    [include, lib, "-lpthread".into(), "-ldl".into(), "-lm".into()].into()
}

fn run(exe: &Path, args: &[&str]) {
    let result = Command::new(exe).args(args).output().unwrap();
    assert!(
        result.status.success(),
        "{} {args:?}: {}{}",
        exe.display(),
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
}

fn backends() -> Vec<Option<&'static str>> {
    let mut runs: Vec<Option<&str>> = vec![None];
    runs.extend(atrest_core::backend::supported().into_iter().map(|b| Some(b.name())));
    runs
}

#[test]
fn c_program_round_trips_on_every_backend() {
    let exe = compile("roundtrip", &direct_flags());
    for backend in backends() {
        run(&exe, backend.as_slice());
    }
}

#[test]
fn c_pages_and_keyring_on_every_backend() {
    let exe = compile("pages", &direct_flags());
    for backend in backends() {
        let scratch = tempfile::tempdir().unwrap();
        let mut args = vec![scratch.path().to_str().unwrap()];
        args.extend(backend);
        run(&exe, &args);
    }
}

#[test]
fn pkg_config_file_links_a_c_program() {
    // An installed layout: <prefix>/include/atrest.h, <prefix>/lib/libatrest_ffi.a.
    let prefix = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(prefix.path().join("include")).unwrap();
    std::fs::create_dir_all(prefix.path().join("lib/pkgconfig")).unwrap();
    std::fs::copy(root().join("include/atrest.h"), prefix.path().join("include/atrest.h")).unwrap();
    std::fs::copy(staticlib(), prefix.path().join("lib/libatrest_ffi.a")).unwrap();
    std::fs::copy(root().join("atrest.pc"), prefix.path().join("lib/pkgconfig/atrest.pc")).unwrap();
    let out = Command::new("pkg-config")
        .env("PKG_CONFIG_PATH", prefix.path().join("lib/pkgconfig"))
        .arg(format!("--define-variable=prefix={}", prefix.path().display()))
        .args(["--static", "--cflags", "--libs", "atrest"])
        .output()
        .unwrap_or_else(|e| panic!("pkg-config is needed for this test (Debian package pkg-config): {e}"));
    assert!(out.status.success(), "pkg-config: {}", String::from_utf8_lossy(&out.stderr));
    let flags: Vec<String> = String::from_utf8(out.stdout).unwrap().split_whitespace().map(String::from).collect();
    assert!(flags.iter().any(|f| f == "-latrest_ffi"), "{flags:?}");
    let exe = compile("roundtrip", &flags);
    run(&exe, &[]);
}

#[test]
fn header_constants_match_the_page_format() {
    use atrest_core::page::{HEADER_LEN, OVERHEAD, PAGE_TAG_LEN, PageKind, PageSize};
    let header = std::fs::read_to_string(root().join("include/atrest.h")).unwrap();
    let define = |name: &str| -> usize {
        let line = header
            .lines()
            .find(|l| l.starts_with(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} is not defined"));
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    assert_eq!(define("ATREST_PAGE_HEADER_LEN"), HEADER_LEN);
    assert_eq!(define("ATREST_PAGE_TAG_LEN"), PAGE_TAG_LEN);
    assert_eq!(define("ATREST_PAGE_OVERHEAD"), OVERHEAD);
    assert_eq!(define("ATREST_PAGE_SIZE_MIN"), PageSize::KIB_4.bytes());
    assert_eq!(define("ATREST_PAGE_SIZE_MAX"), PageSize::KIB_64.bytes());
    for kind in PageKind::ALL {
        let name = format!("ATREST_PAGE_{} = {}", format!("{kind:?}").to_uppercase(), kind.id());
        assert!(header.contains(&name), "{name} missing from atrest.h");
    }
}

#[test]
fn the_readme_c_example_compiles_and_runs() {
    let readme = std::fs::read_to_string(root().join("../../README.md")).unwrap();
    let start = readme.find("```c\n").expect("the README has a C example") + 5;
    let len = readme[start..].find("```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("engine.c");
    std::fs::write(&src, &readme[start..start + len]).unwrap();
    let exe = compile_source(&src, "readme_engine", &direct_flags());
    let data = dir.path().join("data");
    let key_file = dir.path().join("keys/master.key");
    run(&exe, &[data.to_str().unwrap(), key_file.to_str().unwrap()]);
    // Run again: the keyring and key file it created are opened, not remade.
    run(&exe, &[data.to_str().unwrap(), key_file.to_str().unwrap()]);
}

//! # atrest-sqlite
//!
//! A SQLite VFS, written in C on the atrest C ABI (`atrest.h`), that stores every file of a database as atrest
//! sealed pages: the proof that atrest works as the crypto layer of a real engine. The VFS lives in
//! `c/atrest_sqlite.c` with its header `c/atrest_sqlite.h`; it is built two ways:
//!
//! - linked into a program with `-lsqlite3` and `libatrest_ffi.a`, registering itself with
//!   `atrest_sqlite_register(...)`;
//! - as a loadable extension (`libatrest_sqlite.so`) that the `sqlite3` shell loads with
//!   `.load ./libatrest_sqlite`, configured by `ATREST_SQLITE_KEYRING` and `ATREST_SQLITE_KEY_FILE`.
//!
//! This crate builds both with the system C compiler for its tests and its benchmark; [`Build`] does that.
//! Layout and guarantees: docs/design.md ("SQLite VFS") and docs/threat-model.md.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the C sources of the VFS are.
pub fn c_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// The directory of `atrest.h`.
pub fn include_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../atrest-ffi/include")
}

/// Why a build step failed.
#[derive(Debug)]
pub enum BuildError {
    /// `libatrest_ffi.a` was not found next to the running executable.
    NoStaticLib(PathBuf),
    /// The C compiler could not be run.
    Compiler(String, std::io::Error),
    /// The C compiler rejected the code; the command is given.
    Failed(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::NoStaticLib(dir) => write!(f, "libatrest_ffi.a not found near {}", dir.display()),
            BuildError::Compiler(cc, e) => write!(f, "could not run the C compiler {cc:?}: {e}"),
            BuildError::Failed(cmd) => write!(f, "C build failed: {cmd}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds the VFS and programs on it with the system C compiler (`$CC`, else `cc`), against the
/// `libatrest_ffi.a` that cargo built next to the running test or example.
#[derive(Debug, Clone)]
pub struct Build {
    cc: String,
    staticlib: PathBuf,
    out: PathBuf,
}

/// Warnings are errors: the VFS and the test programs must compile cleanly.
const CFLAGS: &[&str] =
    &["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE"];

impl Build {
    /// A build that writes its outputs into `out`.
    ///
    /// # Errors
    /// [`BuildError::NoStaticLib`] if cargo did not build `libatrest_ffi.a` for this profile.
    pub fn new(out: &Path) -> Result<Build, BuildError> {
        let exe = std::env::current_exe().map_err(|e| BuildError::Compiler("current_exe".into(), e))?;
        let dir = exe.parent().unwrap_or(Path::new("."));
        let candidates = [dir.to_path_buf(), dir.join("deps"), dir.join("../deps"), dir.join("..")];
        let staticlib = candidates
            .iter()
            .map(|d| d.join("libatrest_ffi.a"))
            .find(|p| p.exists())
            .ok_or_else(|| BuildError::NoStaticLib(dir.to_path_buf()))?;
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        Ok(Build { cc, staticlib, out: out.to_path_buf() })
    }

    /// The static library the builds link.
    pub fn staticlib(&self) -> &Path {
        &self.staticlib
    }

    fn run(&self, args: &[String]) -> Result<(), BuildError> {
        let status =
            Command::new(&self.cc).args(args).status().map_err(|e| BuildError::Compiler(self.cc.clone(), e))?;
        if status.success() { Ok(()) } else { Err(BuildError::Failed(format!("{} {}", self.cc, args.join(" ")))) }
    }

    fn common(&self) -> Vec<String> {
        let mut args: Vec<String> = CFLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("-I{}", include_dir().display()));
        args.push(format!("-I{}", c_dir().display()));
        args
    }

    /// The loadable extension for the `sqlite3` shell: `<out>/libatrest_sqlite.so`.
    ///
    /// # Errors
    /// When the compiler fails.
    pub fn extension(&self) -> Result<PathBuf, BuildError> {
        let so = self.out.join("libatrest_sqlite.so");
        let mut args = self.common();
        args.extend(["-DATREST_SQLITE_EXTENSION".into(), "-fPIC".into(), "-shared".into()]);
        args.push(c_dir().join("atrest_sqlite.c").display().to_string());
        args.push(self.staticlib.display().to_string());
        args.extend(["-lpthread".into(), "-ldl".into(), "-lm".into(), "-o".into(), so.display().to_string()]);
        self.run(&args)?;
        Ok(so)
    }

    /// A program from the C source `src`, linked with the VFS, Debian's libsqlite3 and atrest:
    /// `<out>/<name>`. `defines` are passed as `-D` flags.
    ///
    /// # Errors
    /// When the compiler fails.
    pub fn program(&self, src: &Path, name: &str, defines: &[&str]) -> Result<PathBuf, BuildError> {
        let exe = self.out.join(name);
        let mut args = self.common();
        args.extend(defines.iter().map(|d| format!("-D{d}")));
        args.push(src.display().to_string());
        args.push(c_dir().join("atrest_sqlite.c").display().to_string());
        args.push(self.staticlib.display().to_string());
        args.extend(["-lsqlite3", "-lpthread", "-ldl", "-lm", "-o"].map(String::from));
        args.push(exe.display().to_string());
        self.run(&args)?;
        Ok(exe)
    }

    /// A program from `src` linked with Debian's SQLCipher instead (no atrest): the benchmark's peer.
    ///
    /// # Errors
    /// When the compiler fails (is libsqlcipher-dev installed?).
    pub fn sqlcipher_program(&self, src: &Path, name: &str) -> Result<PathBuf, BuildError> {
        let exe = self.out.join(name);
        let mut args: Vec<String> = CFLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.extend(["-DSQLITE_HAS_CODEC".into(), "-DBENCH_SQLCIPHER".into(), "-I/usr/include/sqlcipher".into()]);
        args.push(src.display().to_string());
        args.extend(["-lsqlcipher", "-lpthread", "-ldl", "-lm", "-o"].map(String::from));
        args.push(exe.display().to_string());
        self.run(&args)?;
        Ok(exe)
    }
}

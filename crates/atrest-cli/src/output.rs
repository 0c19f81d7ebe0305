//! Standard output. Rust ignores SIGPIPE, so a print to a closed pipe (`atrest find … | head -1`) is an error,
//! which `println!` turns into a panic with a backtrace. Every command prints through here instead: a reader
//! that went away ends the process quietly with exit status 141, what a shell reports for a C tool ended by
//! SIGPIPE; any other write error ends it with a message and status 1. Commands that change the store close
//! it before printing their report, so ending here never interrupts a write (and a store that is still open
//! recovers as after any crash).

use std::io::{self, Write};

/// The exit status of a command whose reader closed stdout: 128 + SIGPIPE.
pub const BROKEN_PIPE_EXIT: u8 = 141;

fn fail(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(BROKEN_PIPE_EXIT.into());
    }
    eprintln!("atrest: error: stdout: {e}");
    std::process::exit(1);
}

/// Stdout as a writer whose failures end the process as described above (so its `Result`s are always `Ok`).
pub struct Stdout;

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write(buf).or_else(|e| fail(&e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(buf).and_then(|()| out.flush()).or_else(|e| fail(&e))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush().or_else(|e| fail(&e))
    }
}

/// Writes `bytes` to stdout.
pub fn write(bytes: &[u8]) {
    // Cannot fail: `Stdout` ends the process instead.
    let _ = Stdout.write_all(bytes);
}

/// Writes a formatted line to stdout.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut text = args.to_string();
    text.push('\n');
    write(text.as_bytes());
}

/// `println!` that ends quietly on a closed stdout instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;

//! Progress on stderr while a run goes (hidden for tests and when asked), so stdout stays clean for `--json`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows one stage at a time.
#[derive(Debug)]
pub struct Progress {
    shown: bool,
}

impl Progress {
    /// Progress drawn on stderr if `shown`.
    pub fn new(shown: bool) -> Progress {
        Progress { shown }
    }

    fn bar(&self, len: Option<u64>) -> ProgressBar {
        let target = if self.shown { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        ProgressBar::with_draw_target(len, target)
    }

    /// A stage without a measurable length: a spinner with `msg`.
    pub fn spinner(&self, msg: &str) -> ProgressBar {
        let pb = self.bar(None);
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message(msg.to_owned());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    }

    /// A stage that moves `total` bytes.
    pub fn bytes(&self, msg: &str, total: u64) -> ProgressBar {
        let pb = self.bar(Some(total));
        pb.set_style(
            ProgressStyle::with_template("{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        pb.set_message(msg.to_owned());
        pb
    }
}

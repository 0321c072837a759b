//! Progress on long work (runs sync, profile build, large drift runs, registering large
//! folders): drawn on stderr, and only when stderr is a terminal, so scripts, CI logs and
//! `--format json` output never see it. Cleared when the work ends, failed or not.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work below this many rows finishes too fast for a bar to help.
const MIN_ROWS: u64 = 250_000;

/// A progress indicator, or nothing when stderr is not a terminal.
pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar over `total` rows (hidden for small totals).
    pub(crate) fn rows(total: u64, message: &str) -> Self {
        if total < MIN_ROWS {
            return Self(None);
        }
        Self::bar(
            total,
            message,
            "{msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec:0}, eta {eta}",
        )
    }

    /// A spinner with a message and the time spent, for work whose size is not known.
    pub(crate) fn spinner(message: impl Into<String>) -> Self {
        let Some(bar) = terminal(ProgressBar::new_spinner()) else {
            return Self(None);
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.into());
        bar.enable_steady_tick(Duration::from_millis(120));
        Self(Some(bar))
    }

    fn bar(total: u64, message: &str, template: &str) -> Self {
        let Some(bar) = terminal(ProgressBar::new(total)) else {
            return Self(None);
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_owned());
        Self(Some(bar))
    }

    /// Records `n` more units done.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// `bar` drawing on stderr, if stderr is a terminal.
fn terminal(bar: ProgressBar) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    bar.set_draw_target(ProgressDrawTarget::stderr());
    Some(bar)
}

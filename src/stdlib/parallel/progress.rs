//! The `progress: true` option: a progress bar with rate and ETA on stderr
//! (indicatif), shown only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar counting finished items. Cheap to update from every
/// worker (an atomic add; drawing is rate-limited by indicatif).
#[derive(Debug)]
pub(super) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `len` items, or `None` when stderr is not a terminal (no
    /// output at all then).
    pub(super) fn start(func: &str, len: usize) -> Option<Progress> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        let template = format!(
            "{func} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} ({{per_sec}}, ETA {{eta}})"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        Some(Progress { bar })
    }

    /// Counts `n` more finished (or skipped) items.
    #[inline]
    pub(super) fn add(&self, n: usize) {
        if n > 0 {
            self.bar.inc(n as u64);
        }
    }

    /// Ends the bar: left on screen (full) when every item ran, cleared
    /// when the call failed (the error message follows instead).
    pub(super) fn finish(&self, ok: bool) {
        if ok {
            self.bar.finish();
            // indicatif leaves the cursor after the bar: end its line so the
            // script's next output starts on a line of its own.
            eprintln!();
        } else {
            self.bar.finish_and_clear();
        }
    }
}

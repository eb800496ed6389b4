//! The `progress: true` option: items done, rate and ETA on stderr.
//!
//! - stderr is a terminal: an indicatif bar (`parallel_map [00:00:03]
//!   ####---- 3,507/10,000 (1,169/s, ETA 6s)`; for a channel, whose length
//!   is unknown, a count and a rate). It is cleared when the call fails or
//!   is cancelled, and left on screen, full, when it succeeds. While it is
//!   shown, `print` goes through [`above_bar`], which lifts the bar, writes
//!   the line and draws the bar again below it (indicatif's `suspend`).
//! - stderr is not a terminal (a log file, a pipe): a one-line status,
//!   `parallel_map: 3,507/10,000 items (35%), 1,169/s, ETA 6s`, at most
//!   every [`STATUS_EVERY`] (none for a call that ends sooner).
//!
//! Only one display exists at a time: a call made while another call's
//! display is up, in particular one made inside an item, shows nothing.
//! Rates: at least 100 per second as a whole number with thousands
//! separators (`1,169/s`); below that, three significant digits (`12.5/s`,
//! `0.250/s`).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use parking_lot::{Mutex, RwLock};

/// The least time between two status lines when stderr is not a terminal.
pub const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Whether some call's display is up (only one at a time).
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether a terminal bar is shown (checked by `print` without a lock).
static BAR_SHOWN: AtomicBool = AtomicBool::new(false);
/// The bar shown, for [`above_bar`].
static BAR: RwLock<Option<ProgressBar>> = RwLock::new(None);

/// Runs `write` (which writes a line to stdout) so that the line appears
/// above the progress bar, if one is shown on the same terminal.
pub fn above_bar<R>(write: impl FnOnce() -> R) -> R {
    if !BAR_SHOWN.load(Ordering::Relaxed) || !stdout_is_terminal() {
        return write();
    }
    let bar = BAR.read();
    match &*bar {
        Some(b) => b.suspend(|| {
            let r = write();
            let _ = std::io::stdout().flush();
            r
        }),
        None => write(),
    }
}

fn stdout_is_terminal() -> bool {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    *TERMINAL.get_or_init(|| std::io::stdout().is_terminal())
}

/// The progress display of one call. Cheap to update from every thread.
#[derive(Debug)]
pub(super) struct Progress {
    display: Display,
}

#[derive(Debug)]
enum Display {
    Bar(ProgressBar),
    Status(Status),
}

/// Status lines for a non-terminal stderr.
#[derive(Debug)]
struct Status {
    func: &'static str,
    total: Option<u64>,
    done: AtomicU64,
    start: Instant,
    /// Nanoseconds after `start` when the next line is due.
    next_due: AtomicU64,
    /// Serialises the writing of lines.
    writing: Mutex<()>,
}

impl Progress {
    /// A display for `func` over `total` items (`None`: a stream), or
    /// `None` when another display is up or this call runs inside an item.
    pub fn start(func: &'static str, total: Option<usize>) -> Option<Progress> {
        if super::work::inside_items() || ACTIVE.swap(true, Ordering::AcqRel) {
            return None;
        }
        let total = total.map(|n| n as u64);
        let display = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            bar.set_style(style(func, total.is_some()));
            bar.enable_steady_tick(Duration::from_millis(250));
            *BAR.write() = Some(bar.clone());
            BAR_SHOWN.store(true, Ordering::Release);
            Display::Bar(bar)
        } else {
            Display::Status(Status {
                func,
                total,
                done: AtomicU64::new(0),
                start: Instant::now(),
                next_due: AtomicU64::new(STATUS_EVERY.as_nanos() as u64),
                writing: Mutex::new(()),
            })
        };
        Some(Progress { display })
    }

    /// Counts `n` more finished (or skipped) items.
    #[inline]
    pub fn add(&self, n: usize) {
        match &self.display {
            Display::Bar(bar) => bar.inc(n as u64),
            Display::Status(s) => s.add(n as u64, &mut std::io::stderr()),
        }
    }

    /// Ends the display: a bar is left on screen (full) when the call
    /// succeeded, cleared when it failed or was cancelled (the error
    /// follows instead).
    pub fn finish(&self, ok: bool) {
        if let Display::Bar(bar) = &self.display {
            BAR_SHOWN.store(false, Ordering::Release);
            *BAR.write() = None;
            bar.disable_steady_tick();
            if ok {
                bar.finish();
                // indicatif leaves the cursor after the bar: end its line so
                // the script's next output starts on a line of its own.
                eprintln!();
            } else {
                bar.finish_and_clear();
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Display::Bar(bar) = &self.display {
            if !bar.is_finished() {
                // Not finished by the call (a panic): clear it.
                BAR_SHOWN.store(false, Ordering::Release);
                *BAR.write() = None;
                bar.finish_and_clear();
            }
        }
        ACTIVE.store(false, Ordering::Release);
    }
}

impl Status {
    /// Counts `n` items, writing a status line to `out` if one is due.
    fn add(&self, n: u64, out: &mut dyn Write) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        let now = self.start.elapsed();
        let now_ns = now.as_nanos() as u64;
        let due = self.next_due.load(Ordering::Relaxed);
        if now_ns < due {
            return;
        }
        let next = now_ns + STATUS_EVERY.as_nanos() as u64;
        if self
            .next_due
            .compare_exchange(due, next, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return; // another thread writes this one
        }
        let line = status_line(self.func, done, self.total, now);
        let _guard = self.writing.lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

/// One status line (with its newline).
pub(super) fn status_line(func: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut line = format!("{func}: {}", thousands(done));
    match total {
        Some(total) => {
            let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100);
            let _ = write!(
                line,
                "/{} items ({pct}%), {}",
                thousands(total),
                format_rate(rate)
            );
            if rate > 0.0 && done < total {
                let eta = Duration::from_secs_f64((total - done) as f64 / rate);
                let _ = write!(line, ", ETA {}", format_duration(eta));
            }
        }
        None => {
            let _ = write!(line, " items, {}", format_rate(rate));
        }
    }
    line.push('\n');
    line
}

/// `n` with a comma every three digits: `1,169`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Items per second: `1,169/s`, `12.5/s`, `0.250/s`.
pub(super) fn format_rate(rate: f64) -> String {
    if !rate.is_finite() || rate <= 0.0 {
        "0/s".to_string()
    } else if rate >= 99.5 {
        format!("{}/s", thousands(rate.round() as u64))
    } else if rate >= 9.995 {
        format!("{rate:.1}/s")
    } else if rate >= 0.9995 {
        format!("{rate:.2}/s")
    } else {
        format!("{rate:.3}/s")
    }
}

/// `6s`, `1m17s`, `2h03m` (to the nearest second).
pub(super) fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// The bar's look: `func [elapsed] bar count/len (rate, ETA eta)`, or for
/// a stream `func [elapsed] spinner count (rate)`.
fn style(func: &str, known_len: bool) -> ProgressStyle {
    let template = if known_len {
        format!(
            "{func} [{{elapsed_precise}}] {{wide_bar}} {{count}}/{{total}} ({{rate}}, ETA {{eta}})"
        )
    } else {
        format!("{func} [{{elapsed_precise}}] {{spinner}} {{count}} items ({{rate}})")
    };
    let style =
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar());
    style
        .with_key("count", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&thousands(s.pos()));
        })
        .with_key("total", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&thousands(s.len().unwrap_or(0)));
        })
        .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&format_rate(s.per_sec()));
        })
        .with_key("eta", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&format_duration(s.eta()));
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_have_sensible_precision() {
        assert_eq!(format_rate(1169.4), "1,169/s");
        assert_eq!(format_rate(1_234_567.0), "1,234,567/s");
        assert_eq!(format_rate(100.0), "100/s");
        assert_eq!(format_rate(12.54), "12.5/s");
        assert_eq!(format_rate(3.25), "3.25/s");
        assert_eq!(format_rate(0.25), "0.250/s");
        assert_eq!(format_rate(0.0), "0/s");
        assert_eq!(format_rate(f64::NAN), "0/s");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
    }

    #[test]
    fn status_lines_say_count_rate_and_eta() {
        let l = status_line("parallel_map", 3507, Some(10_000), Duration::from_secs(3));
        assert_eq!(
            l,
            "parallel_map: 3,507/10,000 items (35%), 1,169/s, ETA 6s\n"
        );
        let l = status_line("parallel_filter", 120, None, Duration::from_secs(10));
        assert_eq!(l, "parallel_filter: 120 items, 12.0/s\n");
        assert_eq!(format_duration(Duration::from_secs(77)), "1m17s");
        assert_eq!(format_duration(Duration::from_secs(7380)), "2h03m");
    }

    #[test]
    fn status_lines_come_at_most_every_interval() {
        let s = Status {
            func: "parallel_map",
            total: Some(100),
            done: AtomicU64::new(0),
            // Pretend the call started 12 s ago: one line is due now.
            start: Instant::now() - Duration::from_secs(12),
            next_due: AtomicU64::new(STATUS_EVERY.as_nanos() as u64),
            writing: Mutex::new(()),
        };
        let mut out = Vec::new();
        for _ in 0..50 {
            s.add(1, &mut out);
        }
        let text = String::from_utf8(out).expect("utf-8");
        // Due once at the first add; the next is 5 s later, not yet.
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.starts_with("parallel_map: 1/100 items (1%)"), "{text}");
        // Once the next is due, exactly one more line.
        s.next_due.store(0, Ordering::Relaxed);
        let mut out = Vec::new();
        for _ in 0..10 {
            s.add(1, &mut out);
        }
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("parallel_map: 51/100 items (51%)"),
            "{text}"
        );
    }
}

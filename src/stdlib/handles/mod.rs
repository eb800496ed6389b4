//! Counts of the live handles (atoms, channels, tasks), reported by
//! `weft --stats` at exit. See `README.md` here for why handle cycles are
//! not collected and what that means for scripts.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The kinds of handle counted.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    /// `atom(v)`
    Atom = 0,
    /// `channel(n)`
    Channel = 1,
    /// `spawn(f)`
    Task = 2,
}

/// Live handles of each [`Kind`].
static LIVE: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// A field of every handle object: counts it as live until it is dropped.
#[derive(Debug)]
pub(crate) struct Live(Kind);

impl Live {
    /// Counts one more live handle of `kind`.
    pub(crate) fn new(kind: Kind) -> Live {
        LIVE[kind as usize].fetch_add(1, Ordering::Relaxed);
        Live(kind)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE[self.0 as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many handles of each kind exist now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveHandles {
    /// Atoms.
    pub atoms: usize,
    /// Channels.
    pub channels: usize,
    /// Tasks (task values, whether or not the task still runs).
    pub tasks: usize,
}

/// The live handles now.
pub fn live() -> LiveHandles {
    let n = |k: Kind| LIVE[k as usize].load(Ordering::Relaxed);
    LiveHandles {
        atoms: n(Kind::Atom),
        channels: n(Kind::Channel),
        tasks: n(Kind::Task),
    }
}

/// The `--stats` line: `live handles at exit: 1 atom, 2 channels, 0 tasks
/// (...)`.
pub fn summary(h: LiveHandles) -> String {
    let count = super::args::count;
    let mut line = format!(
        "weft: live handles at exit: {}, {}, {}",
        count(h.atoms, "atom"),
        count(h.channels, "channel"),
        count(h.tasks, "task")
    );
    if h.atoms + h.channels + h.tasks > 0 {
        line.push_str(
            " (held by top-level variables, by tasks still running, or by reference \
             cycles through handles, which are never freed)",
        );
    }
    line
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn summary_counts_with_plurals() {
        let none = LiveHandles::default();
        assert_eq!(
            summary(none),
            "weft: live handles at exit: 0 atoms, 0 channels, 0 tasks"
        );
        let some = LiveHandles {
            atoms: 1,
            channels: 2,
            tasks: 0,
        };
        assert!(summary(some)
            .starts_with("weft: live handles at exit: 1 atom, 2 channels, 0 tasks (held by"));
    }

    #[test]
    fn a_handle_counts_while_it_lives() {
        // Other tests make handles concurrently, so only a lower bound
        // holds while this one lives.
        let h = Live::new(Kind::Task);
        assert!(live().tasks >= 1);
        drop(h);
    }
}

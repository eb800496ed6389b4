//! `weft --stats`: one line per parallel call site (`file:line` of the
//! call), printed at exit after the pool's own table: how many calls and
//! items, how many calls ran inline on the caller and why, chunks (leaves
//! and stream chunks run), steals (parts of the call run by a thread other
//! than the one that split them), and parallel efficiency, busy ÷ (wall ×
//! workers): the time threads spent running the call's items over the time
//! all workers could have spent during the call.
//!
//! Nothing is measured unless `--stats` is on: a call then reads its call
//! site once and the clock around each chunk it runs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::vm::Vm;

/// The measurements of one call (all no-ops when `--stats` is off).
#[derive(Debug, Default)]
pub(super) struct CallStats {
    on: bool,
    site: String,
    chunks: AtomicU64,
    steals: AtomicU64,
    busy_ns: AtomicU64,
    wall_ns: AtomicU64,
    inline: Mutex<Option<&'static str>>,
    used_pool: AtomicBool,
}

impl CallStats {
    /// Measurements for a call made from `vm` (its current call site), if
    /// `--stats` is on.
    pub fn new(vm: &Vm) -> CallStats {
        if !crate::runtime::options().stats {
            return CallStats::default();
        }
        CallStats {
            on: true,
            site: site_of(vm),
            ..CallStats::default()
        }
    }

    /// A chunk (leaf, stream chunk) started.
    #[inline]
    pub fn chunk(&self) {
        if self.on {
            self.chunks.fetch_add(1, Ordering::Relaxed);
            self.used_pool.store(true, Ordering::Relaxed);
        }
    }

    /// A part split off was run by another thread.
    #[inline]
    pub fn steal(&self) {
        if self.on {
            self.steals.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `d` of a thread's time went to running the call's items.
    #[inline]
    pub fn busy(&self, d: Duration) {
        if self.on {
            self.busy_ns
                .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        }
    }

    /// A clock start for [`busy_since`](Self::busy_since), if measuring.
    #[inline]
    pub fn clock(&self) -> Option<Instant> {
        self.on.then(Instant::now)
    }

    /// Adds the time since `start` (from [`clock`](Self::clock)) as busy.
    #[inline]
    pub fn busy_since(&self, start: Option<Instant>) {
        if let Some(s) = start {
            self.busy(s.elapsed());
        }
    }

    /// The call ran entirely on the caller, for `why`.
    pub fn ran_inline(&self, why: &'static str) {
        if self.on {
            *self.inline.lock() = Some(why);
        }
    }

    /// The call's wall time.
    pub fn wall(&self, d: Duration) {
        if self.on {
            self.wall_ns
                .store(d.as_nanos().min(u64::MAX as u128) as u64, Ordering::Relaxed);
        }
    }

    /// Adds this call to its site's totals (`func` made it over `items`
    /// items).
    pub fn record(&self, func: &'static str, items: u64) {
        if !self.on {
            return;
        }
        let wall = self.wall_ns.load(Ordering::Relaxed);
        let busy = match *self.inline.lock() {
            // Inline: the caller was busy the whole call.
            Some(_) => wall,
            None => self.busy_ns.load(Ordering::Relaxed),
        };
        let workers = crate::runtime::started_pool()
            .map(|p| p.worker_count())
            .unwrap_or_else(|| crate::runtime::config().resolved_worker_count())
            .max(1) as u64;
        let mut sites = SITES.get_or_init(Default::default).lock();
        let s = sites
            .entry((self.site.clone(), func))
            .or_insert_with(|| Site {
                order: 0,
                ..Site::default()
            });
        if s.calls == 0 {
            s.order = NEXT_ORDER.fetch_add(1, Ordering::Relaxed);
        }
        s.calls += 1;
        s.items += items;
        if let Some(why) = *self.inline.lock() {
            s.inline += 1;
            if !s.reasons.contains(&why) {
                s.reasons.push(why);
            }
        }
        s.chunks += self.chunks.load(Ordering::Relaxed);
        s.steals += self.steals.load(Ordering::Relaxed);
        s.busy_ns = s
            .busy_ns
            .saturating_add(busy.min(wall.saturating_mul(workers)));
        s.capacity_ns = s.capacity_ns.saturating_add(wall.saturating_mul(workers));
    }
}

/// `file:line` of the native call running on `vm`.
fn site_of(vm: &Vm) -> String {
    let Some(site) = vm.call_site() else {
        return "<native>".into();
    };
    // `at NAME (file:line:col)`: keep `file:line`.
    let frame = site.frame("");
    let inner = frame
        .rsplit_once('(')
        .map(|(_, rest)| rest.trim_end_matches(')'))
        .unwrap_or(&frame);
    match inner.rsplit_once(':') {
        Some((file_line, _col)) => file_line.to_string(),
        None => inner.to_string(),
    }
}

/// Totals of one call site.
#[derive(Debug, Default)]
struct Site {
    order: u64,
    calls: u64,
    items: u64,
    inline: u64,
    reasons: Vec<&'static str>,
    chunks: u64,
    steals: u64,
    busy_ns: u64,
    capacity_ns: u64,
}

type Sites = Mutex<HashMap<(String, &'static str), Site>>;

static SITES: OnceLock<Sites> = OnceLock::new();
static NEXT_ORDER: AtomicU64 = AtomicU64::new(0);

/// The `--stats` section of the parallel calls, in order of each site's
/// first call; empty if no parallel call was made.
pub fn report() -> String {
    let Some(sites) = SITES.get() else {
        return String::new();
    };
    let sites = sites.lock();
    if sites.is_empty() {
        return String::new();
    }
    let mut rows: Vec<_> = sites.iter().collect();
    rows.sort_by_key(|(_, s)| s.order);
    let mut out = String::from("weft parallel call sites\n");
    let _ = writeln!(
        out,
        "  {:<24} {:<18} {:>6} {:>12} {:>7} {:>8} {:>7} {:>10}  inline because",
        "site", "call", "calls", "items", "inline", "chunks", "steals", "efficiency"
    );
    for ((site, func), s) in rows {
        let efficiency = if s.capacity_ns == 0 {
            "-".to_string()
        } else {
            format!("{:.2}", s.busy_ns as f64 / s.capacity_ns as f64)
        };
        let _ = writeln!(
            out,
            "  {:<24} {:<18} {:>6} {:>12} {:>7} {:>8} {:>7} {:>10}  {}",
            site,
            func,
            s.calls,
            s.items,
            s.inline,
            s.chunks,
            s.steals,
            efficiency,
            if s.reasons.is_empty() {
                "-".to_string()
            } else {
                s.reasons.join(", ")
            }
        );
    }
    out
}

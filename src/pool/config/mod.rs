//! `ThreadPoolConfig`: the one struct that tunes the pool (CONFIG.md).
//!
//! - [`key`]: the key names, where a value came from, values as scripts see
//!   them;
//! - [`check`]: the types and ranges each key allows, for every layer;
//! - [`file`], [`env`], [`load`]: the layers (TOML file, environment and
//!   flags, all four in order);
//! - [`error`]: `ConfigError` and its messages;
//! - [`detect`]: CPUs this process may use, the cache line size.

mod check;
mod detect;
mod env;
mod error;
mod file;
mod key;
mod load;
#[cfg(test)]
mod test;

pub use detect::available_cpus;
pub use error::{ConfigError, ConfigErrorKind};
pub use key::{ConfigEntry, ConfigKey, ConfigValue, Source};
pub use load::LoadOptions;

use error::Origin;
use std::time::Duration;

/// How many workers the pool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerCount {
    /// The CPUs this process may use (see [`available_cpus`]).
    Auto,
    /// Exactly this many (1 to 1,024), even if that is more than there are
    /// CPUs.
    Fixed(usize),
}

/// The thread pool's configuration (CONFIG.md).
///
/// It is filled from four layers, a later one winning key by key: defaults,
/// a TOML file, environment variables, command-line flags
/// ([`load`](Self::load) does all four). In a file the keys live in one
/// `[thread_pool]` table:
///
/// ```toml
/// [thread_pool]
/// worker_count = 8          # 1 to 1024, or "auto" (default): the CPUs this process may use
/// numa_aware = true         # pin workers to cores, spread over NUMA nodes (default false)
/// work_stealing = true      # default true
/// cache_line_size = 64      # bytes; a power of two from 16 to 1024 (default: detected, else 64)
/// max_batch_size = 256      # default recv_batch size; 1 to 1000000
/// spin_before_park_us = 50  # microseconds an idle worker spins before it parks; 0 to 10000
/// stack_size = "16MiB"      # per worker thread; 256KiB to 1GiB (default 16MiB)
/// max_spare_workers = 64    # cap on threads started to replace blocked workers; 0 to 1024
/// time_slice_ms = 10        # a task running this long while others wait yields; 1 to 10000
/// ```
///
/// `stack_size` is an integer number of bytes or a string: digits, optional
/// spaces, then `B`, `KiB`, `MiB` or `GiB` (powers of 1024, any letter
/// case). `KB`, `MB`, `GB` (and `K`, `M`, `G`) are refused as ambiguous
/// rather than guessed. `max_spare_workers = 0` means a blocking call never
/// gets a replacement thread.
///
/// Nothing is clamped or ignored: an unknown key or table, a wrong type or
/// an out-of-range value is a [`ConfigError`] naming the file, line and key
/// (and the closest known key). Values given through the `with_*` setters
/// are checked by [`validate`](Self::validate).
///
/// ```
/// use weft::pool::{ThreadPoolConfig, WorkerCount};
/// let config = ThreadPoolConfig::from_toml_str(
///     "[thread_pool]\nworker_count = 8\nstack_size = \"2MiB\"\n",
/// )
/// .unwrap();
/// assert_eq!(config.worker_count(), WorkerCount::Fixed(8));
/// assert_eq!(config.stack_size(), 2 << 20);
/// assert_eq!(config.source(weft::pool::ConfigKey::WorkerCount).to_string(), "file <string>");
/// ```
///
/// Equality compares the values only, not where they came from.
#[derive(Clone, Debug)]
pub struct ThreadPoolConfig {
    worker_count: WorkerCount,
    numa_aware: bool,
    work_stealing: bool,
    cache_line_size: usize,
    max_batch_size: usize,
    spin_before_park_us: u64,
    stack_size: usize,
    max_spare_workers: usize,
    time_slice_ms: u64,
    /// Where each value came from, indexed like [`ConfigKey::ALL`].
    sources: [Source; ConfigKey::ALL.len()],
}

impl Default for ThreadPoolConfig {
    /// The defaults of CONFIG.md; `cache_line_size` is the one the OS
    /// reports (source `detected`), else 64.
    fn default() -> Self {
        let detected = detect::cache_line_size();
        let mut sources: [Source; ConfigKey::ALL.len()] = Default::default();
        if detected.is_some() {
            sources[ConfigKey::CacheLineSize.index()] = Source::Detected;
        }
        ThreadPoolConfig {
            worker_count: WorkerCount::Auto,
            numa_aware: false,
            work_stealing: true,
            cache_line_size: detected.unwrap_or(64),
            max_batch_size: 256,
            spin_before_park_us: 50,
            stack_size: 16 << 20,
            max_spare_workers: 64,
            time_slice_ms: 10,
            sources,
        }
    }
}

impl PartialEq for ThreadPoolConfig {
    fn eq(&self, other: &Self) -> bool {
        ConfigKey::ALL
            .into_iter()
            .all(|key| check::current(self, key) == check::current(other, key))
    }
}

impl Eq for ThreadPoolConfig {}

impl ThreadPoolConfig {
    /// The most workers `worker_count` allows.
    pub const MAX_WORKERS: usize = 1024;
    /// The smallest allowed `cache_line_size`, bytes.
    pub const MIN_CACHE_LINE_SIZE: usize = 16;
    /// The largest allowed `cache_line_size`, bytes.
    pub const MAX_CACHE_LINE_SIZE: usize = 1024;
    /// The largest allowed `max_batch_size`.
    pub const MAX_BATCH_SIZE: usize = 1_000_000;
    /// The largest allowed `spin_before_park_us`.
    pub const MAX_SPIN_BEFORE_PARK_US: u64 = 10_000;
    /// The smallest allowed `stack_size`, bytes (256KiB).
    pub const MIN_STACK_SIZE: usize = 256 << 10;
    /// The largest allowed `stack_size`, bytes (1GiB).
    pub const MAX_STACK_SIZE: usize = 1 << 30;
    /// The largest allowed `max_spare_workers`.
    pub const MAX_SPARE_WORKERS: usize = 1024;
    /// The smallest allowed `time_slice_ms`.
    pub const MIN_TIME_SLICE_MS: u64 = 1;
    /// The largest allowed `time_slice_ms`.
    pub const MAX_TIME_SLICE_MS: u64 = 10_000;

    /// The configured worker count (maybe `Auto`).
    pub fn worker_count(&self) -> WorkerCount {
        self.worker_count
    }
    /// The worker count with `Auto` resolved to the CPUs this process may
    /// use ([`available_cpus`], at most [`MAX_WORKERS`](Self::MAX_WORKERS)).
    pub fn resolved_worker_count(&self) -> usize {
        match self.worker_count {
            WorkerCount::Auto => available_cpus().min(Self::MAX_WORKERS),
            WorkerCount::Fixed(n) => n,
        }
    }
    /// Pin workers to cores, spread over NUMA nodes.
    pub fn numa_aware(&self) -> bool {
        self.numa_aware
    }
    /// Whether idle workers steal.
    pub fn work_stealing(&self) -> bool {
        self.work_stealing
    }
    /// Cache line size in bytes.
    pub fn cache_line_size(&self) -> usize {
        self.cache_line_size
    }
    /// Default `recv_batch` size.
    pub fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }
    /// How long an idle worker spins before parking.
    pub fn spin_before_park(&self) -> Duration {
        Duration::from_micros(self.spin_before_park_us)
    }
    /// How long an idle worker spins before parking, in microseconds.
    pub fn spin_before_park_us(&self) -> u64 {
        self.spin_before_park_us
    }
    /// Stack size of each worker thread, bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
    /// Cap on threads started to replace blocked workers.
    pub fn max_spare_workers(&self) -> usize {
        self.max_spare_workers
    }
    /// How long a task may run while other tasks wait for a worker before
    /// it yields (at its next call or loop iteration).
    pub fn time_slice(&self) -> Duration {
        Duration::from_millis(self.time_slice_ms)
    }
    /// `time_slice_ms` as configured.
    pub fn time_slice_ms(&self) -> u64 {
        self.time_slice_ms
    }

    /// Sets the worker count (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_worker_count(mut self, n: WorkerCount) -> Self {
        self.worker_count = n;
        self.set_by_api(ConfigKey::WorkerCount)
    }
    /// Sets NUMA-aware pinning (source `api`).
    pub fn with_numa_aware(mut self, on: bool) -> Self {
        self.numa_aware = on;
        self.set_by_api(ConfigKey::NumaAware)
    }
    /// Sets work stealing (source `api`).
    pub fn with_work_stealing(mut self, on: bool) -> Self {
        self.work_stealing = on;
        self.set_by_api(ConfigKey::WorkStealing)
    }
    /// Sets the cache line size in bytes (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_cache_line_size(mut self, bytes: usize) -> Self {
        self.cache_line_size = bytes;
        self.set_by_api(ConfigKey::CacheLineSize)
    }
    /// Sets the default batch size (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self.set_by_api(ConfigKey::MaxBatchSize)
    }
    /// Sets the spin time before parking, in microseconds (source `api`;
    /// checked by [`validate`](Self::validate)).
    pub fn with_spin_before_park_us(mut self, us: u64) -> Self {
        self.spin_before_park_us = us;
        self.set_by_api(ConfigKey::SpinBeforeParkUs)
    }
    /// Sets the worker stack size in bytes (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self.set_by_api(ConfigKey::StackSize)
    }
    /// Sets the cap on spare workers (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_max_spare_workers(mut self, n: usize) -> Self {
        self.max_spare_workers = n;
        self.set_by_api(ConfigKey::MaxSpareWorkers)
    }
    /// Sets the time slice (source `api`; checked by
    /// [`validate`](Self::validate)).
    pub fn with_time_slice_ms(mut self, ms: u64) -> Self {
        self.time_slice_ms = ms;
        self.set_by_api(ConfigKey::TimeSliceMs)
    }

    fn set_by_api(mut self, key: ConfigKey) -> Self {
        self.sources[key.index()] = Source::Api;
        self
    }

    /// Checks every value against CONFIG.md's ranges. Values read from a
    /// file, the environment or flags were checked when read; this catches
    /// bad values given to the `with_*` setters, e.g.
    /// `error: worker_count = 0 is out of range (1 to 1024)`. The first bad
    /// key in CONFIG.md order is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for key in ConfigKey::ALL {
            let raw = check::current(self, key);
            let mut scratch = self.clone();
            let source = self.source(key).clone();
            if let Err(problem) = check::apply(&mut scratch, key, &raw, source) {
                let shown = match &raw {
                    check::Raw::Str(s) => format!("{s:?}"),
                    check::Raw::Int(n) => n.to_string(),
                    check::Raw::Bool(b) => b.to_string(),
                    check::Raw::Other(t) => t.to_string(),
                };
                return Err(ConfigError::new(
                    problem.kind(),
                    Origin::Api,
                    Some(key.name().to_string()),
                    format!("{key} = {shown} {}", problem.describe()),
                ));
            }
        }
        Ok(())
    }

    /// Where `key`'s value came from.
    pub fn source(&self, key: ConfigKey) -> &Source {
        &self.sources[key.index()]
    }

    /// The value of `key` as a script sees it: `worker_count` is `"auto"`
    /// or an integer, `stack_size` a string like `"16MiB"` (see
    /// [`stack_size`](Self::stack_size) for bytes), the rest integers and
    /// booleans.
    pub fn value(&self, key: ConfigKey) -> ConfigValue {
        match (key, check::current(self, key)) {
            (ConfigKey::StackSize, _) => {
                ConfigValue::Str(check::format_size(self.stack_size as u64))
            }
            (_, check::Raw::Int(n)) => ConfigValue::Int(n),
            (_, check::Raw::Bool(b)) => ConfigValue::Bool(b),
            (_, check::Raw::Str(s)) => ConfigValue::Str(s),
            (_, check::Raw::Other(t)) => ConfigValue::Str(t.to_string()),
        }
    }

    /// Every key in CONFIG.md order with its value and source: what
    /// `pool_config()` shows.
    pub fn entries(&self) -> Vec<ConfigEntry> {
        ConfigKey::ALL
            .into_iter()
            .map(|key| ConfigEntry {
                key,
                value: self.value(key),
                source: self.source(key).clone(),
            })
            .collect()
    }
}

//! The names of the config keys, where each value came from, and a value as
//! `pool_config()` shows it.

use std::fmt;
use std::path::PathBuf;

/// One key of the `[thread_pool]` table, in CONFIG.md order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfigKey {
    /// `worker_count`: an integer from 1 to 1,024 or `"auto"`.
    WorkerCount,
    /// `numa_aware`: pin workers to cores, spread over NUMA nodes.
    NumaAware,
    /// `work_stealing`: whether idle workers steal.
    WorkStealing,
    /// `cache_line_size`: bytes, a power of two from 16 to 1,024.
    CacheLineSize,
    /// `max_batch_size`: the default `recv_batch` size, 1 to 1,000,000.
    MaxBatchSize,
    /// `spin_before_park_us`: microseconds an idle worker spins, 0 to 10,000.
    SpinBeforeParkUs,
    /// `stack_size`: bytes per worker thread, 256KiB to 1GiB.
    StackSize,
    /// `max_spare_workers`: cap on threads started to replace blocked
    /// workers, 0 to 1,024.
    MaxSpareWorkers,
    /// `time_slice_ms`: a task running this long while others wait yields,
    /// 1 to 10,000.
    TimeSliceMs,
}

impl ConfigKey {
    /// Every key, in CONFIG.md order.
    pub const ALL: [ConfigKey; 9] = [
        ConfigKey::WorkerCount,
        ConfigKey::NumaAware,
        ConfigKey::WorkStealing,
        ConfigKey::CacheLineSize,
        ConfigKey::MaxBatchSize,
        ConfigKey::SpinBeforeParkUs,
        ConfigKey::StackSize,
        ConfigKey::MaxSpareWorkers,
        ConfigKey::TimeSliceMs,
    ];

    /// The key as written in `weft.toml`, e.g. `"worker_count"`.
    pub fn name(self) -> &'static str {
        match self {
            ConfigKey::WorkerCount => "worker_count",
            ConfigKey::NumaAware => "numa_aware",
            ConfigKey::WorkStealing => "work_stealing",
            ConfigKey::CacheLineSize => "cache_line_size",
            ConfigKey::MaxBatchSize => "max_batch_size",
            ConfigKey::SpinBeforeParkUs => "spin_before_park_us",
            ConfigKey::StackSize => "stack_size",
            ConfigKey::MaxSpareWorkers => "max_spare_workers",
            ConfigKey::TimeSliceMs => "time_slice_ms",
        }
    }

    /// The key called `name` in `weft.toml`, if there is one.
    pub fn from_name(name: &str) -> Option<ConfigKey> {
        ConfigKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The environment variable that sets this key, if any (CONFIG.md names
    /// six).
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            ConfigKey::WorkerCount => Some("WEFT_WORKERS"),
            ConfigKey::NumaAware => Some("WEFT_NUMA_AWARE"),
            ConfigKey::WorkStealing => Some("WEFT_WORK_STEALING"),
            ConfigKey::CacheLineSize => Some("WEFT_CACHE_LINE_SIZE"),
            ConfigKey::MaxBatchSize => Some("WEFT_MAX_BATCH_SIZE"),
            ConfigKey::TimeSliceMs => Some("WEFT_TIME_SLICE_MS"),
            ConfigKey::SpinBeforeParkUs | ConfigKey::StackSize | ConfigKey::MaxSpareWorkers => None,
        }
    }

    /// Position in [`ConfigKey::ALL`].
    pub(super) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a key's effective value came from.
///
/// Its `Display` is what `pool_config()` shows as the key's `source`:
/// `default`, `detected`, `file weft.toml`, `env WEFT_WORKERS`,
/// `flag --workers` or `api`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Source {
    /// The built-in default.
    #[default]
    Default,
    /// Asked of the operating system (the cache line size).
    Detected,
    /// A config file, named as the user named it (`--config FILE`,
    /// `$WEFT_CONFIG` or `weft.toml`).
    File(PathBuf),
    /// An environment variable, e.g. `WEFT_WORKERS`.
    Env(&'static str),
    /// A command-line flag, `--workers` or `--no-pin`.
    Flag(&'static str),
    /// A builder-style setter (`with_worker_count`, ...) called from Rust.
    Api,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::Detected => f.write_str("detected"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Api => f.write_str("api"),
        }
    }
}

/// A config value as a script sees it in `pool_config()`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConfigValue {
    /// A count or a number of bytes or microseconds.
    Int(i64),
    /// A switch.
    Bool(bool),
    /// `"auto"` for `worker_count`, or a size like `"16MiB"` for `stack_size`.
    Str(String),
}

impl fmt::Display for ConfigValue {
    /// Shows the value as it would be written in `weft.toml` (strings
    /// quoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigValue::Int(n) => write!(f, "{n}"),
            ConfigValue::Bool(b) => write!(f, "{b}"),
            ConfigValue::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// One row of [`ThreadPoolConfig::entries`](super::ThreadPoolConfig::entries):
/// a key, its effective value and where that value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Which key.
    pub key: ConfigKey,
    /// Its effective value.
    pub value: ConfigValue,
    /// Where that value came from.
    pub source: Source,
}

impl ConfigEntry {
    /// The key's name as written in `weft.toml`.
    pub fn name(&self) -> &'static str {
        self.key.name()
    }
}

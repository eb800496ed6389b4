//! The thread pool under Weft scripts. It knows nothing about Weft values.
//!
//! Placeholder: the pool work replaces this file. Only [`blocking`] is fixed
//! here, so that blocking builtins (`sleep`, `input`) can call it already.

mod config;

pub use config::{
    available_cpus, ConfigEntry, ConfigError, ConfigErrorKind, ConfigKey, ConfigValue, LoadOptions,
    Source, ThreadPoolConfig, WorkerCount,
};

/// Runs `f`, a call that may block for a reason the pool cannot help with
/// (sleep, I/O, a channel). On a pool worker, the pool first lets another
/// thread take this worker's place until `f` returns; elsewhere it just runs
/// `f`.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    f()
}

//! The process-wide runtime under scripts: one thread pool, started on first
//! use (`weft -e 'print(1)'` starts no thread), configured once before that.
//!
//! The CLI calls [`configure`] with the layered `ThreadPoolConfig` (and the
//! `--trace` / `--stats` options) before the script runs; an embedder may
//! skip it and get the defaults. [`pool`] starts the pool the first time a
//! script needs it; [`started_pool`] answers without starting it.

use crate::error::{Error, ErrorKind, Result};
use crate::pool::{ThreadPool, ThreadPoolConfig};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Everything the runtime is configured with, fixed before the pool starts.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// The pool's configuration (already layered and validated).
    pub config: ThreadPoolConfig,
    /// `--trace FILE`: write a Chrome trace-event JSON here at exit.
    pub trace: Option<PathBuf>,
    /// `--stats`: print `pool_stats()` as a table on stderr at exit.
    pub stats: bool,
}

static OPTIONS: OnceLock<RuntimeOptions> = OnceLock::new();
static POOL: OnceLock<std::result::Result<ThreadPool, String>> = OnceLock::new();

/// Fixes the runtime's options. Fails if they were already fixed (by an
/// earlier call, or by the pool having started with the defaults).
pub fn configure(options: RuntimeOptions) -> std::result::Result<(), Box<RuntimeOptions>> {
    OPTIONS.set(options).map_err(Box::new)
}

/// The runtime's options (the defaults if [`configure`] was never called).
pub fn options() -> &'static RuntimeOptions {
    OPTIONS.get_or_init(RuntimeOptions::default)
}

/// The pool's configuration.
pub fn config() -> &'static ThreadPoolConfig {
    &options().config
}

/// The pool, started now if it was not yet. Fails (with an `Error` a script
/// can catch) only if the pool could not start, e.g. no thread could be
/// spawned.
pub fn pool() -> Result<&'static ThreadPool> {
    match POOL.get_or_init(|| ThreadPool::new(config().clone()).map_err(|e| e.to_string())) {
        Ok(pool) => Ok(pool),
        Err(why) => Err(Error::new(
            ErrorKind::Error,
            format!("the thread pool could not start: {why}"),
        )),
    }
}

/// The pool if it has started; never starts it.
pub fn started_pool() -> Option<&'static ThreadPool> {
    POOL.get().and_then(|p| p.as_ref().ok())
}

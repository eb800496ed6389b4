//! `ThreadPoolConfig`: the one struct that tunes the pool (CONFIG.md).
//!
//! Placeholder with the fields, defaults and getters fixed so the pool can be
//! written against it; the config work adds TOML, environment variables,
//! validation with file/line/key errors, sources and cache-line detection.

use std::time::Duration;

/// How many workers the pool runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerCount {
    /// The CPUs this process may use.
    Auto,
    /// Exactly this many (1 to 1,024).
    Fixed(usize),
}

/// The thread pool's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadPoolConfig {
    worker_count: WorkerCount,
    numa_aware: bool,
    work_stealing: bool,
    cache_line_size: usize,
    max_batch_size: usize,
    spin_before_park_us: u64,
    stack_size: usize,
    max_spare_workers: usize,
}

impl Default for ThreadPoolConfig {
    fn default() -> Self {
        ThreadPoolConfig {
            worker_count: WorkerCount::Auto,
            numa_aware: false,
            work_stealing: true,
            cache_line_size: 64,
            max_batch_size: 256,
            spin_before_park_us: 50,
            stack_size: 16 << 20,
            max_spare_workers: 64,
        }
    }
}

impl ThreadPoolConfig {
    /// The configured worker count (maybe `Auto`).
    pub fn worker_count(&self) -> WorkerCount {
        self.worker_count
    }
    /// The worker count with `Auto` resolved to the CPUs this process may use.
    pub fn resolved_worker_count(&self) -> usize {
        match self.worker_count {
            WorkerCount::Auto => num_cpus::get().max(1),
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
    /// Stack size of each worker thread, bytes.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }
    /// Cap on threads started to replace blocked workers.
    pub fn max_spare_workers(&self) -> usize {
        self.max_spare_workers
    }
    /// Sets the worker count.
    pub fn with_worker_count(mut self, n: WorkerCount) -> Self {
        self.worker_count = n;
        self
    }
    /// Sets NUMA-aware pinning.
    pub fn with_numa_aware(mut self, on: bool) -> Self {
        self.numa_aware = on;
        self
    }
    /// Sets work stealing.
    pub fn with_work_stealing(mut self, on: bool) -> Self {
        self.work_stealing = on;
        self
    }
    /// Sets the cache line size.
    pub fn with_cache_line_size(mut self, bytes: usize) -> Self {
        self.cache_line_size = bytes;
        self
    }
    /// Sets the default batch size.
    pub fn with_max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }
    /// Sets the spin time before parking, in microseconds.
    pub fn with_spin_before_park_us(mut self, us: u64) -> Self {
        self.spin_before_park_us = us;
        self
    }
    /// Sets the worker stack size in bytes.
    pub fn with_stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }
    /// Sets the cap on spare workers.
    pub fn with_max_spare_workers(mut self, n: usize) -> Self {
        self.max_spare_workers = n;
        self
    }
}

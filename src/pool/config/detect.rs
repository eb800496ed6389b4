//! What the operating system tells about this machine: the CPUs this process
//! may use and the cache line size.

use std::sync::OnceLock;

/// The logical CPUs this process may use (at least 1).
///
/// This is what `worker_count = "auto"` and the script's `cpu_count()`
/// mean. Where the OS has a per-process affinity mask (Linux
/// `sched_getaffinity`, also limited by a cgroup CPU quota) it is honoured,
/// through [`std::thread::available_parallelism`]; where that cannot tell,
/// `num_cpus` counts the machine's logical CPUs.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or_else(|_| num_cpus::get())
        .max(1)
}

/// The cache line size the OS reports, if it reports a sane one (a power of
/// two from 16 to 1024). Read once per process.
pub(super) fn cache_line_size() -> Option<usize> {
    static DETECTED: OnceLock<Option<usize>> = OnceLock::new();
    *DETECTED.get_or_init(read_cache_line_size)
}

#[cfg(target_os = "linux")]
fn read_cache_line_size() -> Option<usize> {
    // index0 is normally the L1 data cache; the others share its line size
    // on every CPU we know of, but look at them if index0 is missing.
    (0..4).find_map(|index| {
        let path = format!("/sys/devices/system/cpu/cpu0/cache/index{index}/coherency_line_size");
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| parse_line_size(&text))
    })
}

#[cfg(not(target_os = "linux"))]
fn read_cache_line_size() -> Option<usize> {
    None
}

/// Parses the contents of a `coherency_line_size` file; `None` unless it is
/// a power of two from 16 to 1024.
pub(super) fn parse_line_size(text: &str) -> Option<usize> {
    let n: usize = text.trim().parse().ok()?;
    (n.is_power_of_two() && (16..=1024).contains(&n)).then_some(n)
}

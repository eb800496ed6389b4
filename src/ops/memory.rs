//! Allocation checks: a value too big for the machine is a catchable
//! `MemoryError` before anything is allocated, never a kill.
//!
//! `Vec::try_reserve` alone is not enough on Linux: the allocator may
//! reserve address space without backing it (mimalloc maps with
//! `MAP_NORESERVE`, and `vm.overcommit_memory = 1` accepts any size), so a
//! reservation of a terabyte succeeds and the process is killed by the OOM
//! killer while it fills the pages. So every builder whose size a script
//! controls (`"a" * n`, `[x] * n`, `list(range(n))`, `range(n).map(f)`,
//! `join`, `format` widths, `+`, growing a list or string...) asks [`check`]
//! first. A request of [`CHECK_FROM`] bytes or more is compared with the
//! memory the process can still get: the smallest of
//! - `MemAvailable + SwapFree` from `/proc/meminfo`,
//! - the room left under the process's cgroup memory limits (v2
//!   `memory.max`, or v1 `memory.limit_in_bytes`, up the hierarchy).
//!
//! A request larger than that is a `MemoryError` naming both sizes. Smaller
//! requests (and every request on systems without `/proc`) only go through
//! `try_reserve`, whose failure is a `MemoryError` too. A count whose byte
//! size does not even fit the address space is an `OverflowError`, as in
//! Python (`[0] * 2**62`).
//!
//! Limits of this check: it looks at one allocation at a time. Many
//! allocations that each fit can still exhaust memory together (as in any
//! language); and memory taken by other processes after the check is not
//! seen.

use crate::error::{Error, ErrorKind, Result};
use crate::value::{ListMut, Str, StrBuilder, StrMut, Value};

/// Requests below this size are not checked against the system's free
/// memory: reading `/proc` would cost more than the allocation, and a
/// single such request cannot take a machine down.
pub(crate) const CHECK_FROM: usize = 64 << 20;

/// Checks that `bytes` can be allocated; `what` describes the request for
/// the error message (e.g. "a string of 10 bytes").
#[inline]
pub(crate) fn check(bytes: usize, what: impl FnOnce() -> String) -> Result<()> {
    if bytes < CHECK_FROM {
        return Ok(());
    }
    check_slow(bytes, what())
}

#[cold]
#[inline(never)]
fn check_slow(bytes: usize, what: String) -> Result<()> {
    if bytes > isize::MAX as usize {
        return Err(too_big(&what));
    }
    match available() {
        Some(avail) if bytes as u64 > avail => Err(Error::new(
            ErrorKind::MemoryError,
            format!(
                "cannot allocate {} for {what}: only {} of memory is available",
                human(bytes as u64),
                human(avail)
            ),
        )),
        _ => Ok(()),
    }
}

/// The byte size of `n` items of `T`, or an `OverflowError` if it does not
/// fit the address space.
#[inline]
pub(crate) fn items_bytes<T>(n: usize) -> Result<usize> {
    n.checked_mul(std::mem::size_of::<T>())
        .filter(|b| *b <= isize::MAX as usize)
        .ok_or_else(|| too_big(&format!("{n} items")))
}

/// A vector with room for exactly `n` items.
pub(crate) fn vec_with_room<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    reserve_exact(&mut v, n)?;
    Ok(v)
}

/// A string builder with room for exactly `n` bytes (one allocation, the
/// final one: the built string is not copied again).
pub(crate) fn str_builder(n: usize) -> Result<StrBuilder> {
    check(n, || format!("a string of {n} bytes"))?;
    StrBuilder::try_with_capacity(n).map_err(|_| failed(n))
}

/// `x + y` for strings, in one allocation.
pub(crate) fn concat(x: &Str, y: &Str) -> Result<Str> {
    let n = x.len().saturating_add(y.len());
    check(n, || format!("a string of {n} bytes"))?;
    Str::try_concat(x, y).map_err(|_| failed(n))
}

/// Makes room in `v` for exactly `additional` more items.
pub(crate) fn reserve_exact<T>(v: &mut Vec<T>, additional: usize) -> Result<()> {
    if v.capacity() - v.len() >= additional {
        return Ok(());
    }
    let total = v
        .len()
        .checked_add(additional)
        .ok_or_else(|| too_big("a list"))?;
    let bytes = items_bytes::<T>(total)?;
    check(bytes, || format!("{total} items"))?;
    v.try_reserve_exact(additional).map_err(|_| failed(bytes))
}

/// Makes room in `v` for `additional` more items, growing it the usual way
/// (doubling) when that fits, else by exactly what is needed. For appends
/// in a loop (`xs.push(x)`, `xs += ys`): the check runs only when the
/// vector must grow.
#[inline]
pub(crate) fn reserve<T>(v: &mut Vec<T>, additional: usize) -> Result<()> {
    if v.capacity() - v.len() >= additional {
        return Ok(());
    }
    grow(v, additional)
}

#[cold]
fn grow<T>(v: &mut Vec<T>, additional: usize) -> Result<()> {
    let needed = v
        .len()
        .checked_add(additional)
        .ok_or_else(|| too_big("a list"))?;
    let doubled = needed.max(v.capacity().saturating_mul(2));
    if items_bytes::<T>(doubled).is_ok_and(|b| check(b, String::new).is_ok())
        && v.try_reserve(additional).is_ok()
    {
        return Ok(());
    }
    reserve_exact(v, additional)
}

/// [`reserve`] for a list payload: room for `additional` more items in a
/// uniquely held [`ListMut`], checked the same way.
#[inline]
pub(crate) fn reserve_list(v: &mut ListMut, additional: usize) -> Result<()> {
    if v.capacity() - v.len() >= additional {
        return Ok(());
    }
    grow_list(v, additional)
}

#[cold]
fn grow_list(v: &mut ListMut, additional: usize) -> Result<()> {
    let needed = v
        .len()
        .checked_add(additional)
        .ok_or_else(|| too_big("a list"))?;
    let doubled = needed.max(v.capacity().saturating_mul(2));
    if items_bytes::<Value>(doubled).is_ok_and(|b| check(b, String::new).is_ok())
        && v.try_reserve(additional).is_ok()
    {
        return Ok(());
    }
    let bytes = items_bytes::<Value>(needed)?;
    check(bytes, || format!("{needed} items"))?;
    v.try_reserve_exact(additional).map_err(|_| failed(bytes))
}

/// [`reserve`] for a string payload: room for `additional` more bytes in
/// a uniquely held [`StrMut`], checked the same way.
#[inline]
pub(crate) fn reserve_string(s: &mut StrMut, additional: usize) -> Result<()> {
    if s.capacity() - s.len() >= additional && s.capacity() > 0 {
        return Ok(());
    }
    grow_string(s, additional)
}

#[cold]
fn grow_string(s: &mut StrMut, additional: usize) -> Result<()> {
    let needed = s
        .len()
        .checked_add(additional)
        .ok_or_else(|| too_big("a string"))?;
    let doubled = needed.max(s.capacity().saturating_mul(2));
    if check(doubled, String::new).is_ok() && s.try_reserve(additional).is_ok() {
        return Ok(());
    }
    check(needed, || format!("a string of {needed} bytes"))?;
    s.try_reserve_exact(additional).map_err(|_| failed(needed))
}

#[cold]
fn too_big(what: &str) -> Error {
    Error::new(
        ErrorKind::OverflowError,
        format!("cannot allocate {what}: more than the address space"),
    )
}

#[cold]
fn failed(bytes: usize) -> Error {
    Error::new(
        ErrorKind::MemoryError,
        format!("cannot allocate {}: out of memory", human(bytes as u64)),
    )
}

/// `1.5 GB`, `16.0 TB` (powers of 1024, as `free -h` shows them).
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["bytes", "KB", "MB", "GB", "TB", "PB"];
    let mut x = bytes as f64;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{x:.1} {}", UNITS[unit])
    }
}

/// The bytes this process can still allocate, as far as the system says:
/// `None` if it says nothing (no `/proc`).
fn available() -> Option<u64> {
    [meminfo(), cgroup_room(), address_space_room()]
        .into_iter()
        .flatten()
        .min()
}

/// The room left under the address-space limit (`ulimit -v`,
/// `RLIMIT_AS`): half of the limit minus the process's current virtual
/// size, because the allocator maps more than it is asked for (its
/// segments are aligned) and a growing buffer is copied into a new one
/// before the old one is freed. `None` when there is no limit. (Past it an
/// allocation fails outright, and Rust aborts the process on a failed
/// allocation it did not ask to be told about.)
fn address_space_room() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit` only writes the `rlimit` it is given, which is a
    // valid, exclusively borrowed local.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let size_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(lim.rlim_cur.saturating_sub(size_kb.saturating_mul(1024)) / 2)
}

/// `MemAvailable + SwapFree` (or, on kernels before 3.14, `MemFree +
/// Cached`), in bytes.
fn meminfo() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb.saturating_mul(1024))
    };
    let avail = field("MemAvailable")
        .or_else(|| Some(field("MemFree")?.saturating_add(field("Cached").unwrap_or(0))))?;
    Some(avail.saturating_add(field("SwapFree").unwrap_or(0)))
}

/// The room left under this process's cgroup memory limits: for each
/// cgroup from the process's own up to the root, `limit - usage`; the
/// smallest. `None` when no limit is set or readable.
fn cgroup_room() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read =
        |path: &str| -> Option<u64> { std::fs::read_to_string(path).ok()?.trim().parse().ok() };
    let mut room: Option<u64> = None;
    let mut note = |limit: Option<u64>, usage: Option<u64>| {
        if let (Some(limit), Some(usage)) = (limit, usage) {
            let left = limit.saturating_sub(usage);
            room = Some(room.map_or(left, |r| r.min(left)));
        }
    };
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let (root, limit_file, usage_file) = if controllers.is_empty() {
            ("/sys/fs/cgroup", "memory.max", "memory.current")
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                "/sys/fs/cgroup/memory",
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        } else {
            continue;
        };
        // The process's group and each parent up to the root (inside a
        // container the path may not exist; the root then stands for it).
        let mut dir = path.trim_end_matches('/').to_string();
        loop {
            let base = format!("{root}{dir}");
            // v2 writes "max" for no limit, which does not parse: skipped.
            note(
                read(&format!("{base}/{limit_file}")),
                read(&format!("{base}/{usage_file}")),
            );
            match dir.rfind('/') {
                Some(i) => dir.truncate(i),
                None => break,
            }
        }
    }
    room
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn small_requests_are_not_checked() {
        assert!(check(CHECK_FROM - 1, || unreachable!("not described")).is_ok());
    }

    #[test]
    fn impossible_requests_fail_before_allocating() {
        // A petabyte: more than any test machine has, so the check fails
        // without a byte being allocated.
        let e = check(1 << 50, || "a test".into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MemoryError, "{e}");
        assert!(e.message().contains("1.0 PB for a test"), "{e}");
        let e = vec_with_room::<u64>(1 << 50).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MemoryError, "{e}");
        let Err(e) = str_builder(1 << 50) else {
            panic!("a petabyte string builder")
        };
        assert_eq!(e.kind(), ErrorKind::MemoryError, "{e}");
    }

    #[test]
    fn sizes_beyond_the_address_space_are_overflow_errors() {
        let e = items_bytes::<u64>(usize::MAX / 4).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OverflowError, "{e}");
        let e = check(usize::MAX, || "a test".into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OverflowError, "{e}");
    }

    #[test]
    fn growth_fails_cleanly_and_keeps_the_contents() {
        let mut v = vec![1u8, 2, 3];
        assert!(reserve(&mut v, 1 << 50).is_err());
        assert_eq!(v, [1, 2, 3]);
        reserve(&mut v, 10).unwrap();
        assert!(v.capacity() >= 13);
    }

    #[test]
    fn payload_growth_fails_cleanly_and_keeps_the_contents() {
        let mut xs = crate::value::List::from(vec![Value::Int(1), Value::Int(2)]);
        let v = xs.make_mut();
        let e = reserve_list(v, 1 << 50).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MemoryError, "{e}");
        assert_eq!(v.len(), 2);
        reserve_list(v, 10).unwrap();
        assert!(v.capacity() >= 12);
        let e = reserve_list(v, usize::MAX).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OverflowError, "{e}");
        let mut s = crate::value::Str::new("abc");
        let m = s.make_mut();
        let e = reserve_string(m, 1 << 50).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MemoryError, "{e}");
        reserve_string(m, 10).unwrap();
        assert!(m.capacity() >= 13);
        assert_eq!(m.as_str(), "abc");
        let mut empty = crate::value::Str::new("");
        reserve_string(empty.make_mut(), 5).unwrap();
        empty.make_mut().push_str("hello");
        assert_eq!(empty.as_str(), "hello");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(1536), "1.5 KB");
        assert_eq!(human(1 << 40), "1.0 TB");
    }

    #[test]
    fn the_system_reports_some_memory_on_linux() {
        if cfg!(target_os = "linux") {
            let avail = available().expect("/proc/meminfo is readable");
            assert!(avail > 0);
        }
    }
}

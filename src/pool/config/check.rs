//! Checking one key's value, whatever layer it came from: the allowed types
//! and ranges of CONFIG.md live here and nowhere else.

use super::error::ConfigErrorKind;
use super::key::{ConfigKey, Source};
use super::{ThreadPoolConfig, WorkerCount};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// A value before checking, as a file, variable, flag or setter gave it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Raw {
    Int(i64),
    Bool(bool),
    Str(String),
    /// A TOML value of another type (float, datetime, array, table); the
    /// string names the type with its article, e.g. `a float`.
    Other(&'static str),
}

impl Raw {
    fn type_name(&self) -> &'static str {
        match self {
            Raw::Int(_) => "an integer",
            Raw::Bool(_) => "a boolean",
            Raw::Str(_) => "a string",
            Raw::Other(name) => name,
        }
    }
}

/// What is wrong with a value; the layer that found it says where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// The allowed range, e.g. `1 to 1024`.
    OutOfRange(&'static str),
    /// A whole predicate, e.g. `is not a power of two (...)`.
    Invalid(String),
}

impl Problem {
    pub(super) fn kind(&self) -> ConfigErrorKind {
        match self {
            Problem::WrongType { .. } => ConfigErrorKind::WrongType,
            Problem::OutOfRange(_) => ConfigErrorKind::OutOfRange,
            Problem::Invalid(_) => ConfigErrorKind::InvalidValue,
        }
    }

    /// The predicate that follows the value in a message.
    pub(super) fn describe(&self) -> String {
        match self {
            Problem::WrongType { expected, found } => {
                format!("has the wrong type: expected {expected}, found {found}")
            }
            Problem::OutOfRange(range) => format!("is out of range ({range})"),
            Problem::Invalid(text) => text.clone(),
        }
    }
}

pub(super) const WORKERS_EXPECTED: &str = "an integer from 1 to 1024 or \"auto\"";
const BOOL_EXPECTED: &str = "a boolean (true or false)";
const INT_EXPECTED: &str = "an integer";
const SIZE_EXPECTED: &str = "a size like \"16MiB\" or an integer number of bytes";
const SIZE_FORMS: &str =
    "expected an integer number of bytes, or one with a unit B, KiB, MiB or GiB, e.g. \"16MiB\"";

/// Checks `raw` for `key` and, if it is good, stores it in `config` with
/// `source`. A bad value leaves `config` unchanged.
pub(super) fn apply(
    config: &mut ThreadPoolConfig,
    key: ConfigKey,
    raw: &Raw,
    source: Source,
) -> Result<(), Problem> {
    match key {
        ConfigKey::WorkerCount => config.worker_count = check_workers(raw)?,
        ConfigKey::NumaAware => config.numa_aware = check_bool(raw)?,
        ConfigKey::WorkStealing => config.work_stealing = check_bool(raw)?,
        ConfigKey::CacheLineSize => config.cache_line_size = check_cache_line(raw)?,
        ConfigKey::MaxBatchSize => {
            config.max_batch_size =
                check_int(raw, 1, ThreadPoolConfig::MAX_BATCH_SIZE, "1 to 1000000")?
        }
        ConfigKey::SpinBeforeParkUs => {
            config.spin_before_park_us = check_int(
                raw,
                0,
                ThreadPoolConfig::MAX_SPIN_BEFORE_PARK_US as usize,
                "0 to 10000",
            )? as u64
        }
        ConfigKey::StackSize => config.stack_size = check_stack_size(raw)?,
        ConfigKey::MaxSpareWorkers => {
            config.max_spare_workers =
                check_int(raw, 0, ThreadPoolConfig::MAX_SPARE_WORKERS, "0 to 1024")?
        }
        ConfigKey::TimeSliceMs => {
            config.time_slice_ms = check_int(
                raw,
                ThreadPoolConfig::MIN_TIME_SLICE_MS as usize,
                ThreadPoolConfig::MAX_TIME_SLICE_MS as usize,
                "1 to 10000",
            )? as u64
        }
    }
    config.sources[key.index()] = source;
    Ok(())
}

/// The value `config` holds for `key`, as it would be written in a file.
pub(super) fn current(config: &ThreadPoolConfig, key: ConfigKey) -> Raw {
    fn int(n: usize) -> Raw {
        Raw::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
    match key {
        ConfigKey::WorkerCount => match config.worker_count {
            WorkerCount::Auto => Raw::Str("auto".to_string()),
            WorkerCount::Fixed(n) => int(n),
        },
        ConfigKey::NumaAware => Raw::Bool(config.numa_aware),
        ConfigKey::WorkStealing => Raw::Bool(config.work_stealing),
        ConfigKey::CacheLineSize => int(config.cache_line_size),
        ConfigKey::MaxBatchSize => int(config.max_batch_size),
        ConfigKey::SpinBeforeParkUs => {
            Raw::Int(i64::try_from(config.spin_before_park_us).unwrap_or(i64::MAX))
        }
        ConfigKey::StackSize => int(config.stack_size),
        ConfigKey::MaxSpareWorkers => int(config.max_spare_workers),
        ConfigKey::TimeSliceMs => Raw::Int(i64::try_from(config.time_slice_ms).unwrap_or(i64::MAX)),
    }
}

fn check_workers(raw: &Raw) -> Result<WorkerCount, Problem> {
    match raw {
        Raw::Str(s) if s == "auto" => Ok(WorkerCount::Auto),
        Raw::Str(_) => Err(Problem::Invalid(format!(
            "is not a worker count (expected {WORKERS_EXPECTED})"
        ))),
        Raw::Int(_) => {
            let n = check_int(raw, 1, ThreadPoolConfig::MAX_WORKERS, "1 to 1024")?;
            Ok(WorkerCount::Fixed(n))
        }
        _ => Err(Problem::WrongType {
            expected: WORKERS_EXPECTED,
            found: raw.type_name(),
        }),
    }
}

fn check_bool(raw: &Raw) -> Result<bool, Problem> {
    match raw {
        Raw::Bool(b) => Ok(*b),
        _ => Err(Problem::WrongType {
            expected: BOOL_EXPECTED,
            found: raw.type_name(),
        }),
    }
}

fn check_int(raw: &Raw, min: usize, max: usize, range: &'static str) -> Result<usize, Problem> {
    match raw {
        Raw::Int(n) => match usize::try_from(*n) {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(Problem::OutOfRange(range)),
        },
        _ => Err(Problem::WrongType {
            expected: INT_EXPECTED,
            found: raw.type_name(),
        }),
    }
}

fn check_cache_line(raw: &Raw) -> Result<usize, Problem> {
    const RANGE: &str = "a power of two from 16 to 1024";
    let n = check_int(
        raw,
        ThreadPoolConfig::MIN_CACHE_LINE_SIZE,
        ThreadPoolConfig::MAX_CACHE_LINE_SIZE,
        RANGE,
    )?;
    if n.is_power_of_two() {
        Ok(n)
    } else {
        Err(Problem::Invalid(format!(
            "is not a power of two (expected {RANGE})"
        )))
    }
}

fn check_stack_size(raw: &Raw) -> Result<usize, Problem> {
    const RANGE: &str = "256KiB to 1GiB";
    let bytes = match raw {
        Raw::Int(n) => u64::try_from(*n).map_err(|_| Problem::OutOfRange(RANGE))?,
        Raw::Str(s) => parse_size(s)?.ok_or(Problem::OutOfRange(RANGE))?,
        _ => {
            return Err(Problem::WrongType {
                expected: SIZE_EXPECTED,
                found: raw.type_name(),
            })
        }
    };
    let min = ThreadPoolConfig::MIN_STACK_SIZE as u64;
    let max = ThreadPoolConfig::MAX_STACK_SIZE as u64;
    if (min..=max).contains(&bytes) {
        // At most 1GiB, so it fits a usize on every supported target.
        usize::try_from(bytes).map_err(|_| Problem::OutOfRange(RANGE))
    } else {
        Err(Problem::OutOfRange(RANGE))
    }
}

/// Parses a size: an integer number of bytes, optionally followed (after
/// optional spaces) by `B`, `KiB`, `MiB` or `GiB`, units in any letter case.
/// Decimal units (`KB`, `MB`, `GB`, `K`, `M`, `G`) are refused as ambiguous
/// rather than guessed. `Ok(None)` is a well-formed size too large for a
/// `u64`.
pub(super) fn parse_size(text: &str) -> Result<Option<u64>, Problem> {
    let not_a_size = || Problem::Invalid(format!("is not a size ({SIZE_FORMS})"));
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(not_a_size());
    }
    let unit = rest.trim_start_matches([' ', '\t']);
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => KIB,
        "mib" => MIB,
        "gib" => GIB,
        "k" | "kb" | "m" | "mb" | "g" | "gb" => {
            let binary = format!("{}iB", unit[..1].to_ascii_uppercase());
            return Err(Problem::Invalid(format!(
                "is ambiguous: write \"{digits}{binary}\" (units are B, KiB, MiB and GiB, \
                 powers of 1024)"
            )));
        }
        _ => return Err(not_a_size()),
    };
    match digits.parse::<u64>() {
        Ok(n) => Ok(n.checked_mul(scale)),
        // Only digits, so the one way to fail is overflow.
        Err(_) => Ok(None),
    }
}

/// Formats a number of bytes in the largest binary unit that divides it
/// exactly, e.g. `16MiB`, `300KiB`, `262145B`; `parse_size` reads it back.
pub(super) fn format_size(bytes: u64) -> String {
    match bytes {
        0 => "0B".to_string(),
        b if b % GIB == 0 => format!("{}GiB", b / GIB),
        b if b % MIB == 0 => format!("{}MiB", b / MIB),
        b if b % KIB == 0 => format!("{}KiB", b / KIB),
        b => format!("{b}B"),
    }
}

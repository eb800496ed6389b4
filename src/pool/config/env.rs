//! The environment-variable and command-line layers: values given as text.

use super::check::{self, Problem, Raw, WORKERS_EXPECTED};
use super::error::{ConfigError, Origin};
use super::key::{ConfigKey, Source};
use super::ThreadPoolConfig;

/// The variable naming a config file (the file layer, not this one).
pub(super) const CONFIG_VAR: &str = "WEFT_CONFIG";

const BOOL_WORDS: &str = "expected true or false, 1 or 0, yes or no, on or off";

impl ThreadPoolConfig {
    /// Overlays this config with the process's environment variables
    /// `WEFT_WORKERS`, `WEFT_NUMA_AWARE`, `WEFT_WORK_STEALING`,
    /// `WEFT_CACHE_LINE_SIZE` and `WEFT_MAX_BATCH_SIZE`, key by key; unset
    /// variables change nothing. See [`with_env_from`](Self::with_env_from)
    /// for the accepted values.
    pub fn with_env(self) -> Result<ThreadPoolConfig, ConfigError> {
        let vars = process_env()?;
        self.with_env_from(vars)
    }

    /// Like [`with_env`](Self::with_env), reading `(name, value)` pairs
    /// instead of the process's environment; other names are skipped, and
    /// of a name given twice the last value counts.
    ///
    /// `WEFT_WORKERS` is an integer from 1 to 1,024 or `auto`; the two
    /// switches take `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off` (any
    /// letter case); the sizes are decimal integers. An empty or bad value is
    /// an error naming the variable and its value, never ignored.
    ///
    /// ```
    /// use weft::pool::{ThreadPoolConfig, WorkerCount};
    /// let config = ThreadPoolConfig::default()
    ///     .with_env_from([("WEFT_WORKERS", "3"), ("WEFT_NUMA_AWARE", "yes")])
    ///     .unwrap();
    /// assert_eq!(config.worker_count(), WorkerCount::Fixed(3));
    /// assert!(config.numa_aware());
    /// let err = ThreadPoolConfig::default().with_env_from([("WEFT_WORKERS", "lots")]).unwrap_err();
    /// assert_eq!(err.env_var(), Some("WEFT_WORKERS"));
    /// ```
    pub fn with_env_from<I, K, V>(mut self, vars: I) -> Result<ThreadPoolConfig, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut given: [Option<String>; ConfigKey::ALL.len()] = Default::default();
        for (name, value) in vars {
            if let Some(key) = ConfigKey::ALL
                .into_iter()
                .find(|k| k.env_var() == Some(name.as_ref()))
            {
                given[key.index()] = Some(value.as_ref().to_string());
            }
        }
        for key in ConfigKey::ALL {
            let (Some(var), Some(text)) = (key.env_var(), &given[key.index()]) else {
                continue;
            };
            let result = raw_from_text(key, text)
                .and_then(|raw| check::apply(&mut self, key, &raw, Source::Env(var)));
            if let Err(problem) = result {
                return Err(ConfigError::new(
                    problem.kind(),
                    Origin::Env(var.to_string()),
                    Some(key.name().to_string()),
                    format!("environment variable {var}={text:?} {}", problem.describe()),
                ));
            }
        }
        Ok(self)
    }

    /// Applies `--workers TEXT` (an integer from 1 to 1,024 or `auto`).
    pub(super) fn apply_workers_flag(&mut self, text: &str) -> Result<(), ConfigError> {
        const FLAG: &str = "--workers";
        let key = ConfigKey::WorkerCount;
        let result = raw_from_text(key, text)
            .and_then(|raw| check::apply(self, key, &raw, Source::Flag(FLAG)));
        result.map_err(|problem| {
            let shown = if text.is_empty() || text.contains(char::is_whitespace) {
                format!("{text:?}")
            } else {
                text.to_string()
            };
            ConfigError::new(
                problem.kind(),
                Origin::Flag(FLAG),
                Some(key.name().to_string()),
                format!("{FLAG} {shown} {}", problem.describe()),
            )
        })
    }

    /// Applies `--no-pin`: no NUMA-aware pinning.
    pub(super) fn apply_no_pin_flag(&mut self) {
        self.numa_aware = false;
        self.sources[ConfigKey::NumaAware.index()] = Source::Flag("--no-pin");
    }
}

/// The process's values of the variables Weft reads (`WEFT_CONFIG` and the
/// five config variables). A value that is not UTF-8 is an error.
pub(super) fn process_env() -> Result<Vec<(String, String)>, ConfigError> {
    let names = std::iter::once(CONFIG_VAR)
        .chain(ConfigKey::ALL.into_iter().filter_map(ConfigKey::env_var));
    let mut vars = Vec::new();
    for name in names {
        let Some(value) = std::env::var_os(name) else {
            continue;
        };
        match value.into_string() {
            Ok(value) => vars.push((name.to_string(), value)),
            Err(value) => {
                return Err(ConfigError::new(
                    super::ConfigErrorKind::InvalidValue,
                    Origin::Env(name.to_string()),
                    None,
                    format!("environment variable {name}={value:?} is not valid UTF-8"),
                ))
            }
        }
    }
    Ok(vars)
}

/// Reads a variable's or flag's text as the kind of value `key` takes.
fn raw_from_text(key: ConfigKey, text: &str) -> Result<Raw, Problem> {
    if text.is_empty() {
        return Err(Problem::Invalid(
            "is empty (unset it to use the default)".to_string(),
        ));
    }
    match key {
        ConfigKey::WorkerCount if text == "auto" => Ok(Raw::Str(text.to_string())),
        ConfigKey::WorkerCount => parse_int(text).map(Raw::Int).ok_or_else(|| {
            Problem::Invalid(format!(
                "is not a worker count (expected {WORKERS_EXPECTED})"
            ))
        }),
        ConfigKey::NumaAware | ConfigKey::WorkStealing => parse_bool(text)
            .map(Raw::Bool)
            .ok_or_else(|| Problem::Invalid(format!("is not a boolean ({BOOL_WORDS})"))),
        ConfigKey::StackSize => Ok(Raw::Str(text.to_string())),
        ConfigKey::CacheLineSize
        | ConfigKey::MaxBatchSize
        | ConfigKey::SpinBeforeParkUs
        | ConfigKey::MaxSpareWorkers
        | ConfigKey::TimeSliceMs => parse_int(text)
            .map(Raw::Int)
            .ok_or_else(|| Problem::Invalid("is not an integer".to_string())),
    }
}

/// A decimal integer with an optional sign; one too big for an `i64`
/// saturates, so that the range check reports it as out of range.
fn parse_int(text: &str) -> Option<i64> {
    use std::num::IntErrorKind;
    match text.parse::<i64>() {
        Ok(n) => Some(n),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => Some(i64::MAX),
        Err(e) if *e.kind() == IntErrorKind::NegOverflow => Some(i64::MIN),
        Err(_) => None,
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

//! The config-file layer: a TOML document with one `[thread_pool]` table.
//!
//! `toml::Table` keeps no positions, so the document is read three times,
//! all by the `toml` crate: once as a table for the values (and syntax
//! errors), once for the positions of the top-level keys, and once for the
//! positions of the keys inside `[thread_pool]` (`toml::Spanned` keys). The
//! files are a few lines long.

use super::check::{self, Raw};
use super::error::{ConfigError, ConfigErrorKind, Origin};
use super::key::{ConfigKey, Source};
use super::ThreadPoolConfig;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// The one table a config file may have.
const TABLE: &str = "thread_pool";

/// The name `from_toml_str` gives the text in messages.
const STRING_NAME: &str = "<string>";

/// Key names with their positions, values skipped.
type KeySpans = BTreeMap<Spanned<String>, IgnoredAny>;

#[derive(Deserialize)]
struct PoolKeySpans {
    thread_pool: KeySpans,
}

impl ThreadPoolConfig {
    /// The defaults overlaid with a TOML document (CONFIG.md's `weft.toml`
    /// format). Errors name the text `<string>`; see
    /// [`from_toml_str_named`](Self::from_toml_str_named).
    ///
    /// ```
    /// use weft::pool::{ThreadPoolConfig, WorkerCount};
    /// let config = ThreadPoolConfig::from_toml_str("[thread_pool]\nworker_count = 4\n").unwrap();
    /// assert_eq!(config.worker_count(), WorkerCount::Fixed(4));
    /// let err = ThreadPoolConfig::from_toml_str("[thread_pool]\nworker_count = 0\n").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "<string>:2:1: error: [thread_pool] worker_count = 0 is out of range (1 to 1024)"
    /// );
    /// ```
    pub fn from_toml_str(text: &str) -> Result<ThreadPoolConfig, ConfigError> {
        ThreadPoolConfig::from_toml_str_named(text, STRING_NAME)
    }

    /// Like [`from_toml_str`](Self::from_toml_str), with `name` (usually
    /// the file's path) in error messages and in each key's
    /// [`Source::File`].
    pub fn from_toml_str_named(
        text: &str,
        name: impl AsRef<Path>,
    ) -> Result<ThreadPoolConfig, ConfigError> {
        let mut config = ThreadPoolConfig::default();
        config.apply_toml(text, name.as_ref())?;
        Ok(config)
    }

    /// The defaults overlaid with the TOML file at `path`. A file that is
    /// missing or unreadable is an error ([`ConfigErrorKind::Io`]) naming
    /// it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ThreadPoolConfig, ConfigError> {
        let path = path.as_ref();
        let text = read_config_file(path, path, true, None)?.unwrap_or_default();
        ThreadPoolConfig::from_toml_str_named(&text, path)
    }

    /// Overlays this config with the TOML document `text`, key by key. On an
    /// error `self` may be partly changed; callers drop it.
    pub(super) fn apply_toml(&mut self, text: &str, name: &Path) -> Result<(), ConfigError> {
        let at = |span: Option<Range<usize>>| Origin::File {
            path: name.to_path_buf(),
            pos: span.map(|s| line_col(text, s.start)),
        };
        let syntax = |e: toml::de::Error| {
            let message = format!("invalid TOML: {}", one_line(e.message()));
            ConfigError::new(ConfigErrorKind::Syntax, at(e.span()), None, message)
        };
        let table: toml::Table = toml::from_str(text).map_err(syntax)?;
        let top: KeySpans = toml::from_str(text).map_err(syntax)?;

        // The first mistake in the file wins, wherever it is found.
        let mut errors: Vec<(usize, ConfigError)> = Vec::new();
        let mut error = |span: Range<usize>, kind, key: &str, message: String| {
            errors.push((
                span.start,
                ConfigError::new(kind, at(Some(span)), Some(key.to_string()), message),
            ));
        };

        for name_spanned in sorted_by_position(top.into_keys()) {
            let span = name_spanned.span();
            let key = name_spanned.get_ref().as_str();
            let Some(value) = table.get(key) else {
                continue;
            };
            if key == TABLE {
                if !value.is_table() {
                    let message = format!(
                        "'{TABLE}' must be a table ([{TABLE}]), found {}",
                        article(value.type_str())
                    );
                    error(span, ConfigErrorKind::WrongType, key, message);
                }
            } else if value.is_table() {
                let hint = match suggest(key, [TABLE]) {
                    Some(best) => format!("; did you mean [{best}]?"),
                    None => format!(" (the only table is [{TABLE}])"),
                };
                error(
                    span,
                    ConfigErrorKind::UnknownTable,
                    key,
                    format!("unknown table [{key}]{hint}"),
                );
            } else if ConfigKey::from_name(key).is_some() {
                let message = format!("key '{key}' must be inside the [{TABLE}] table");
                error(span, ConfigErrorKind::UnknownKey, key, message);
            } else {
                let hint = match suggest(key, [TABLE]) {
                    Some(best) => format!("; did you mean [{best}]?"),
                    None => format!(" (settings go in the [{TABLE}] table)"),
                };
                error(
                    span,
                    ConfigErrorKind::UnknownKey,
                    key,
                    format!("unknown key '{key}' at top level{hint}"),
                );
            }
        }

        if let Some(toml::Value::Table(pool)) = table.get(TABLE) {
            let keys = toml::from_str::<PoolKeySpans>(text)
                .map_err(syntax)?
                .thread_pool;
            for name_spanned in sorted_by_position(keys.into_keys()) {
                let span = name_spanned.span();
                let key = name_spanned.get_ref().as_str();
                let Some(value) = pool.get(key) else { continue };
                let Some(config_key) = ConfigKey::from_name(key) else {
                    let hint = match suggest_pool_key(key) {
                        Some(best) => format!("; did you mean '{best}'?"),
                        None => format!(
                            " (known keys: {})",
                            ConfigKey::ALL.map(ConfigKey::name).join(", ")
                        ),
                    };
                    error(
                        span,
                        ConfigErrorKind::UnknownKey,
                        key,
                        format!("unknown key '{key}' in [{TABLE}]{hint}"),
                    );
                    continue;
                };
                let raw = raw_of(value);
                if let Err(problem) =
                    check::apply(self, config_key, &raw, Source::File(name.to_path_buf()))
                {
                    let message = format!(
                        "[{TABLE}] {key} = {} {}",
                        show_value(value),
                        problem.describe()
                    );
                    error(span, problem.kind(), key, message);
                }
            }
        }

        match errors.into_iter().min_by_key(|(start, _)| *start) {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }
}

/// Reads a config file. `read` is where it is, `shown` how messages name
/// it, `via` the flag or variable that named it, if one did. A missing file
/// is `Ok(None)` unless `required`.
pub(super) fn read_config_file(
    read: &Path,
    shown: &Path,
    required: bool,
    via: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(read) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !required => Ok(None),
        Err(e) => {
            let given = via.map(|v| format!(" (given by {v})")).unwrap_or_default();
            Err(ConfigError::new(
                ConfigErrorKind::Io,
                Origin::File {
                    path: shown.to_path_buf(),
                    pos: None,
                },
                None,
                format!("cannot read config file{given}: {e}"),
            ))
        }
    }
}

fn sorted_by_position(keys: impl Iterator<Item = Spanned<String>>) -> Vec<Spanned<String>> {
    let mut keys: Vec<_> = keys.collect();
    keys.sort_by_key(|k| k.span().start);
    keys
}

fn raw_of(value: &toml::Value) -> Raw {
    match value {
        toml::Value::Integer(n) => Raw::Int(*n),
        toml::Value::Boolean(b) => Raw::Bool(*b),
        toml::Value::String(s) => Raw::Str(s.clone()),
        other => Raw::Other(article(other.type_str())),
    }
}

/// "a float", "an array", ...: how messages name a TOML type they found.
fn article(type_name: &str) -> &'static str {
    match type_name {
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "string" => "a string",
        "datetime" => "a datetime",
        "array" => "an array",
        "table" => "a table",
        _ => "another type",
    }
}

/// A value as written in TOML, on one line and at most 40 characters.
fn show_value(value: &toml::Value) -> String {
    let text = match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Datetime(d) => d.to_string(),
        other => one_line(&other.to_string()),
    };
    if text.chars().count() > 40 {
        let cut: String = text.chars().take(37).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn one_line(text: &str) -> String {
    text.trim()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The 1-based line and column (in characters) of byte `offset`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

/// The `[thread_pool]` key that `name` was probably meant to be.
fn suggest_pool_key(name: &str) -> Option<&'static str> {
    // Names other pools use for the worker count.
    const WORKER_ALIASES: [&str; 6] = [
        "threads",
        "num_threads",
        "thread_count",
        "workers",
        "num_workers",
        "pool_size",
    ];
    if WORKER_ALIASES.contains(&name.to_ascii_lowercase().as_str()) {
        return Some(ConfigKey::WorkerCount.name());
    }
    suggest(name, ConfigKey::ALL.map(ConfigKey::name))
}

/// The known name closest to `name`, if any is close enough to be a typo.
pub(super) fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| {
            let mut score = strsim::jaro_winkler(&lower, k);
            // `batch_size` for `max_batch_size`, `numa` for `numa_aware`.
            if lower.len() >= 4 && (k.contains(lower.as_str()) || lower.contains(k)) {
                score = score.max(0.9);
            }
            (k, score)
        })
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| k)
}

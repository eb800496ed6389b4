//! `ConfigError`: a bad config file, environment variable, flag or setter
//! value, with a message naming where it is.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of mistake a [`ConfigError`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigErrorKind {
    /// A config file could not be read (missing, unreadable, not UTF-8).
    Io,
    /// A config file is not valid TOML.
    Syntax,
    /// A key the config does not know (in `[thread_pool]` or at top level).
    UnknownKey,
    /// A table other than `[thread_pool]`.
    UnknownTable,
    /// A value of the wrong TOML type, e.g. a string for `numa_aware`.
    WrongType,
    /// A number outside the key's allowed range.
    OutOfRange,
    /// A value of the right type that still means nothing, e.g. an
    /// environment variable `WEFT_NUMA_AWARE=maybe` or `stack_size = "16MB"`.
    InvalidValue,
}

/// Where the bad value was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// A config file, at a position when one is known (1-based line and
    /// column).
    File {
        path: PathBuf,
        pos: Option<(usize, usize)>,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
    /// A builder setter, caught by `validate()`.
    Api,
}

/// A configuration mistake: the pool is never started with it.
///
/// It displays as one line. Errors in a file start with `FILE:LINE:COL:`
/// (or just `FILE:` when no position applies, e.g. the file is missing);
/// the others name the environment variable, flag or key in the message:
///
/// ```text
/// weft.toml:3:1: error: [thread_pool] worker_count = 0 is out of range (1 to 1024)
/// weft.toml:4:1: error: unknown key 'worker_cont' in [thread_pool]; did you mean 'worker_count'?
/// weft.toml:2:14: error: invalid TOML: ...
/// missing.toml: error: cannot read config file: No such file or directory (os error 2)
/// error: environment variable WEFT_NUMA_AWARE="maybe" is not a boolean (expected true or false, 1 or 0, yes or no, on or off)
/// error: --workers 0 is out of range (1 to 1024)
/// error: worker_count = 0 is out of range (1 to 1024)
/// ```
///
/// The command line treats it as a usage error (exit status 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    origin: Origin,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    pub(super) fn new(
        kind: ConfigErrorKind,
        origin: Origin,
        key: Option<String>,
        message: String,
    ) -> ConfigError {
        ConfigError {
            kind,
            origin,
            key,
            message,
        }
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The config file the mistake is in, if it is in one.
    pub fn path(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The 1-based line in the config file, if the mistake is at one.
    pub fn line(&self) -> Option<usize> {
        match self.origin {
            Origin::File {
                pos: Some((line, _)),
                ..
            } => Some(line),
            _ => None,
        }
    }

    /// The 1-based column (in characters) in the config file, if the mistake
    /// is at one.
    pub fn column(&self) -> Option<usize> {
        match self.origin {
            Origin::File {
                pos: Some((_, column)),
                ..
            } => Some(column),
            _ => None,
        }
    }

    /// The key the mistake is about, as written: a known key for a bad
    /// value, the unknown name for an unknown key or table.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The environment variable the mistake is in, if it is in one.
    pub fn env_var(&self) -> Option<&str> {
        match &self.origin {
            Origin::Env(var) => Some(var),
            _ => None,
        }
    }

    /// The command-line flag the mistake is in, if it is in one.
    pub fn flag(&self) -> Option<&str> {
        match self.origin {
            Origin::Flag(flag) => Some(flag),
            _ => None,
        }
    }

    /// The message after `error: `, without the file position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::File {
                path,
                pos: Some((line, column)),
            } => write!(f, "{}:{line}:{column}: ", path.display())?,
            Origin::File { path, pos: None } => write!(f, "{}: ", path.display())?,
            Origin::Env(_) | Origin::Flag(_) | Origin::Api => {}
        }
        write!(f, "error: {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

//! The options map of every parallel call (ASYNC.md, "Options"):
//! `chunk_size`, `progress`, `init`, `errors`, `retries`, and for channel
//! inputs `ordered` and `in_flight`.
//!
//! [`Options::parse`] is the one place that reads and checks them; the MPI
//! module parses its collective calls' options with it too (pass
//! [`InputKind::Indexed`] when the input is not a channel).
//!
//! Errors (DECISIONS where ASYNC.md says only "a ValueError naming it"):
//! - `opts` that is not a map (or `nil`): `TypeError`.
//! - an unknown key: `ValueError` naming it, with the closest known key
//!   ("did you mean") or the list of known keys.
//! - a value of the wrong type (`chunk_size: "2"`, `progress: 1`,
//!   `init: 5`): `TypeError` naming the option, as for any argument of the
//!   wrong type; a value of the right type out of range (`chunk_size: 0`,
//!   `retries: -1`, `errors: "ignore"`): `ValueError` naming the option.
//! - `ordered` or `in_flight` with a list, range or string: `ValueError`
//!   naming the option (they only mean something for a stream).

use crate::error::{Error, Result};
use crate::stdlib::args;
use crate::value::Value;

/// What a call's input is, for the options that only apply to streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A list, range or string: indexable, with a known length.
    Indexed,
    /// A channel: a stream of unknown length.
    Channel,
}

/// What happens when an item throws (`errors`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorMode {
    /// `"throw"`: stop the work, throw the first error in input order.
    #[default]
    Throw,
    /// `"collect"`: every item runs; failures are listed with the results.
    Collect,
}

/// The parsed options of one call. The defaults are those of an absent map.
#[derive(Clone, Debug)]
pub struct Options {
    /// `chunk_size`: a fixed chunk length instead of the automatic choice.
    pub chunk_size: Option<usize>,
    /// `progress`: show a progress bar (or status lines) on stderr.
    pub progress: bool,
    /// `init`: called once per thread that runs items; its result is the
    /// first argument of every call of the function on that thread.
    pub init: Option<Value>,
    /// `errors`.
    pub errors: ErrorMode,
    /// `retries`: extra tries for an item that throws (never `Cancelled`).
    pub retries: u32,
    /// `ordered` (channel inputs): emit results in input order.
    pub ordered: bool,
    /// `in_flight` (channel inputs): the most items taken from the input
    /// and not yet taken from the output; `None`: `4 * worker_count`.
    pub in_flight: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            chunk_size: None,
            progress: false,
            init: None,
            errors: ErrorMode::Throw,
            retries: 0,
            ordered: true,
            in_flight: None,
        }
    }
}

impl Options {
    /// Option keys, in the order error messages list them.
    pub const KEYS: [&'static str; 7] = [
        "chunk_size",
        "progress",
        "init",
        "errors",
        "retries",
        "ordered",
        "in_flight",
    ];

    /// Reads `opts` (absent or `nil`: the defaults) for a call of `func`
    /// over an input of `kind`.
    pub fn parse(func: &str, opts: Option<&Value>, kind: InputKind) -> Result<Options> {
        let mut options = Options::default();
        let map = match opts {
            None | Some(Value::Nil) => return Ok(options),
            Some(Value::Map(m)) => m,
            Some(other) => return Err(args::type_error(func, "options", "a map", other)),
        };
        for (key, value) in map.iter() {
            let Value::Str(k) = &key.0 else {
                return Err(unknown_option(func, &key.0));
            };
            match k.as_str() {
                "chunk_size" => {
                    options.chunk_size = Some(positive(func, "chunk_size", value, 1)?);
                }
                "progress" => options.progress = boolean(func, "progress", value)?,
                "init" => {
                    args::callable(func, "option init", value)?;
                    options.init = Some(value.clone());
                }
                "errors" => {
                    options.errors = match value {
                        Value::Str(s) if s.as_str() == "throw" => ErrorMode::Throw,
                        Value::Str(s) if s.as_str() == "collect" => ErrorMode::Collect,
                        Value::Str(_) => {
                            return Err(Error::value_error(format!(
                                "{func}() option errors must be \"throw\" or \"collect\", not {}",
                                value.repr()
                            )))
                        }
                        other => {
                            return Err(args::type_error(func, "option errors", "a string", other))
                        }
                    }
                }
                "retries" => {
                    let n = positive(func, "retries", value, 0)?;
                    options.retries = u32::try_from(n).unwrap_or(u32::MAX);
                }
                "ordered" => {
                    stream_only(func, "ordered", kind)?;
                    options.ordered = boolean(func, "ordered", value)?;
                }
                "in_flight" => {
                    stream_only(func, "in_flight", kind)?;
                    options.in_flight = Some(positive(func, "in_flight", value, 1)?);
                }
                _ => return Err(unknown_option(func, &key.0)),
            }
        }
        Ok(options)
    }

    /// Whether failures are collected rather than thrown.
    pub fn collect(&self) -> bool {
        self.errors == ErrorMode::Collect
    }
}

/// An int option that must be at least `min`.
fn positive(func: &str, name: &str, value: &Value, min: i64) -> Result<usize> {
    let n = args::int(func, &format!("option {name}"), value)?;
    if n < min {
        return Err(Error::value_error(format!(
            "{func}() option {name} must be at least {min}, not {n}"
        )));
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// A bool option.
fn boolean(func: &str, name: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(args::type_error(
            func,
            &format!("option {name}"),
            "a bool",
            other,
        )),
    }
}

/// `ValueError` unless the input is a channel.
fn stream_only(func: &str, name: &str, kind: InputKind) -> Result<()> {
    match kind {
        InputKind::Channel => Ok(()),
        InputKind::Indexed => Err(Error::value_error(format!(
            "{func}() option {name} applies only to a channel input, not to a list, range or string"
        ))),
    }
}

/// The `ValueError` for an option key that is not one of
/// [`Options::KEYS`], suggesting the closest one.
#[cold]
fn unknown_option(func: &str, key: &Value) -> Error {
    let (name, hint) = match key {
        Value::Str(s) => {
            let closest = Options::KEYS
                .iter()
                .map(|k| (strsim::jaro_winkler(s, k), *k))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .filter(|(score, _)| *score >= 0.8);
            (format!("'{s}'"), closest.map(|(_, k)| k))
        }
        other => (other.repr(), None),
    };
    let help = match hint {
        Some(k) => format!("did you mean '{k}'?"),
        None => format!("known: {}", Options::KEYS.join(", ")),
    };
    Error::value_error(format!("{func}() got an unknown option {name} ({help})"))
}

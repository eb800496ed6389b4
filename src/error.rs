//! Runtime errors: the `error` value a script catches, and the Rust-side
//! [`Error`] that carries it while the stack unwinds.

use crate::value::Value;
use std::fmt;
use std::sync::Arc;

/// The built-in error kinds of LANGUAGE.md, plus `Error` for `throw x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Wrong type for an operation (`"a" + 1`, calling a non-function, ...).
    TypeError,
    /// Right type, bad value (`int("x")`, sending `nil`, ...).
    ValueError,
    /// Index out of range.
    IndexError,
    /// Missing map key.
    KeyError,
    /// Division or modulo by zero.
    ZeroDivisionError,
    /// Integer overflow, or a size beyond the address space.
    OverflowError,
    /// A value too big for the memory the process can get (`"a" * 10**12`):
    /// checked before allocating, so it is catchable rather than a kill by
    /// the OOM killer (Python's `MemoryError`; see `ops/memory.rs`).
    MemoryError,
    /// Recursion deeper than the frame limit.
    StackOverflow,
    /// File and terminal I/O failures.
    IOError,
    /// A timed wait ran out.
    Timeout,
    /// The running task was cancelled.
    Cancelled,
    /// Ctrl-C (SIGINT): thrown in the main script (see `src/signal/`).
    Interrupted,
    /// `assert` failed.
    AssertionError,
    /// A module-level variable read before its `let` ran (Weft's decision:
    /// the spec is silent; Python calls this `NameError` too).
    NameError,
    /// The main script waits for something that nothing can ever provide:
    /// every task is parked waiting on another parked task (or on the main
    /// script), no task runs, and no timer is pending.
    Deadlock,
    /// `throw x` of a non-error value.
    Error,
}

impl ErrorKind {
    /// The kind's name as scripts see it in `e.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::TypeError => "TypeError",
            ErrorKind::ValueError => "ValueError",
            ErrorKind::IndexError => "IndexError",
            ErrorKind::KeyError => "KeyError",
            ErrorKind::ZeroDivisionError => "ZeroDivisionError",
            ErrorKind::OverflowError => "OverflowError",
            ErrorKind::MemoryError => "MemoryError",
            ErrorKind::StackOverflow => "StackOverflow",
            ErrorKind::IOError => "IOError",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Cancelled => "Cancelled",
            ErrorKind::Interrupted => "Interrupted",
            ErrorKind::AssertionError => "AssertionError",
            ErrorKind::NameError => "NameError",
            ErrorKind::Deadlock => "Deadlock",
            ErrorKind::Error => "Error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The contents of a script-visible `error` value.
#[derive(Clone, Debug)]
pub struct ErrorValue {
    /// `e.kind`
    pub kind: ErrorKind,
    /// `e.message`
    pub message: String,
    /// `e.value`: what was thrown; for built-in errors, the message string.
    pub value: Value,
    /// `e.trace`: frames like `"at parse (lib.weft:12:5)"`, innermost first.
    pub trace: Vec<String>,
    /// `e.errors`: for the failure a `scope` throws, the list of every
    /// failure in it (time order); `None` for any other error.
    pub errors: Option<Value>,
}

/// A runtime error travelling up the Rust stack. One pointer wide so that
/// `Result<Value, Error>` stays small.
#[derive(Clone, Debug)]
pub struct Error(pub Arc<ErrorValue>);

impl Error {
    /// A built-in error of `kind` whose `value` is its message.
    #[cold]
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        let message = message.into();
        Error(Arc::new(ErrorValue {
            kind,
            value: Value::from(message.as_str()),
            message,
            trace: Vec::new(),
            errors: None,
        }))
    }

    /// The error for `throw value`: an error value is rethrown as it is;
    /// anything else becomes kind `Error` whose message is `str(value)`.
    #[cold]
    pub fn thrown(value: Value) -> Error {
        if let Value::Error(e) = &value {
            return Error(e.clone());
        }
        Error(Arc::new(ErrorValue {
            kind: ErrorKind::Error,
            message: value.to_string(),
            value,
            trace: Vec::new(),
            errors: None,
        }))
    }

    /// Shorthand for a `TypeError`.
    #[cold]
    pub fn type_error(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::TypeError, message)
    }

    /// Shorthand for a `ValueError`.
    #[cold]
    pub fn value_error(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::ValueError, message)
    }

    /// The `Cancelled` error a task sees when it is cancelled, and its
    /// awaiter sees, whether the task was cancelled before it started or
    /// while it ran (one wording for both).
    #[cold]
    pub fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled, "the task was cancelled")
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Appends a trace frame (copying the error first if it is shared).
    pub fn push_trace(&mut self, frame: String) {
        Arc::make_mut(&mut self.0).trace.push(frame);
    }

    /// The script-visible value of this error (for `catch e`).
    pub fn into_value(self) -> Value {
        Value::Error(self.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.message)
    }
}

impl std::error::Error for Error {}

/// The result of anything that can fail at run time.
pub type Result<T, E = Error> = std::result::Result<T, E>;

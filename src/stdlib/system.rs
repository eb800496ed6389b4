//! The process: `time sleep args exit`.

use super::args::{self, arity};
use crate::error::{Error, ErrorKind, Result};
use crate::value::{NativeFn, Value};
use crate::vm::{Call, Vm, Wait};
use std::io::Write;
use std::sync::{OnceLock, RwLock};
use std::task::Poll;
use std::time::{Duration, Instant};

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "time",
        f: time,
    },
    NativeFn {
        name: "sleep",
        f: sleep,
    },
    NativeFn {
        name: "args",
        f: script_args,
    },
    NativeFn {
        name: "exit",
        f: exit,
    },
];

static START: OnceLock<Instant> = OnceLock::new();

/// Starts the clock `time()` measures from. The CLI calls this at startup;
/// otherwise the first `time()` (or [`set_script_args`]) starts it.
pub fn start_clock() {
    START.get_or_init(Instant::now);
}

/// `time()`: monotonic seconds since the process started, as a float.
fn time(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("time", args, 0, 0)?;
    Ok(Value::Float(now()))
}

/// What `time()` returns now (for `after` and `ticker`).
pub(crate) fn now() -> f64 {
    let start = *START.get_or_init(Instant::now);
    start.elapsed().as_secs_f64()
}

/// The `Duration` for `seconds` (an int or float, not negative).
pub(crate) fn duration(func: &str, seconds: &Value) -> Result<Duration> {
    let secs = args::number(func, "seconds", seconds)?;
    if secs.is_nan() {
        return Err(Error::value_error(format!(
            "{func}() seconds must be a number, not nan"
        )));
    }
    if secs < 0.0 {
        return Err(Error::value_error(format!(
            "{func}() seconds must not be negative (got {})",
            crate::value::format_float(secs)
        )));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Error::new(
            ErrorKind::OverflowError,
            format!("{func}() seconds is too large"),
        )
    })
}

/// `sleep(seconds)`. In a task it parks: the task holds no thread while it
/// sleeps, and a pool timer wakes it. Elsewhere (the main script, or a
/// sleep inside a native callback) the thread sleeps; on a pool thread it
/// tells the pool first, so a spare thread runs pool work meanwhile
/// ([`crate::pool::sleep`]). Inside a task it wakes as soon as the task is
/// cancelled and throws `Cancelled`. `sleep(0)` returns at once (but still
/// throws in a cancelled task).
fn sleep(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("sleep", args, 1, 1)?;
    let d = duration("sleep", &args[0])?;
    if vm.cancel_token().is_some_and(|t| t.is_cancelled()) {
        return Err(cancelled());
    }
    if d.is_zero() {
        return Ok(Value::Nil);
    }
    if vm.can_park(Call::Native("sleep")) {
        if let (Some(waker), Some(deadline)) = (vm.task_waker(), Instant::now().checked_add(d)) {
            let pool = crate::runtime::pool()?;
            let w = waker.clone();
            let timer = pool.timer_at(deadline, move || w.wake());
            return Err(vm.park(Box::new(Sleep {
                deadline,
                _timer: timer,
            })));
        }
    }
    let _waiting = super::task_registry::waiting();
    crate::pool::sleep(d).map_err(|_| cancelled())?;
    Ok(Value::Nil)
}

fn cancelled() -> Error {
    Error::cancelled()
}

/// A task parked in `sleep`: done at its deadline (its timer wakes it) or
/// when cancelled.
struct Sleep {
    deadline: Instant,
    _timer: crate::pool::Timer,
}

impl Wait for Sleep {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        if vm.cancel_token().is_some_and(|t| t.is_cancelled()) {
            return Poll::Ready(Err(cancelled()));
        }
        if Instant::now() >= self.deadline {
            return Poll::Ready(Ok(Value::Nil));
        }
        Poll::Pending
    }

    fn describe(&self) -> String {
        "sleep".to_string()
    }
}

static SCRIPT_ARGS: RwLock<Option<Value>> = RwLock::new(None);

/// Sets what `args()` returns: the script's arguments (after the script
/// name). Also starts the clock of `time()`.
pub fn set_script_args(script_args: Vec<String>) {
    start_clock();
    let list = Value::list(script_args.into_iter().map(Value::from).collect());
    let mut slot = SCRIPT_ARGS.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(list);
}

/// `args()`: the script's arguments as a list of strings.
fn script_args(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("args", args, 0, 0)?;
    let slot = SCRIPT_ARGS.read().unwrap_or_else(|e| e.into_inner());
    Ok(slot.clone().unwrap_or_else(|| Value::list(Vec::new())))
}

/// The exit status for `exit(code)`, or the message to print first.
pub(crate) fn exit_status(args: &[Value]) -> Result<(i32, Option<String>)> {
    arity("exit", args, 0, 1)?;
    match args.first() {
        None | Some(Value::Nil) => Ok((0, None)),
        Some(Value::Int(code)) => i32::try_from(*code)
            .map(|c| (c, None))
            .map_err(|_| Error::value_error(format!("exit() code {code} is out of range"))),
        // As Python's `sys.exit("message")`: print it to stderr, status 1.
        Some(Value::Str(msg)) => Ok((1, Some(msg.to_string()))),
        Some(other) => Err(args::type_error("exit", "code", "an int", other)),
    }
}

/// `exit(code?)`: flushes stdout and ends the process with `code`
/// (default 0).
fn exit(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let (code, message) = exit_status(args)?;
    let _ = std::io::stdout().lock().flush();
    if let Some(m) = message {
        let _ = writeln!(std::io::stderr().lock(), "{m}");
    }
    crate::mpi::at_exit(code);
    crate::runtime::finish();
    std::process::exit(code)
}

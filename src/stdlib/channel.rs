//! Channels as scripts see them (ASYNC.md, "Channels"), on the native
//! [`crate::channel::Channel`]: the globals `channel` and `select`, the
//! methods `send recv try_recv send_batch recv_batch close len closed`, and
//! the step of `for v in ch` ([`iter_next`]).
//!
//! # Waiting
//! Every blocking call passes [`CurrentTask`] as the native operation's
//! [`Interrupt`]: the cancel token of the pool task running on this thread,
//! looked up only if the operation really has to park (so the fast path
//! costs nothing). Cancelling a task blocked in `send`, `recv`,
//! `recv_batch`, `send_batch`, `select` or `for v in ch` wakes it with a
//! `Cancelled` error. Off the pool (the main thread) there is no token
//! unless the runtime installed one, and the wait is not interruptible. The
//! native channel parks inside [`crate::pool::blocking`] itself, so a pool
//! worker blocked on a channel is replaced by a spare while it waits; this
//! module must not wrap calls in `blocking` again.
//!
//! # Decisions (where ASYNC.md is silent; Go's behaviour unless noted)
//! - `channel(n)`: anything but an int `n ≥ 1` is a `ValueError` (ASYNC.md:
//!   "n ≥ 1; else ValueError"), including floats and `nil`. There is no
//!   unbuffered (rendezvous) channel: Go's `make(chan T)` has no
//!   counterpart; `channel()` is unbounded.
//! - A blocking call made by a task that is already cancelled throws
//!   `Cancelled` at once, without taking a value, so a cancelled consumer
//!   does not swallow a value it will never use. A call that cannot block
//!   (`try_recv`, `close`, `len`, `closed`) works regardless.
//! - `send(v)` returns `nil`. `nil` cannot be sent (`ValueError`; `nil`
//!   means "closed and drained" to receivers), and sending on a closed
//!   channel is a `ValueError` (Go panics), also when the channel is closed
//!   while the sender waits for space.
//! - Timeouts (`recv(seconds)`, `select(chs, seconds)`) take an int or a
//!   float; `nil` means no timeout (Python's `queue.get(timeout=None)`);
//!   negative or NaN is a `ValueError`, too large (`inf`) an
//!   `OverflowError`, as for `sleep`. `recv(0)` and `select(chs, 0)` poll:
//!   a value that is ready is returned, otherwise `Timeout`.
//! - `send_batch(xs)` takes a list, range or string (any iterable a list
//!   method takes); every item is checked for `nil` first, so a bad batch
//!   sends nothing. It returns `nil`. On a bounded channel smaller than the
//!   batch it sends as much as fits, waits for room, and repeats: order is
//!   kept, but another sender's items may come between two such chunks. If
//!   the channel is closed part way, the `ValueError` says how many items
//!   were sent (they stay queued for receivers).
//! - `recv_batch(max)`: `max` must be an int (`TypeError`) ≥ 1
//!   (`ValueError`); `nil` or no argument means `max_batch_size` from the
//!   config.
//! - `close()` returns `nil` and may be called any number of times (Go
//!   panics on a second close; ASYNC.md makes it idempotent).
//! - `select(chs)`: `chs` must be a list (`TypeError`) of channels
//!   (`TypeError` naming the first bad index), not empty (`ValueError`); a
//!   channel may appear twice. When several are ready, the scan for a
//!   ready one starts at a random index (as Go picks at random), so an
//!   early busy channel does not starve later ones. A channel that is
//!   closed and drained is always ready, with value `nil` (as a Go receive
//!   from a closed channel).
//! - `len(ch)` (the global) is not defined for channels; `ch.len()` is
//!   (ASYNC.md names only the method).
//! - A channel closed with an error (the output of a `parallel_map` or
//!   `parallel_filter` over a channel whose work failed, an `fs.lines` or
//!   `csv.rows` stream whose file failed: `reason.rs` in `src/channel`)
//!   throws that error at every receive that finds it closed
//!   and drained: `recv`, `recv_batch`, `try_recv`, `for v in ch`, and a
//!   `select` that picks it.
//! - `for i, v in ch` gives a running count from 0 with each value, like
//!   `for i, x in xs` over a list (Go allows only one variable here; Weft's
//!   two-variable form means "index and item" for every iterable).

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::channel::{
    Channel, Interrupt, RecvError, RecvTimeoutError, Registration, SelectError, SendBatchError,
    SendError, TryRecvError, Wake,
};
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{self, CancelToken};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;

use super::args::{self, arity};
use super::system::duration;
use super::Method;

/// A channel of Weft values. Copying the `channel` value copies the handle.
#[derive(Debug)]
pub struct ChannelObj {
    /// The native channel. A channel closed with an error
    /// ([`ChannelObj::fail`], or a parallel stream's output closed with
    /// `Channel::close_with`) keeps it as its close reason: receivers drain
    /// what is queued, then every receive throws it instead of seeing the
    /// end of the stream.
    pub ch: Channel<Value>,
}

impl ChannelObj {
    /// A new channel: bounded to `capacity` values, or unbounded for `None`.
    /// `Some(0)` is a `ValueError`.
    pub fn new(capacity: Option<usize>) -> Result<ChannelObj> {
        Channel::new(capacity)
            .map(|ch| ChannelObj { ch })
            .map_err(|_| Error::value_error("channel() capacity must be at least 1 (got 0)"))
    }

    /// Closes the channel with an error: once the queued values are
    /// received, receives throw `e` (the first failure is kept).
    pub fn fail(&self, e: Error) {
        // One place for the reason (the channel's), so that every reader
        // of the channel sees it, parallel streams included.
        self.ch.close_with(e.into_value());
    }

    /// What a receive returns once the channel is closed and drained: the
    /// failure if there is one, else `end`.
    fn drained(&self, end: Value) -> Result<Value> {
        closed_with(&self.ch).map(|()| end)
    }
}

/// The global functions of this module (also fields of `async`).
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "channel",
        f: channel,
    },
    NativeFn {
        name: "select",
        f: select,
    },
];

// ---------------------------------------------------------------------------
// Interrupts

/// The pool's cancel token as a channel [`Interrupt`]: firing it is
/// [`CancelToken::cancel`], which sets the flag first and then runs the
/// callbacks registered with [`CancelToken::on_cancel`] (under the token's
/// mutex, so a registration racing with the cancel either is run or sees
/// the flag), exactly the contract the channel needs.
impl Interrupt for CancelToken {
    fn is_interrupted(&self) -> bool {
        self.is_cancelled()
    }

    fn register(&self, wake: Wake) -> Registration<'_> {
        // `on_cancel` runs the wake at once if the token is already
        // cancelled; the channel's wake is harmless then.
        let registration = self.on_cancel(move || wake());
        Registration::new(move || drop(registration))
    }
}

/// The cancel token of the pool task running on this thread, as an
/// [`Interrupt`], looked up lazily: only an operation that parks asks for
/// it, so the fast path pays nothing. Off the pool there is no token (unless
/// the runtime made one current) and nothing interrupts the wait.
#[derive(Clone, Copy, Debug, Default)]
pub struct CurrentTask;

impl Interrupt for CurrentTask {
    fn is_interrupted(&self) -> bool {
        pool::is_cancelled()
    }

    fn register(&self, wake: Wake) -> Registration<'_> {
        match pool::current_cancel_token() {
            Some(token) => {
                let registration = token.on_cancel(move || wake());
                Registration::new(move || drop(registration))
            }
            None => Registration::none(),
        }
    }
}

/// The interrupt every blocking call passes.
const INTERRUPT: Option<&dyn Interrupt> = Some(&CurrentTask);

#[cold]
fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the task was cancelled")
}

/// `Cancelled` if the current task was asked to stop (checked before a
/// blocking call, so that a cancelled task takes no value).
#[inline]
fn check_cancelled() -> Result<()> {
    if pool::is_cancelled() {
        Err(cancelled())
    } else {
        Ok(())
    }
}

#[cold]
fn timeout(func: &str, d: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "{func}() timed out after {} s",
            crate::value::format_float(d.as_secs_f64())
        ),
    )
}

/// What a receive that found `ch` closed and drained does: nothing (the
/// caller returns its "closed" value), unless the channel was closed with
/// an error (the output of a `parallel_*` stream whose work failed), which
/// is thrown, at this and every later receive.
fn closed_with(ch: &Channel<Value>) -> Result<()> {
    match ch.close_reason() {
        Some(Value::Error(e)) => Err(Error(e)),
        _ => Ok(()),
    }
}

#[cold]
fn closed_send(func: &str) -> Error {
    Error::value_error(format!("{func}() on a closed channel"))
}

#[cold]
fn nil_send(func: &str) -> Error {
    Error::value_error(format!(
        "{func}() cannot send nil (receivers read nil as \"closed and drained\")"
    ))
}

/// The deadline for an optional `seconds` argument (`nil`: none).
fn deadline(func: &str, seconds: Option<&Value>) -> Result<Option<(Instant, Duration)>> {
    match seconds {
        None | Some(Value::Nil) => Ok(None),
        Some(v) => {
            let d = duration(func, v)?;
            // A deadline too far to represent is no deadline.
            Ok(Instant::now().checked_add(d).map(|at| (at, d)))
        }
    }
}

// ---------------------------------------------------------------------------
// Globals

/// `channel()` / `channel(n)`.
fn channel(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("channel", args, 0, 1)?;
    let capacity = match args.first() {
        None => None,
        Some(Value::Int(n)) if *n >= 1 => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
        Some(Value::Int(n)) => {
            return Err(Error::value_error(format!(
                "channel() capacity must be at least 1 (got {n})"
            )))
        }
        Some(other) => {
            return Err(Error::value_error(format!(
                "channel() capacity must be an int of at least 1, not {}",
                args::article(other.type_name())
            )))
        }
    };
    Ok(Value::Channel(Arc::new(ChannelObj::new(capacity)?)))
}

/// `select(chs)` / `select(chs, seconds)`: `[index, value]` of the first
/// channel of `chs` with a value (or closed and drained: `value` is `nil`).
fn select(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("select", args, 1, 2)?;
    let Value::List(list) = &args[0] else {
        return Err(args::type_error(
            "select",
            "channels",
            "a list of channels",
            &args[0],
        ));
    };
    if list.is_empty() {
        return Err(Error::value_error(
            "select() needs at least one channel (an empty list would wait forever)",
        ));
    }
    let mut chans: Vec<&Channel<Value>> = Vec::with_capacity(list.len());
    for (i, v) in list.iter().enumerate() {
        match v {
            Value::Channel(c) => chans.push(&c.ch),
            other => {
                return Err(Error::type_error(format!(
                    "select() item {i} must be a channel, not {}",
                    args::article(other.type_name())
                )))
            }
        }
    }
    let limit = deadline("select", args.get(1))?;
    check_cancelled()?;
    match crate::channel::select(&chans, limit.map(|(at, _)| at), INTERRUPT) {
        Ok((i, v)) => {
            if v.is_none() {
                closed_with(chans[i])?;
            }
            Ok(Value::list(vec![
                Value::Int(i as i64),
                v.unwrap_or(Value::Nil),
            ]))
        }
        Err(SelectError::Timeout) => {
            Err(timeout("select", limit.map_or(Duration::ZERO, |(_, d)| d)))
        }
        Err(SelectError::Cancelled) => Err(cancelled()),
        Err(SelectError::NoChannels) => Err(Error::value_error(
            "select() needs at least one channel (an empty list would wait forever)",
        )),
    }
}

// ---------------------------------------------------------------------------
// Methods

/// Calls method `m` on the channel `c`.
pub(crate) fn call(c: &ChannelObj, m: Method, args: &[Value]) -> Result<Value> {
    let ch = &c.ch;
    match m {
        Method::Send => {
            arity("channel.send", args, 1, 1)?;
            send(ch, &args[0])
        }
        Method::Recv => {
            arity("channel.recv", args, 0, 1)?;
            match recv(ch, args.first())? {
                Value::Nil => c.drained(Value::Nil),
                v => Ok(v),
            }
        }
        Method::TryRecv => {
            arity("channel.try_recv", args, 0, 0)?;
            match ch.try_recv() {
                Ok(v) => Ok(v),
                Err(TryRecvError::Empty) => Ok(Value::Nil),
                Err(TryRecvError::Closed) => c.drained(Value::Nil),
            }
        }
        Method::SendBatch => {
            arity("channel.send_batch", args, 1, 1)?;
            send_batch(ch, &args[0])
        }
        Method::RecvBatch => {
            arity("channel.recv_batch", args, 0, 1)?;
            match recv_batch(ch, args.first())? {
                Value::List(xs) if xs.is_empty() => c.drained(Value::List(xs)),
                v => Ok(v),
            }
        }
        Method::Close => {
            arity("channel.close", args, 0, 0)?;
            ch.close();
            Ok(Value::Nil)
        }
        Method::Len => {
            arity("channel.len", args, 0, 0)?;
            Ok(Value::Int(i64::try_from(ch.len()).unwrap_or(i64::MAX)))
        }
        Method::Closed => {
            arity("channel.closed", args, 0, 0)?;
            Ok(Value::Bool(ch.is_closed()))
        }
        other => Err(Error::type_error(format!(
            "channel has no method '{}'",
            other.name()
        ))),
    }
}

/// `ch.send(v)`.
fn send(ch: &Channel<Value>, v: &Value) -> Result<Value> {
    if matches!(v, Value::Nil) {
        return Err(nil_send("channel.send"));
    }
    check_cancelled()?;
    match ch.send(v.clone(), INTERRUPT) {
        Ok(()) => Ok(Value::Nil),
        Err(SendError::Closed(_)) => Err(closed_send("channel.send")),
        Err(SendError::Cancelled(_)) => Err(cancelled()),
    }
}

/// `ch.recv()` / `ch.recv(seconds)`.
fn recv(ch: &Channel<Value>, seconds: Option<&Value>) -> Result<Value> {
    let limit = deadline("channel.recv", seconds)?;
    check_cancelled()?;
    match ch.recv_deadline(limit.map(|(at, _)| at), INTERRUPT) {
        Ok(v) => Ok(v),
        Err(RecvTimeoutError::Closed) => closed_with(ch).map(|()| Value::Nil),
        Err(RecvTimeoutError::Cancelled) => Err(cancelled()),
        Err(RecvTimeoutError::Timeout) => Err(timeout(
            "channel.recv",
            limit.map_or(Duration::ZERO, |(_, d)| d),
        )),
    }
}

/// `ch.send_batch(xs)`.
fn send_batch(ch: &Channel<Value>, xs: &Value) -> Result<Value> {
    const FUNC: &str = "channel.send_batch";
    let items = match xs {
        Value::List(list) => {
            // Check before copying: a bad batch costs no allocation.
            if let Some(i) = list.iter().position(|v| matches!(v, Value::Nil)) {
                return Err(nil_item(i));
            }
            list.as_slice().to_vec()
        }
        // Ints straight from the range: an exact-size loop, no iterator
        // state per item (a `send_batch(range(a, b))` producer does no
        // per-item work at all).
        Value::Range(r) => {
            let n = usize::try_from(r.len()).unwrap_or(0);
            let mut items = crate::ops::try_vec(n)?;
            items.extend((0..n).map(|k| Value::Int(r.get(k as i64))));
            items
        }
        other => args::collect(FUNC, "items", other)?,
    };
    check_cancelled()?;
    match ch.send_batch(items, INTERRUPT) {
        Ok(()) => Ok(Value::Nil),
        Err(SendBatchError::Closed { sent: 0, .. }) => Err(closed_send(FUNC)),
        Err(SendBatchError::Closed { sent, unsent }) => Err(Error::value_error(format!(
            "{FUNC}() on a channel closed part way: {sent} items sent, {} not sent",
            unsent.len()
        ))),
        Err(SendBatchError::Cancelled { .. }) => Err(cancelled()),
    }
}

#[cold]
fn nil_item(i: usize) -> Error {
    Error::value_error(format!(
        "channel.send_batch() item {i} is nil (nil cannot be sent; nothing was sent)"
    ))
}

/// `ch.recv_batch()` / `ch.recv_batch(max)`.
fn recv_batch(ch: &Channel<Value>, max: Option<&Value>) -> Result<Value> {
    const FUNC: &str = "channel.recv_batch";
    let max = match max {
        None | Some(Value::Nil) => crate::runtime::config().max_batch_size(),
        Some(v) => {
            let n = args::int(FUNC, "max", v)?;
            if n < 1 {
                return Err(Error::value_error(format!(
                    "{FUNC}() max must be at least 1 (got {n})"
                )));
            }
            usize::try_from(n).unwrap_or(usize::MAX)
        }
    };
    let max = NonZeroUsize::new(max).unwrap_or(NonZeroUsize::MIN);
    check_cancelled()?;
    match ch.recv_batch(max, INTERRUPT) {
        Ok(batch) => Ok(Value::list(batch)),
        Err(RecvError::Closed) => closed_with(ch).map(|()| Value::list(Vec::new())),
        Err(RecvError::Cancelled) => Err(cancelled()),
    }
}

/// One step of `for v in ch`: the next value, or `None` once the channel is
/// closed and drained. Blocks while the channel is empty; throws
/// `Cancelled` if the running task is (or gets) cancelled.
pub fn iter_next(c: &ChannelObj) -> Result<Option<Value>> {
    check_cancelled()?;
    match c.ch.recv(INTERRUPT) {
        Ok(v) => Ok(Some(v)),
        Err(RecvError::Closed) => c.drained(Value::Nil).map(|_| None),
        Err(RecvError::Cancelled) => Err(cancelled()),
    }
}

#[cfg(test)]
#[path = "test/channel.rs"]
mod test;

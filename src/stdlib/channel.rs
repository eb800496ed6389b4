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
//! - `channel(n)`: anything but an int `n ≥ 0` is a `ValueError`, including
//!   floats and `nil`. `channel(0)` is unbuffered (Go's `make(chan T)`): a
//!   send completes when a receiver takes the value; `len()` is always 0
//!   and `recv_batch` returns one value per hand-off. `channel()` is
//!   unbounded.
//! - `ch.try_send(v)`: `true` if sent, `false` if full (unbuffered: no
//!   receiver waiting); `nil` or a closed channel: `ValueError`.
//! - `select(cases)`: a case is a channel (receive) or a two-item list
//!   `[ch, v]` (send `v`, not `nil`). Anything else is a `TypeError` naming
//!   the case. A send case on a channel that is already closed when
//!   `select` starts throws `ValueError` whatever else is ready (Go picks
//!   at random among ready cases, one of which panics; here the outcome
//!   does not depend on the scan order); closed while `select` waits, the
//!   send case is performed and throws.
//! - `after(s)`, `ticker(s)`: `s` an int or float; `after` takes `s ≥ 0`,
//!   `ticker` `s > 0` (a zero period would tick without end); else
//!   `ValueError` (`TypeError` for a non-number). Both are channels of
//!   capacity 1 fed by one pool timer (no thread of their own); closing a
//!   ticker (or dropping its last handle) cancels its timer. A ticker's
//!   next tick is due `s` after the previous one was due; ticks missed
//!   while the timer thread was late are skipped, not queued.
//! - Builtins that take an iterable (`list`, `sorted`, `sum`, `min`,
//!   `max`, `any`, `all`, `enumerate`, `zip`, `reversed`, `list.extend`,
//!   `send_batch`) receive from a channel until it is closed and drained
//!   (all of it, also for `any`/`all`); `len(ch)` is `ch.len()`. Called by
//!   a task where it can park, the builtins park it while they wait
//!   ([`park_to_drain`]: the channels are drained first, then the builtin
//!   runs on lists of their values); the methods `extend` and
//!   `send_batch`, and any call from the main script or under a native,
//!   block the thread ([`drain`]). Other arguments are checked before a
//!   value is taken.
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
//! - A channel closed with an error (the output of a `parallel_map` or
//!   `parallel_filter` over a channel whose work failed, an `fs.lines` or
//!   `csv.rows` stream whose file failed: `reason.rs` in `src/channel`)
//!   throws that error at every receive that finds it closed
//!   and drained: `recv`, `recv_batch`, `try_recv`, `for v in ch`, and a
//!   `select` that picks it.
//! - `for i, v in ch` gives a running count from 0 with each value, like
//!   `for i, x in xs` over a list (Go allows only one variable here; Weft's
//!   two-variable form means "index and item" for every iterable).

use std::cell::Cell;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use once_cell::race::OnceBox;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::channel::{
    Channel, GiveUp, Interrupt, RecvError, RecvTimeoutError, Registration, SelectError, Selected,
    SendBatchError, SendError, Side, SpareSlot, TaskWait, TryRecvError, TrySendError, Wake,
};
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{self, CancelToken};
use crate::value::{NativeFn, NativeFnPtr, Value};
use crate::vm::{Call, Vm, Wait};

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
    /// Counts this channel among the live handles (`--stats`).
    _live: super::handles::Live,
    /// A number naming it in deadlock reports (`channel 3`), in creation
    /// order.
    id: u64,
    /// What few channels have (a timer, a helping producer), allocated on
    /// first use: a million tasks may each hold a channel (issue 8), so
    /// the common channel carries one pointer for them.
    extras: OnceBox<Extras>,
}

/// The rarely used parts of a [`ChannelObj`].
#[derive(Debug, Default)]
struct Extras {
    /// The pool timer feeding an `after` or `ticker` channel; cancelled
    /// when the channel is closed or dropped.
    timer: parking_lot::Mutex<Option<pool::Timer>>,
    /// Who fills this channel and lets a receiver that finds it empty do a
    /// share of the work ([`Help`]): a parallel stream's output.
    helper: OnceLock<Weak<dyn Help>>,
}

/// A channel's producer that a receiver may help: a receive (`recv()`,
/// `recv_batch`, `for v in ch`) that finds the channel empty calls
/// [`Help::help`] until it returns `false` or the channel has values,
/// before it parks or blocks. (A parallel stream runs its next chunk of
/// items on the receiving thread: `src/stdlib/parallel/STREAMS.md`.)
pub trait Help: Send + Sync + std::fmt::Debug {
    /// Does one step of the producer's work on this thread; `false` when
    /// there is none to do now (the receiver then waits as usual).
    fn help(&self) -> bool;
}

static NEXT_CHANNEL_ID: AtomicU64 = AtomicU64::new(1);

impl ChannelObj {
    /// A new channel: bounded to `capacity` values, unbuffered for
    /// `Some(0)`, or unbounded for `None`.
    pub fn new(capacity: Option<usize>) -> Result<ChannelObj> {
        let ch = match capacity {
            Some(0) => Channel::unbuffered(),
            other => Channel::new(other)
                .map_err(|_| Error::value_error("channel() capacity must be at least 0"))?,
        };
        Ok(ChannelObj {
            ch,
            _live: super::handles::Live::new(super::handles::Kind::Channel),
            id: NEXT_CHANNEL_ID.fetch_add(1, Ordering::Relaxed),
            extras: OnceBox::new(),
        })
    }

    /// Makes `helper` this channel's [`Help`] (once; later calls are
    /// ignored).
    pub fn set_helper(&self, helper: Weak<dyn Help>) {
        let _ = self.extras().helper.set(helper);
    }

    /// The channel's extras, made on first use.
    fn extras(&self) -> &Extras {
        self.extras.get_or_init(Box::default)
    }

    /// The channel's timer slot (made on first use).
    fn timer(&self) -> parking_lot::MutexGuard<'_, Option<pool::Timer>> {
        self.extras().timer.lock()
    }

    /// Before a receive waits: while the channel is empty, lets its
    /// producer run work on this thread.
    /// Whether the channel has a producer to help (then the caller looks
    /// at the channel again).
    #[inline]
    fn help_while_empty(&self) -> bool {
        match self.extras.get().and_then(|x| x.helper.get()) {
            Some(h) => {
                help_slow(&self.ch, h);
                true
            }
            None => false,
        }
    }

    /// Closes the channel (idempotent) and stops its timer, if any.
    pub fn close(&self) {
        self.ch.close();
        // After `close`: a tick running now sees the channel closed before
        // it stores its next timer (`tick`). No extras: no timer (a tick
        // that makes them now sees the channel closed).
        if let Some(x) = self.extras.get() {
            drop(x.timer.lock().take());
        }
    }

    /// The channel's number (`channel 3` in deadlock reports).
    pub fn id(&self) -> u64 {
        self.id
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

/// Calls `h`'s [`Help::help`] while `ch` is empty and open, until it has
/// nothing to do. (`looks_closed`, not `is_closed`: this runs at every
/// receive that finds the output empty, and the channel's lock is the one
/// the producer's sends take. A close it misses costs one more `help`: a
/// stream's has nothing to run once its driver has closed the output, and
/// at most one chunk, whose send fails, when another task closed it. The
/// receive then sees the close under the lock.)
#[cold]
fn help_slow(ch: &Channel<Value>, h: &Weak<dyn Help>) {
    if let Some(h) = h.upgrade() {
        while ch.is_empty() && !ch.looks_closed() && h.help() {}
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
    NativeFn {
        name: "after",
        f: after,
    },
    NativeFn {
        name: "ticker",
        f: ticker,
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
        // Only an operation that must wait registers: the task counts as
        // waiting (`t.status()` says "parked") until the wait ends.
        let waiting = super::task_registry::waiting();
        match pool::current_cancel_token() {
            Some(token) => {
                let registration = token.on_cancel(move || wake());
                Registration::new(move || {
                    drop(registration);
                    drop(waiting);
                })
            }
            None => Registration::new(move || drop(waiting)),
        }
    }
}

/// The interrupt every blocking call passes.
const INTERRUPT: Option<&dyn Interrupt> = Some(&CurrentTask);

/// The interrupt of a wait of the main script with no deadline: the
/// current task's cancellation (if the runtime made a token current) and
/// the runtime's deadlock detection, which ends the wait when nothing can
/// ever end it otherwise.
#[derive(Default)]
struct MainWait {
    deadlocked: Arc<AtomicBool>,
}

impl Interrupt for MainWait {
    fn is_interrupted(&self) -> bool {
        pool::is_cancelled() || self.deadlocked.load(Ordering::SeqCst)
    }

    fn register(&self, wake: Wake) -> Registration<'_> {
        let cancel = CurrentTask.register(Arc::clone(&wake));
        let flag = Arc::clone(&self.deadlocked);
        // Called only now that the channel registered our waiter: anything
        // that could still end the wait comes after.
        let watch = crate::runtime::watch_deadlock(move || {
            flag.store(true, Ordering::SeqCst);
            wake();
        });
        Registration::new(move || {
            drop(watch);
            drop(cancel);
        })
    }
}

/// Runs a blocking channel call with the right interrupt: on the main
/// script's thread, for a wait with no deadline (`timed` false), one that
/// also ends it on deadlock. Returns the call's result and whether it was
/// ended by a deadlock.
fn blocking_call<R>(timed: bool, f: impl FnOnce(Option<&dyn Interrupt>) -> R) -> (R, bool) {
    if !timed && crate::runtime::is_main_script() && pool::current_worker_index().is_none() {
        let w = MainWait::default();
        let r = f(Some(&w));
        // A cancellation that came with the deadlock report woke the wait
        // (a `within` deadline firing: its timer was the last thing
        // pending): it is reported, not a deadlock.
        let dead = w.deadlocked.load(Ordering::SeqCst) && !pool::is_cancelled();
        (r, dead)
    } else {
        (f(INTERRUPT), false)
    }
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
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
        Some(Value::Int(n)) if *n >= 0 => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
        Some(Value::Int(n)) => {
            return Err(Error::value_error(format!(
                "channel() capacity must not be negative (got {n}; 0 is unbuffered)"
            )))
        }
        Some(other) => {
            return Err(Error::value_error(format!(
                "channel() capacity must be an int of at least 0, not {}",
                args::article(other.type_name())
            )))
        }
    };
    Ok(Value::Channel(Arc::new(ChannelObj::new(capacity)?)))
}

/// `select(cases)` / `select(cases, seconds)`: `[index, value]` of the
/// first case of `cases` that can be performed: a receive case (a channel)
/// with a value (or closed and drained: `value` is `nil`), or a send case
/// (`[ch, v]`) whose channel takes `v` (`value` is `nil`).
///
/// First one pass over the cases in rotation from a random start, straight
/// off the script's list (no vectors: a select that finds a case ready
/// allocates only its result); only if no case is ready does it collect
/// the channels and wait (park the task, or block the thread).
fn select(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("select", args, 1, 2)?;
    let Value::List(list) = &args[0] else {
        return Err(args::type_error(
            "select",
            "channels",
            "a list of channels",
            &args[0],
        ));
    };
    select_in(vm, list.as_slice(), args.get(1))
}

/// `select([...])` with its case list written out in the call
/// (`Instr::Select`, compiled so that no list is built): `regs` holds the
/// `count` cases, two registers for case `i` when bit `i` of `pairs` is
/// set (a send case written `[ch, v]`), else one; then the timeout, if
/// `timeout`. The same as `select` with that list in every respect.
pub(crate) fn select_flat(
    vm: &mut Vm,
    regs: &[Value],
    count: u8,
    pairs: u8,
    timeout: bool,
) -> Result<Value> {
    let mut at = [0u8; 8];
    let mut k = 0u8;
    for (i, slot) in at.iter_mut().enumerate().take(count as usize) {
        *slot = k;
        k += if pairs & (1 << i) != 0 { 2 } else { 1 };
    }
    let cases = Flat {
        regs,
        at,
        count,
        pairs,
    };
    let limit = if timeout { regs.get(k as usize) } else { None };
    select_in(vm, cases, limit)
}

/// A select's cases as it reads them: a list's items, or registers.
trait Cases: Copy {
    fn count(&self) -> usize;
    fn at(&self, i: usize) -> CaseRef<'_>;
}

/// One case: a value (a channel, or a `[ch, v]` list), or a send case
/// written out as its two parts.
#[derive(Clone, Copy)]
enum CaseRef<'a> {
    One(&'a Value),
    Pair(&'a Value, &'a Value),
}

impl Cases for &[Value] {
    #[inline]
    fn count(&self) -> usize {
        self.len()
    }
    #[inline]
    fn at(&self, i: usize) -> CaseRef<'_> {
        CaseRef::One(&self[i])
    }
}

/// The cases of [`select_flat`].
#[derive(Clone, Copy)]
struct Flat<'a> {
    regs: &'a [Value],
    /// Where each case's first register is.
    at: [u8; 8],
    count: u8,
    pairs: u8,
}

impl Cases for Flat<'_> {
    #[inline]
    fn count(&self) -> usize {
        self.count as usize
    }
    #[inline]
    fn at(&self, i: usize) -> CaseRef<'_> {
        let k = self.at[i] as usize;
        if self.pairs & (1 << i) != 0 {
            CaseRef::Pair(&self.regs[k], &self.regs[k + 1])
        } else {
            CaseRef::One(&self.regs[k])
        }
    }
}

fn select_in<C: Cases>(vm: &mut Vm, list: C, seconds: Option<&Value>) -> Result<Value> {
    let n = list.count();
    if n == 0 {
        return Err(no_cases());
    }
    let mut sends = false;
    for i in 0..n {
        let send = match list.at(i) {
            CaseRef::One(Value::Channel(_)) => None,
            CaseRef::One(Value::List(case)) => match case.as_slice() {
                [Value::Channel(_), v] => Some(v),
                _ => return Err(bad_case(i, &Value::List(case.clone()))),
            },
            CaseRef::Pair(Value::Channel(_), v) => Some(v),
            CaseRef::Pair(a, b) => {
                return Err(bad_case(i, &Value::list(vec![a.clone(), b.clone()])))
            }
            CaseRef::One(other) => return Err(bad_case(i, other)),
        };
        if let Some(v) = send {
            if matches!(v, Value::Nil) {
                return Err(Error::value_error(format!(
                    "select() case {i} sends nil (receivers read nil as \"closed and drained\")"
                )));
            }
            sends = true;
        }
    }
    let limit = deadline("select", seconds)?;
    if sends {
        for i in 0..n {
            // The lock-free copy of the flag: one that is stale (a close
            // racing with this select) is the same as a close while the
            // select runs, performed as the case.
            if let Some((ch, Some(_))) = case(list.at(i)) {
                if ch.looks_closed() {
                    return Err(closed_case(i));
                }
            }
        }
    }
    check_cancelled()?;
    let start = fastrand::usize(..n);
    for k in 0..n {
        let i = if start + k < n {
            start + k
        } else {
            start + k - n
        };
        let Some((ch, offer)) = case(list.at(i)) else {
            continue;
        };
        if let Some(what) = crate::channel::try_case(ch, offer) {
            return selected(ch, i, what);
        }
    }
    select_wait(vm, list, sends, start, limit)
}

/// The channel of a (checked) select case and, for a send case, its value.
#[inline]
fn case(c: CaseRef<'_>) -> Option<(&Channel<Value>, Option<&Value>)> {
    match c {
        CaseRef::One(Value::Channel(c)) => Some((&c.ch, None)),
        CaseRef::One(Value::List(pair)) => match pair.as_slice() {
            [Value::Channel(c), v] => Some((&c.ch, Some(v))),
            _ => None,
        },
        CaseRef::Pair(Value::Channel(c), v) => Some((&c.ch, Some(v))),
        _ => None,
    }
}

/// The error of a `select` that blocked its thread and took no case: its
/// deadline passed, or it was cancelled (`dead`: by the deadlock detector,
/// which names the select's channels), or it had no channel.
#[cold]
fn select_failed<C: Cases>(
    e: SelectError,
    dead: bool,
    limit: Option<(Instant, Duration)>,
    list: C,
) -> Error {
    match e {
        SelectError::Timeout => timeout("select", limit.map_or(Duration::ZERO, |(_, d)| d)),
        SelectError::Cancelled if dead => crate::runtime::deadlock_error(&format!(
            "select on {}",
            channel_names(case_ids(list).into_iter())
        )),
        SelectError::Cancelled => cancelled(),
        SelectError::NoChannels => no_cases(),
    }
}

#[cold]
fn no_cases() -> Error {
    Error::value_error("select() needs at least one channel (an empty list would wait forever)")
}

#[cold]
fn bad_case(i: usize, v: &Value) -> Error {
    Error::type_error(format!(
        "select() case {i} must be a channel (receive) or a [channel, value] list (send), not {}",
        match v {
            Value::List(_) => "a list of another shape".to_string(),
            other => args::article(other.type_name()),
        }
    ))
}

/// The `[index, value]` a select returns for what case `i` (on `ch`) did.
#[inline]
fn selected(ch: &Channel<Value>, i: usize, what: Selected<Value>) -> Result<Value> {
    let v = match what {
        Selected::Received(Some(v)) => v,
        Selected::Received(None) => {
            closed_with(ch)?;
            Value::Nil
        }
        Selected::Sent => Value::Nil,
        Selected::SendClosed(_) => return Err(closed_case(i)),
    };
    Ok(pair(i, v))
}

/// `[i, v]`, a select's result: one allocation (a list made from a `vec!`
/// costs the vector's too).
#[inline]
fn pair(i: usize, v: Value) -> Value {
    let mut l = crate::value::List::with_capacity(2);
    let m = l.make_mut();
    m.push(Value::Int(i as i64));
    m.push(v);
    Value::List(l)
}

#[cold]
fn closed_case(i: usize) -> Error {
    Error::value_error(format!("select() case {i} sends on a closed channel"))
}

/// The numbers of the channels of a select's cases (deadlock reports).
fn case_ids<C: Cases>(list: C) -> Vec<u64> {
    (0..list.count())
        .filter_map(|i| match list.at(i) {
            CaseRef::One(Value::Channel(c)) | CaseRef::Pair(Value::Channel(c), _) => Some(c.id()),
            CaseRef::One(Value::List(pair)) => match pair.first() {
                Some(Value::Channel(c)) => Some(c.id()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// A select none of whose cases was ready in the first pass: waits, the
/// task parked when it can be, else the thread blocked (module docs,
/// "Waiting"), scanning again from `start`.
#[cold]
#[inline(never)]
fn select_wait<C: Cases>(
    vm: &mut Vm,
    list: C,
    sends: bool,
    start: usize,
    limit: Option<(Instant, Duration)>,
) -> Result<Value> {
    let chans: Vec<&Channel<Value>> = (0..list.count())
        .filter_map(|i| case(list.at(i)).map(|c| c.0))
        .collect();
    if chans.len() != list.count() {
        return Err(Error::new(ErrorKind::Error, "internal: select lost a case"));
    }
    if sends {
        return select_cases(vm, list, chans, start, limit);
    }
    if let Some(r) = try_park(vm, Call::Native("select"), limit, || {
        let owned: Vec<Channel<Value>> = chans.iter().map(|c| (*c).clone()).collect();
        (
            Kind::Select(owned.clone().into()),
            Ids::Many(case_ids(list).into()),
            move |w| TaskWait::select(owned, start, w),
        )
    }) {
        return r;
    }
    let (r, dead) = blocking_call(limit.is_some(), |it| {
        crate::channel::select(&chans, limit.map(|(at, _)| at), it)
    });
    match r {
        Ok((i, v)) => selected(chans[i], i, Selected::Received(v)),
        Err(e) => Err(select_failed(e, dead, limit, list)),
    }
}

/// The wait of a `select(cases)` with send cases: as a receive-only
/// select's, each case a receive or a send (module docs, "Decisions").
fn select_cases<C: Cases>(
    vm: &mut Vm,
    list: C,
    chans: Vec<&Channel<Value>>,
    start: usize,
    limit: Option<(Instant, Duration)>,
) -> Result<Value> {
    let mut sides = Vec::with_capacity(list.count());
    let mut offers = Vec::with_capacity(list.count());
    for i in 0..list.count() {
        match case(list.at(i)) {
            Some((_, Some(offer))) => {
                sides.push(Side::Send);
                offers.push(Some(offer.clone()));
            }
            _ => {
                sides.push(Side::Recv);
                offers.push(None);
            }
        }
    }
    let mut parked = Some((sides, offers));
    if let Some(r) = try_park(vm, Call::Native("select"), limit, || {
        let (sides, offers) = parked.take().unwrap_or_default();
        let owned: Vec<Channel<Value>> = chans.iter().map(|c| (*c).clone()).collect();
        (
            Kind::SelectCases(owned.clone().into()),
            Ids::Many(case_ids(list).into()),
            move |w| TaskWait::cases(owned, sides, offers, start, w),
        )
    }) {
        return r;
    }
    let Some((sides, offers)) = parked else {
        return Err(Error::new(
            ErrorKind::Error,
            "internal: select lost its cases",
        ));
    };
    let (r, dead) = blocking_call(limit.is_some(), |it| {
        crate::channel::select_cases(&chans, &sides, offers, limit.map(|(at, _)| at), it)
    });
    match r {
        Ok((i, what)) => selected(chans[i], i, what),
        Err(e) => Err(select_failed(e, dead, limit, list)),
    }
}

/// `after(seconds)`: a channel that receives `time()` once, `seconds` from
/// now, and is then closed.
fn after(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("after", args, 1, 1)?;
    let d = duration("after", &args[0])?;
    let c = Arc::new(ChannelObj::new(Some(1))?);
    let ch = c.ch.clone();
    let fire = move || {
        let _ = ch.try_send(Value::Float(super::system::now()));
        ch.close();
    };
    match Instant::now().checked_add(d) {
        Some(at) => {
            let timer = crate::runtime::pool()?.timer_at(at, fire);
            *c.timer() = Some(timer);
        }
        // Too far to represent: it never fires.
        None => drop(fire),
    }
    Ok(Value::Channel(c))
}

/// `ticker(seconds)`: a channel that receives `time()` every `seconds`
/// until it is closed, dropping a tick that finds the previous one still
/// unreceived.
fn ticker(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("ticker", args, 1, 1)?;
    let every = duration("ticker", &args[0])?;
    if every.is_zero() {
        return Err(Error::value_error(
            "ticker() seconds must be positive (got 0)",
        ));
    }
    let c = Arc::new(ChannelObj::new(Some(1))?);
    if let Some(first) = Instant::now().checked_add(every) {
        arm_tick(crate::runtime::pool()?, Arc::downgrade(&c), every, first);
    }
    Ok(Value::Channel(c))
}

/// Arms the tick due at `at` for the ticker `c` (if it is still open).
fn arm_tick(
    pool: &'static pool::ThreadPool,
    c: std::sync::Weak<ChannelObj>,
    every: Duration,
    at: Instant,
) {
    let Some(obj) = c.upgrade() else {
        return;
    };
    let weak = c.clone();
    let timer = pool.timer_at(at, move || tick(pool, weak, every, at));
    let mut slot = obj.timer();
    // Closed meanwhile: `close` already took the slot; drop this timer.
    if !obj.ch.is_closed() {
        *slot = Some(timer);
    }
}

/// One tick (on the pool's timer thread): send `time()` unless the
/// previous tick is still queued, and arm the next one.
fn tick(
    pool: &'static pool::ThreadPool,
    c: std::sync::Weak<ChannelObj>,
    every: Duration,
    due: Instant,
) {
    let Some(obj) = c.upgrade() else {
        return;
    };
    if obj.ch.is_closed() {
        return;
    }
    let _ = obj.ch.try_send(Value::Float(super::system::now()));
    // The next deadline after now, on the grid of `due + k * every`.
    let now = Instant::now();
    let mut next = due.checked_add(every);
    while let Some(at) = next {
        if at > now {
            break;
        }
        next = at.checked_add(every);
    }
    drop(obj);
    if let Some(at) = next {
        arm_tick(pool, c, every, at);
    }
}

/// Every value of `c` until it is closed and drained, for the builtins
/// that take an iterable (`func`, named in a deadlock report), where they
/// cannot park (the main script, a native re-entry such as a `sort` key
/// function: [`park_to_drain`] parks the others): blocks the thread while
/// it waits; throws as `for v in ch` would (`Cancelled`, the channel's
/// failure, `Deadlock` on the main script).
pub(crate) fn drain(func: &str, c: &ChannelObj) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    loop {
        check_cancelled()?;
        match c.ch.try_recv_batch(DRAIN_BATCH) {
            Ok(batch) => out.extend(batch),
            Err(TryRecvError::Closed) => {
                c.drained(Value::Nil)?;
                return Ok(out);
            }
            Err(TryRecvError::Empty) => match next_blocking(c, &format!("{func}()"))? {
                Some(v) => out.push(v),
                None => return Ok(out),
            },
        }
    }
}

/// The most values a drain takes under one lock.
const DRAIN_BATCH: NonZeroUsize = match NonZeroUsize::new(1024) {
    Some(n) => n,
    None => NonZeroUsize::MIN,
};

/// Which arguments of a builtin are iterables it drains when they are
/// channels ([`park_to_drain`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drains {
    /// The first argument (`list`, `sorted`, `sum`, `min`, ...).
    First,
    /// Every argument (`zip`).
    All,
}

/// For a builtin `name` (implemented by `f`) called with channels among
/// its iterable arguments (`which`), by a task that can park here: parks
/// the task until each of those channels is closed and drained, in
/// argument order, then calls `f` with each replaced by the list of its
/// values, and returns what `f` returns (delivered when the task resumes).
/// So `list(ch)` in a task waits as `for v in ch` does, holding no thread.
/// `None`: no channel to drain, or the VM cannot park here (the main
/// script, a native in between): the builtin goes on and drains by
/// blocking ([`drain`]). Call it after checking the other arguments, so
/// that a bad call takes no value.
pub(crate) fn park_to_drain(
    vm: &mut Vm,
    name: &'static str,
    f: NativeFnPtr,
    args: &[Value],
    which: Drains,
) -> Option<Result<Value>> {
    let drains = |i: usize| which == Drains::All || i == 0;
    let todo: Vec<usize> = args
        .iter()
        .enumerate()
        .filter(|(i, v)| drains(*i) && matches!(v, Value::Channel(_)))
        .map(|(i, _)| i)
        .collect();
    if todo.is_empty() || !vm.can_park(Call::Native(name)) {
        return None;
    }
    start_drain(vm, name, Then::Call(f), args.to_vec(), todo)
}

/// `xs.extend(ch)` in a task that can park at this call, with `xs` in a
/// register of the running frame: parks until `ch` is closed and drained,
/// then extends `xs` in that register (the method's receiver is back
/// there while the task is parked). `Some(Ok(list))`: the channel was
/// already closed and drained, the caller extends `xs` with `list` now;
/// `Some(Err(..))`: parked (the park signal) or failed; `None`: the caller
/// drains by blocking ([`drain`]).
pub(crate) fn park_to_extend(vm: &mut Vm, c: &Arc<ChannelObj>) -> Option<Result<Value>> {
    if !vm.can_park(Call::Method(Method::Extend)) || vm.method_receiver().is_none() {
        return None;
    }
    park_drain_then(vm, "list.extend", c, Then::Extend)
}

/// `ch2.send_batch(ch)` in a task that can park at this call: parks while
/// `ch` is not closed and drained, then while `ch2` has no room, as
/// `send_batch` of a list does. `None`: the caller drains by blocking.
fn park_to_send_batch(
    vm: &mut Vm,
    to: &ChannelObj,
    from: &Arc<ChannelObj>,
) -> Option<Result<Value>> {
    if !vm.can_park(Call::Method(Method::SendBatch)) {
        return None;
    }
    let then = Then::SendBatch(to.ch.clone(), to.id(), None);
    park_drain_then(vm, "channel.send_batch", from, then)
}

fn park_drain_then(
    vm: &mut Vm,
    name: &'static str,
    c: &Arc<ChannelObj>,
    then: Then,
) -> Option<Result<Value>> {
    start_drain(vm, name, then, vec![Value::Channel(Arc::clone(c))], vec![0])
}

/// Starts a [`DrainCall`] over the channels of `args` at the positions
/// `todo`: drains what is ready now, parks for the rest. `None`: the task
/// has no waker (the caller drains by blocking).
fn start_drain(
    vm: &mut Vm,
    name: &'static str,
    then: Then,
    args: Vec<Value>,
    todo: Vec<usize>,
) -> Option<Result<Value>> {
    let waker = vm.task_waker()?;
    if let Err(e) = check_cancelled() {
        return Some(Err(e));
    }
    let mut op = DrainCall {
        name,
        then,
        args,
        todo: todo.into_iter(),
        current: None,
        got: Vec::new(),
        waker,
        resumed: false,
    };
    match op.poll(vm) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => {
            op.resumed = true;
            Some(Err(vm.park(Box::new(op))))
        }
    }
}

/// What a [`DrainCall`] does once its channels are drained.
enum Then {
    /// Calls the builtin with each channel replaced by its values.
    Call(NativeFnPtr),
    /// `xs.extend(ch)`: the values go to the receiver (or, at the first
    /// poll, back to the method, which has the receiver out of its
    /// register).
    Extend,
    /// `ch2.send_batch(ch)`: then sends them to this channel (its number),
    /// parked as `send_batch` is.
    SendBatch(Channel<Value>, u64, Option<Box<ChanOp>>),
}

/// A task parked in a builtin that drains channels ([`park_to_drain`]).
struct DrainCall {
    name: &'static str,
    then: Then,
    /// The call's arguments; each channel drained is replaced by its list.
    args: Vec<Value>,
    /// The positions of the channels still to drain, in order.
    todo: std::vec::IntoIter<usize>,
    /// The channel being drained (its position and the wait on it).
    current: Option<(usize, Arc<ChannelObj>, TaskWait<Value>)>,
    /// What it gave so far.
    got: Vec<Value>,
    waker: pool::Waker,
    /// Polled after a park (not from the native's own call).
    resumed: bool,
}

impl Wait for DrainCall {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        loop {
            if self.current.is_none() {
                let Some(i) = self.todo.next() else {
                    break;
                };
                let Value::Channel(c) = &self.args[i] else {
                    continue;
                };
                let wait = TaskWait::recv(&c.ch, self.waker.clone());
                self.current = Some((i, c.clone(), wait));
            }
            let Some((i, c, wait)) = &mut self.current else {
                break;
            };
            let give_up = vm
                .cancel_token()
                .is_some_and(|t| t.is_cancelled())
                .then_some(GiveUp::Cancelled);
            match wait.poll_recv_batch(DRAIN_BATCH, give_up) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(cancelled())),
                Poll::Ready(Ok(batch)) if batch.is_empty() => {
                    // Closed and drained (or closed with an error).
                    if let Err(e) = c.drained(Value::Nil) {
                        return Poll::Ready(Err(e));
                    }
                    self.args[*i] = Value::list(std::mem::take(&mut self.got));
                    self.current = None;
                }
                Poll::Ready(Ok(batch)) => self.got.extend(batch),
            }
        }
        let args = std::mem::take(&mut self.args);
        match &mut self.then {
            Then::Call(f) => Poll::Ready(f(vm, &args)),
            Then::Extend => {
                let got = args.into_iter().next().unwrap_or(Value::Nil);
                if !self.resumed {
                    return Poll::Ready(Ok(got));
                }
                if let (Some(Value::List(xs)), Value::List(ys)) = (vm.method_receiver(), &got) {
                    let v = xs.make_mut();
                    if let Err(e) = crate::ops::memory::reserve_list(v, ys.len()) {
                        return Poll::Ready(Err(e));
                    }
                    v.extend_from_slice(ys);
                }
                Poll::Ready(Ok(Value::Nil))
            }
            Then::SendBatch(ch, id, op) => {
                let op = op.get_or_insert_with(|| {
                    let rest = match args.into_iter().next() {
                        Some(Value::List(xs)) => xs.as_slice().iter().cloned().collect(),
                        _ => VecDeque::new(),
                    };
                    Box::new(ChanOp {
                        wait: TaskWait::send(ch, self.waker.clone()),
                        kind: Kind::SendBatch(Box::new(SendBatch { rest, sent: 0 })),
                        ids: Ids::One(*id),
                        limit: None,
                    })
                });
                op.poll(vm)
            }
        }
    }

    fn describe(&self) -> String {
        if let Then::SendBatch(_, _, Some(op)) = &self.then {
            return op.describe();
        }
        let on = match &self.current {
            Some((_, c, _)) => c.id().to_string(),
            None => "?".to_string(),
        };
        format!("{}() on channel {on}", self.name)
    }
}

// ---------------------------------------------------------------------------
// Methods

/// Calls method `m` on the channel `c`, blocking the thread if it must
/// wait (no task to park).
#[cfg(test)]
pub(crate) fn call(c: &Arc<ChannelObj>, m: Method, args: &[Value]) -> Result<Value> {
    call_in(&mut Vm::new(), c, m, args)
}

/// Calls method `m` on the channel `c` for code running on `vm`: a wait
/// parks the task when `vm` can park here, else blocks the thread.
pub(crate) fn call_in(
    vm: &mut Vm,
    c: &Arc<ChannelObj>,
    m: Method,
    args: &[Value],
) -> Result<Value> {
    let ch = &c.ch;
    match m {
        Method::Send => {
            arity("channel.send", args, 1, 1)?;
            send(vm, c, args[0].clone())
        }
        Method::Recv => {
            arity("channel.recv", args, 0, 1)?;
            match recv(vm, c, args.first())? {
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
            send_batch(vm, c, &args[0])
        }
        Method::RecvBatch => {
            arity("channel.recv_batch", args, 0, 1)?;
            match recv_batch(vm, c, args.first())? {
                Value::List(xs) if xs.is_empty() => c.drained(Value::List(xs)),
                v => Ok(v),
            }
        }
        Method::TrySend => {
            arity("channel.try_send", args, 1, 1)?;
            if matches!(args[0], Value::Nil) {
                return Err(nil_send("channel.try_send"));
            }
            match ch.try_send(args[0].clone()) {
                Ok(()) => Ok(Value::Bool(true)),
                Err(TrySendError::Full(_)) => Ok(Value::Bool(false)),
                Err(TrySendError::Closed(_)) => Err(closed_send("channel.try_send")),
            }
        }
        Method::Close => {
            arity("channel.close", args, 0, 0)?;
            c.close();
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

/// `ch.recv()` for the VM's direct method path (`src/vm/chan_fast.rs`):
/// what the general path does for `recv` with no argument.
pub(crate) fn recv_method(vm: &mut Vm, c: &Arc<ChannelObj>) -> Result<Value> {
    match recv(vm, c, None)? {
        Value::Nil => c.drained(Value::Nil),
        v => Ok(v),
    }
}

/// `ch.send(v)` for the VM's direct method path, `v` moved in.
pub(crate) fn send_method(vm: &mut Vm, c: &ChannelObj, v: Value) -> Result<Value> {
    send(vm, c, v)
}

/// `ch.send(v)`.
fn send(vm: &mut Vm, c: &ChannelObj, v: Value) -> Result<Value> {
    if matches!(v, Value::Nil) {
        return Err(nil_send("channel.send"));
    }
    check_cancelled()?;
    let ch = &c.ch;
    let v = match ch.try_send(v) {
        Ok(()) => return Ok(Value::Nil),
        Err(TrySendError::Closed(_)) => return Err(closed_send("channel.send")),
        Err(TrySendError::Full(v)) => v,
    };
    let mut slot = Some(v);
    if let Some(r) = try_park(vm, Call::Method(Method::Send), None, || {
        let v = slot.take();
        (Kind::Send(v), Ids::One(c.id()), |w| {
            with_spare_slot(ch, |s| TaskWait::send_reusing(ch, w, s))
        })
    }) {
        return r;
    }
    let Some(v) = slot else {
        return Err(Error::new(
            ErrorKind::Error,
            "internal: channel.send lost its value",
        ));
    };
    let (r, dead) = blocking_call(false, |it| ch.send(v, it));
    match r {
        Ok(()) => Ok(Value::Nil),
        Err(SendError::Closed(_)) => Err(closed_send("channel.send")),
        Err(SendError::Cancelled(_)) if dead => Err(crate::runtime::deadlock_error(&format!(
            "send on channel {}",
            c.id()
        ))),
        Err(SendError::Cancelled(_)) => Err(cancelled()),
    }
}

/// `ch.recv()` / `ch.recv(seconds)`.
fn recv(vm: &mut Vm, c: &Arc<ChannelObj>, seconds: Option<&Value>) -> Result<Value> {
    let limit = deadline("channel.recv", seconds)?;
    check_cancelled()?;
    let ch = &c.ch;
    match ch.try_recv() {
        Ok(v) => return Ok(v),
        Err(TryRecvError::Closed) => return c.drained(Value::Nil),
        Err(TryRecvError::Empty) => {}
    }
    if limit.is_none() && c.help_while_empty() {
        match ch.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Closed) => return c.drained(Value::Nil),
            Err(TryRecvError::Empty) => {}
        }
    }
    if let Some(r) = try_park(vm, Call::Method(Method::Recv), limit, || {
        (Kind::Recv(c.clone()), Ids::One(c.id()), |w| {
            with_spare_slot(ch, |s| TaskWait::recv_reusing(ch, w, s))
        })
    }) {
        return r;
    }
    let (r, dead) = blocking_call(limit.is_some(), |it| {
        ch.recv_deadline(limit.map(|(at, _)| at), it)
    });
    match r {
        Ok(v) => Ok(v),
        Err(RecvTimeoutError::Closed) => closed_with(ch).map(|()| Value::Nil),
        Err(RecvTimeoutError::Cancelled) if dead => Err(crate::runtime::deadlock_error(&format!(
            "recv on channel {}",
            c.id()
        ))),
        Err(RecvTimeoutError::Cancelled) => Err(cancelled()),
        Err(RecvTimeoutError::Timeout) => Err(timeout(
            "channel.recv",
            limit.map_or(Duration::ZERO, |(_, d)| d),
        )),
    }
}

/// `ch.send_batch(xs)`.
fn send_batch(vm: &mut Vm, c: &ChannelObj, xs: &Value) -> Result<Value> {
    let ch = &c.ch;
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
        Value::Channel(from) => match park_to_send_batch(vm, c, from) {
            Some(r) => return r,
            None => args::collect(FUNC, "items", xs)?,
        },
        other => args::collect(FUNC, "items", other)?,
    };
    check_cancelled()?;
    let mut items = Some(items);
    if let Some(r) = try_park(vm, Call::Method(Method::SendBatch), None, || {
        let rest = VecDeque::from(items.take().unwrap_or_default());
        (
            Kind::SendBatch(Box::new(SendBatch { rest, sent: 0 })),
            Ids::One(c.id()),
            |w| TaskWait::send(ch, w),
        )
    }) {
        return r;
    }
    let (r, dead) = blocking_call(false, |it| ch.send_batch(items.unwrap_or_default(), it));
    match r {
        Ok(()) => Ok(Value::Nil),
        Err(SendBatchError::Cancelled { .. }) if dead => Err(crate::runtime::deadlock_error(
            &format!("send_batch on channel {}", c.id()),
        )),
        Err(SendBatchError::Closed { sent: 0, .. }) => Err(closed_send(FUNC)),
        Err(SendBatchError::Closed { sent, unsent }) => Err(Error::value_error(format!(
            "{FUNC}() on a channel closed part way: {} sent, {} not sent",
            args::count(sent, "item"),
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
fn recv_batch(vm: &mut Vm, c: &Arc<ChannelObj>, max: Option<&Value>) -> Result<Value> {
    let ch = &c.ch;
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
    for helped in [false, true] {
        match ch.try_recv_batch(max) {
            Ok(batch) => return Ok(Value::list(batch)),
            Err(TryRecvError::Closed) => return c.drained(Value::list(Vec::new())),
            // A second look only if a producer was helped.
            Err(TryRecvError::Empty) if !helped && c.help_while_empty() => {}
            Err(TryRecvError::Empty) => break,
        }
    }
    if let Some(r) = try_park(vm, Call::Method(Method::RecvBatch), None, || {
        (Kind::RecvBatch(max, c.clone()), Ids::One(c.id()), |w| {
            TaskWait::recv(ch, w)
        })
    }) {
        return r;
    }
    let (r, dead) = blocking_call(false, |it| ch.recv_batch(max, it));
    match r {
        Ok(batch) => Ok(Value::list(batch)),
        Err(RecvError::Closed) => closed_with(ch).map(|()| Value::list(Vec::new())),
        Err(RecvError::Cancelled) if dead => Err(crate::runtime::deadlock_error(&format!(
            "recv_batch on channel {}",
            c.id()
        ))),
        Err(RecvError::Cancelled) => Err(cancelled()),
    }
}

/// One step of `for v in ch` for code running on `vm`: the next value, or
/// `None` once the channel is closed and drained. While the channel is
/// empty the task parks (when `vm` can park here) or the thread blocks;
/// throws `Cancelled` if the running task is (or gets) cancelled.
pub fn iter_step(vm: &mut Vm, c: &Arc<ChannelObj>) -> Result<Option<Value>> {
    check_cancelled()?;
    for helped in [false, true] {
        match c.ch.try_recv() {
            Ok(v) => return Ok(Some(v)),
            Err(TryRecvError::Closed) => return c.drained(Value::Nil).map(|_| None),
            // A second look only if a producer was helped.
            Err(TryRecvError::Empty) if !helped && c.help_while_empty() => {}
            Err(TryRecvError::Empty) => break,
        }
    }
    if let Some(r) = try_park(vm, Call::ForIn, None, || {
        (Kind::ForIn(c.clone()), Ids::One(c.id()), |w| {
            with_spare_slot(&c.ch, |s| TaskWait::recv_reusing(&c.ch, w, s))
        })
    }) {
        return r.map(|v| (!matches!(v, Value::Nil)).then_some(v));
    }
    iter_next(c)
}

/// One step of `for v in ch`: the next value, or `None` once the channel is
/// closed and drained. Blocks while the channel is empty; throws
/// `Cancelled` if the running task is (or gets) cancelled.
pub fn iter_next(c: &ChannelObj) -> Result<Option<Value>> {
    next_blocking(c, "for-in")
}

/// The next value of `c` (`None` once closed and drained), blocking the
/// thread while it is empty; a main-script wait nothing can end is a
/// `Deadlock` naming `what` (`for-in on channel 3`).
fn next_blocking(c: &ChannelObj, what: &str) -> Result<Option<Value>> {
    check_cancelled()?;
    let _ = c.help_while_empty();
    let (r, dead) = blocking_call(false, |it| c.ch.recv(it));
    match r {
        Ok(v) => Ok(Some(v)),
        Err(RecvError::Closed) => c.drained(Value::Nil).map(|_| None),
        Err(RecvError::Cancelled) if dead => Err(crate::runtime::deadlock_error(&format!(
            "{what} on channel {}",
            c.id()
        ))),
        Err(RecvError::Cancelled) => Err(cancelled()),
    }
}

// ---------------------------------------------------------------------------
// Parking

/// What a parked channel operation does when it finishes. A receive
/// keeps its channel: once it is closed and drained, the receive throws
/// the channel's failure, if it has one ([`ChannelObj::fail`]).
enum Kind {
    Recv(Arc<ChannelObj>),
    ForIn(Arc<ChannelObj>),
    RecvBatch(NonZeroUsize, Arc<ChannelObj>),
    Send(Option<Value>),
    /// Boxed: a parked task's operation stays small for the common kinds.
    SendBatch(Box<SendBatch>),
    /// The channels, to throw the failure of one closed and drained.
    Select(Box<[Channel<Value>]>),
    /// A select with send cases (its channels, as `Select`).
    SelectCases(Box<[Channel<Value>]>),
}

/// A `send_batch` in progress: the items not sent yet, and how many were.
struct SendBatch {
    rest: VecDeque<Value>,
    sent: usize,
}

/// The numbers of the channels an operation waits on.
enum Ids {
    One(u64),
    Many(Box<[u64]>),
}

impl Ids {
    fn names(&self) -> String {
        match self {
            Ids::One(id) => channel_names(std::iter::once(*id)),
            Ids::Many(ids) => channel_names(ids.iter().copied()),
        }
    }
}

/// A task parked in a channel operation.
struct ChanOp {
    wait: TaskWait<Value>,
    kind: Kind,
    /// Channel numbers, for the description (one, or a select's).
    ids: Ids,
    /// Its deadline, if it has one (boxed: most waits have none).
    limit: Option<Box<Limit>>,
}

/// A parked channel operation's deadline.
struct Limit {
    /// When, and the timeout it came from (for the error message).
    at: Instant,
    timeout: Duration,
    /// Wakes the task at the deadline (cancelled when the op is dropped).
    timer: Option<pool::Timer>,
}

impl ChanOp {
    fn func(&self) -> &'static str {
        match self.kind {
            Kind::Recv(_) | Kind::ForIn(_) => "channel.recv",
            Kind::RecvBatch(..) => "channel.recv_batch",
            Kind::Send(_) => "channel.send",
            Kind::SendBatch(_) => "channel.send_batch",
            Kind::Select(_) | Kind::SelectCases(_) => "select",
        }
    }

    fn give_up_error(&self, why: GiveUp) -> Error {
        match why {
            GiveUp::Cancelled => cancelled(),
            GiveUp::Timeout => timeout(
                self.func(),
                self.limit.as_ref().map_or(Duration::ZERO, |l| l.timeout),
            ),
        }
    }
}

impl Wait for ChanOp {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        let give_up = if vm.cancel_token().is_some_and(|t| t.is_cancelled()) {
            Some(GiveUp::Cancelled)
        } else if self.limit.as_ref().is_some_and(|l| Instant::now() >= l.at) {
            Some(GiveUp::Timeout)
        } else {
            None
        };
        let polled: Poll<std::result::Result<Value, GiveUp>> = match &mut self.kind {
            Kind::Recv(c) | Kind::ForIn(c) => match self.wait.poll_recv(give_up) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok((_, Some(v)))) => Poll::Ready(Ok(v)),
                Poll::Ready(Ok((_, None))) => return Poll::Ready(c.drained(Value::Nil)),
                Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
            },
            Kind::Select(chans) => match self.wait.poll_recv(give_up) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok((i, v))) => {
                    if v.is_none() {
                        if let Err(e) = closed_with(&chans[i]) {
                            return Poll::Ready(Err(e));
                        }
                    }
                    Poll::Ready(Ok(pair(i, v.unwrap_or(Value::Nil))))
                }
                Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
            },
            Kind::SelectCases(chans) => match self.wait.poll_cases(give_up) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok((i, what))) => return Poll::Ready(selected(&chans[i], i, what)),
                Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
            },
            Kind::RecvBatch(max, c) => match self.wait.poll_recv_batch(*max, give_up) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(batch)) if batch.is_empty() => {
                    return Poll::Ready(c.drained(Value::list(batch)))
                }
                Poll::Ready(Ok(batch)) => Poll::Ready(Ok(Value::list(batch))),
                Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
            },
            Kind::Send(slot) => match self.wait.poll_send(slot, give_up) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(Ok(()))) => Poll::Ready(Ok(Value::Nil)),
                Poll::Ready(Ok(Err(_))) => return Poll::Ready(Err(closed_send("channel.send"))),
                Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
            },
            Kind::SendBatch(b) => {
                let SendBatch { rest, sent } = &mut **b;
                match self.wait.poll_send_batch(rest, sent, give_up) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Ok(true)) => Poll::Ready(Ok(Value::Nil)),
                    Poll::Ready(Ok(false)) => {
                        const FUNC: &str = "channel.send_batch";
                        return Poll::Ready(Err(if *sent == 0 {
                            closed_send(FUNC)
                        } else {
                            Error::value_error(format!(
                                "{FUNC}() on a channel closed part way: {} sent, {} not sent",
                                args::count(*sent, "item"),
                                rest.len()
                            ))
                        }));
                    }
                    Poll::Ready(Err(why)) => Poll::Ready(Err(why)),
                }
            }
        };
        polled.map(|r| r.map_err(|why| self.give_up_error(why)))
    }

    fn describe(&self) -> String {
        let on = self.ids.names();
        match self.kind {
            Kind::Recv(_) | Kind::ForIn(_) => format!("recv on {on}"),
            Kind::RecvBatch(..) => format!("recv_batch on {on}"),
            Kind::Send(_) => format!("send on {on}"),
            Kind::SendBatch(_) => format!("send_batch on {on}"),
            Kind::Select(_) | Kind::SelectCases(_) => format!("select on {on}"),
        }
    }
}

/// `channel 3` or `channels 3, 4`.
fn channel_names(ids: impl Iterator<Item = u64>) -> String {
    let ids: Vec<String> = ids.map(|id| id.to_string()).collect();
    match ids.len() {
        1 => format!("channel {}", ids[0]),
        _ => format!("channels {}", ids.join(", ")),
    }
}

/// Parks the running task in a channel operation if `vm` can park at
/// `call`: `make` gives the operation, its channels' numbers, and the
/// wait; it is polled once (registering its waiter, or finishing at once)
/// and, if it must wait, armed with a timer for `limit` and parked.
/// `None`: the VM cannot park here (the caller blocks instead).
fn try_park<W>(
    vm: &mut Vm,
    call: Call,
    limit: Option<(Instant, Duration)>,
    make: impl FnOnce() -> (Kind, Ids, W),
) -> Option<Result<Value>>
where
    W: FnOnce(pool::Waker) -> TaskWait<Value>,
{
    if !vm.can_park(call) {
        return None;
    }
    let waker = vm.task_waker()?;
    let (kind, ids, wait) = make();
    let timer_waker = limit.map(|_| waker.clone());
    let mut op = ChanOp {
        wait: wait(waker),
        kind,
        ids,
        limit: limit.map(|(at, timeout)| {
            Box::new(Limit {
                at,
                timeout,
                timer: None,
            })
        }),
    };
    match op.poll(vm) {
        Poll::Ready(r) => Some(r),
        Poll::Pending => {
            if let (Some((at, _)), Some(waker)) = (limit, timer_waker) {
                match crate::runtime::pool() {
                    Ok(p) => {
                        let timer = p.timer_at(at, move || waker.wake());
                        if let Some(l) = op.limit.as_mut() {
                            l.timer = Some(timer);
                        }
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            Some(Err(vm.park(OpBox::boxed(op))))
        }
    }
}

thread_local! {
    /// The box of the last channel wait that ended on this thread, empty,
    /// for the next one ([`OpBox`]).
    static SPARE_OP: Cell<Option<Box<OpBox>>> = const { Cell::new(None) };
    /// The value slot of the last unbuffered single-channel wait that
    /// ended on this thread, for the next one ([`with_spare_slot`]).
    static SPARE_SLOT: Cell<Option<SpareSlot<Value>>> = const { Cell::new(None) };
}

/// Makes a task wait on `ch` with this thread's spare value slot on offer
/// (taken only by a wait on an unbuffered channel; kept otherwise). A
/// buffered channel's wait needs no slot: the spare is not looked at.
#[inline]
fn with_spare_slot(
    ch: &Channel<Value>,
    make: impl FnOnce(&mut Option<SpareSlot<Value>>) -> TaskWait<Value>,
) -> TaskWait<Value> {
    if !ch.is_unbuffered() {
        return make(&mut None);
    }
    let mut spare = SPARE_SLOT.with(Cell::take);
    let wait = make(&mut spare);
    if spare.is_some() {
        SPARE_SLOT.with(|s| s.set(spare));
    }
    wait
}

/// A parked channel operation's box, reused: when its wait ends, the
/// emptied box becomes the thread's spare and the next channel wait that
/// parks here fills it again, so a task that parks in a loop (a ring, a
/// ping-pong) allocates nothing for its operation.
struct OpBox(Option<ChanOp>);

impl OpBox {
    fn boxed(op: ChanOp) -> Box<dyn Wait> {
        match SPARE_OP.with(Cell::take) {
            Some(mut spare) => {
                spare.0 = Some(op);
                spare
            }
            None => Box::new(OpBox(Some(op))),
        }
    }
}

impl Wait for OpBox {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        match &mut self.0 {
            Some(op) => op.poll(vm),
            None => Poll::Ready(Err(Error::new(
                ErrorKind::Error,
                "internal: a finished channel wait was polled",
            ))),
        }
    }

    fn describe(&self) -> String {
        self.0.as_ref().map_or_else(String::new, ChanOp::describe)
    }

    fn done(mut self: Box<Self>) {
        if let Some(slot) = self.0.as_mut().and_then(|op| op.wait.take_spare()) {
            SPARE_SLOT.with(|s| s.set(Some(slot)));
        }
        self.0 = None;
        SPARE_OP.with(|s| s.set(Some(self)));
    }
}

#[cfg(test)]
#[path = "test/channel.rs"]
mod test;

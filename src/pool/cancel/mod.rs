//! Cancellation tokens: how a task learns it should stop, and how code
//! blocked inside a task is woken when that happens. The protocol is written
//! up in `README.md` next to this file.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::task::{standalone_token, Body, Task, TaskRef};

/// The error of an operation cut short because its task was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cancelled")
    }
}

impl std::error::Error for Cancelled {}

/// A cancellation token: cheap to clone, shared by a task and everyone who
/// may cancel it. Every spawned task has one; code running inside the task
/// gets it with [`current_cancel_token`](super::current_cancel_token).
///
/// Polling ([`CancelToken::is_cancelled`]) is one atomic load. Blocking code
/// can instead sleep with [`CancelToken::sleep`] (returns early on cancel) or
/// register a wake-up callback with [`CancelToken::on_cancel`].
#[derive(Clone)]
pub struct CancelToken {
    core: TaskRef,
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("task", &self.core.id())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl CancelToken {
    /// A token of its own, not tied to any task.
    pub fn new() -> Self {
        CancelToken {
            core: standalone_token(),
        }
    }

    pub(crate) fn from_core(core: TaskRef) -> Self {
        CancelToken { core }
    }

    pub(crate) fn into_core(self) -> TaskRef {
        self.core
    }

    /// The id of the task this token belongs to (the same as its
    /// [`TaskHandle::id`](super::TaskHandle::id); a token made with
    /// [`CancelToken::new`] has an id of its own).
    pub fn id(&self) -> u64 {
        self.core.id()
    }

    /// Whether cancellation was requested. One atomic load.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.core.is_cancelled()
    }

    /// `Err(Cancelled)` if cancellation was requested.
    #[inline]
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Requests cancellation: wakes [`sleep`](Self::sleep)ers, runs the
    /// registered callbacks (on this thread), and, for a task that has not
    /// started, finishes it as cancelled. True if this call was the first.
    pub fn cancel(&self) -> bool {
        super::task::cancel_task(&self.core)
    }

    /// Sleeps for `duration`, returning `Err(Cancelled)` as soon as the token
    /// is cancelled (or at once if it already is). The caller on a pool
    /// thread should wrap this in [`blocking`](super::blocking) (as
    /// [`sleep`](super::sleep) does).
    pub fn sleep(&self, duration: Duration) -> Result<(), Cancelled> {
        match Instant::now().checked_add(duration) {
            Some(deadline) => self.sleep_until(deadline),
            None => self.sleep_until_cancelled(),
        }
    }

    /// As [`sleep`](Self::sleep), until `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Result<(), Cancelled> {
        if self.core.wait_cancel(Some(deadline)) {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Blocks until the token is cancelled. Always returns `Err(Cancelled)`.
    pub fn sleep_until_cancelled(&self) -> Result<(), Cancelled> {
        self.core.wait_cancel(None);
        Err(Cancelled)
    }

    /// Registers `f` to run once when the token is cancelled (on the
    /// cancelling thread), or right now on this thread if it already is.
    /// Dropping the returned [`Registration`] unregisters `f` if it has not
    /// run. `f` must be short and must not block: it is meant to wake
    /// whatever the task is blocked on (a channel, a condvar).
    pub fn on_cancel(&self, f: impl FnOnce() + Send + 'static) -> Registration {
        Registration::new(Arc::clone(&self.core), self.core.on_cancel(Box::new(f)))
    }
}

/// What to undo when a registered callback is no longer wanted. Dropping it
/// unregisters the callback (if it has not run yet); [`Registration::keep`]
/// leaves it registered for good.
#[must_use = "dropping a Registration unregisters its callback"]
pub struct Registration {
    core: Option<TaskRef>,
    key: u32,
}

impl Registration {
    pub(crate) fn new(core: TaskRef, key: Option<u32>) -> Self {
        Registration {
            core: key.map(|_| core),
            key: key.unwrap_or(0),
        }
    }

    /// Keeps the callback registered after this value is gone.
    pub fn keep(mut self) {
        self.core = None;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            core.unregister(self.key);
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("active", &self.core.is_some())
            .finish()
    }
}

thread_local! {
    /// The token of the task running on this thread, if any.
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// The cancellation token of the task running on this thread: set while a
/// spawned task (or a `join` half stolen from one) runs; `None` elsewhere.
pub fn current_cancel_token() -> Option<CancelToken> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Makes `token` this thread's current cancellation token (as if a task
/// owning it ran here) and returns the previous one. For a thread outside
/// the pool whose code a runtime wants to stop as it stops a task (Weft's
/// main script, which Ctrl-C cancels): its waits on tasks, channels and
/// sleeps then wake when `token` is cancelled, and `join` halves it starts
/// follow `token`. The caller keeps each token it made current alive for
/// as long as jobs started under it may run (they point at it).
pub fn set_current_cancel_token(token: Option<CancelToken>) -> Option<CancelToken> {
    CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), token))
}

/// Whether the task running on this thread was asked to stop (false off the
/// pool). One thread-local access and one atomic load.
pub fn is_cancelled() -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(CancelToken::is_cancelled))
}

/// The task running on this thread, as a raw pointer, for a job that
/// another thread may run while this task waits for it. No reference count
/// is taken: this thread keeps the task alive (it is in `CURRENT`, or in the
/// `previous` slot of a nested job that restores it) until the task's
/// closure returns, and a job created here is always finished before that.
#[inline]
pub(crate) fn current_task_ptr() -> Option<*const Task<dyn Body>> {
    CURRENT.with(|c| c.borrow().as_ref().map(|t| Arc::as_ptr(&t.core)))
}

/// Makes the task behind `task` current on this thread, unless it already
/// is. Returns what to hand to [`restore_current`], or `None` if nothing
/// changed.
///
/// # Safety
/// `task` must come from [`current_task_ptr`] on a thread that keeps that
/// task alive until this thread calls `restore_current`.
pub(crate) unsafe fn enter_task(task: *const Task<dyn Body>) -> Option<Option<CancelToken>> {
    CURRENT.with(|c| {
        let mut current = c.borrow_mut();
        if current
            .as_ref()
            .is_some_and(|t| std::ptr::addr_eq(Arc::as_ptr(&t.core), task))
        {
            return None;
        }
        // SAFETY: `task` points into a live `Arc` (caller's contract); taking
        // a new strong reference makes the token below an owner of its own.
        let core = unsafe {
            Arc::increment_strong_count(task);
            Arc::from_raw(task)
        };
        Some(current.replace(CancelToken { core }))
    })
}

/// Makes `token` current; returns what was current before.
pub(crate) fn swap_current(token: CancelToken) -> Option<CancelToken> {
    CURRENT.with(|c| c.borrow_mut().replace(token))
}

/// Undoes [`swap_current`]; returns the token that was current.
pub(crate) fn restore_current(previous: Option<CancelToken>) -> Option<CancelToken> {
    CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), previous))
}

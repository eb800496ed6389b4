//! [`Interrupt`]: how a blocked channel operation learns that its task was
//! cancelled.

use std::fmt;
use std::sync::Arc;

use super::sync::Mutex;

/// A wake-up callback handed to [`Interrupt::register`].
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A cancellation signal a blocking channel operation can be woken by (the
/// pool's per-task cancel token implements it).
///
/// Contract, which the channel's no-lost-wakeup argument relies on:
/// - once the interrupt fires, [`is_interrupted`](Interrupt::is_interrupted)
///   returns `true` forever after;
/// - firing first makes the flag visible, *then* calls every wake registered
///   so far, and a registration that races with firing either is called, or
///   is followed by an `is_interrupted()` that returns `true` (a mutex around
///   the wake list, taken by both `register` and the firing code after it set
///   the flag, gives exactly this);
/// - a wake may be called from any thread, more than once, and even shortly
///   after its [`Registration`] was dropped (the channel's wakes are harmless
///   then).
///
/// A blocked operation registers a wake, then checks `is_interrupted()`, then
/// parks; so it either sees the flag or is woken.
pub trait Interrupt: Sync {
    /// Whether the interrupt has fired.
    fn is_interrupted(&self) -> bool;

    /// Calls `wake` when the interrupt fires, until the returned
    /// [`Registration`] is dropped.
    fn register(&self, wake: Wake) -> Registration<'_>;
}

/// Keeps a wake registered with an [`Interrupt`]; dropping it unregisters.
#[must_use = "dropping the registration unregisters the wake at once"]
pub struct Registration<'a> {
    unregister: Option<Box<dyn FnOnce() + 'a>>,
}

impl<'a> Registration<'a> {
    /// A registration that runs `unregister` when dropped.
    pub fn new(unregister: impl FnOnce() + 'a) -> Self {
        Registration {
            unregister: Some(Box::new(unregister)),
        }
    }

    /// A registration with nothing to undo (for an interrupt that can no
    /// longer fire, or that keeps no list).
    pub fn none() -> Self {
        Registration { unregister: None }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(unregister) = self.unregister.take() {
            unregister();
        }
    }
}

impl fmt::Debug for Registration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("active", &self.unregister.is_some())
            .finish()
    }
}

/// A ready-made [`Interrupt`]: a flag that fires once, for callers without a
/// cancel token of their own (and for tests).
pub struct InterruptFlag {
    inner: Mutex<FlagState>,
}

#[derive(Default)]
struct FlagState {
    fired: bool,
    next_id: u64,
    wakes: Vec<(u64, Wake)>,
}

impl Default for InterruptFlag {
    fn default() -> Self {
        InterruptFlag {
            inner: Mutex::new(FlagState::default()),
        }
    }
}

impl InterruptFlag {
    /// A flag that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the interrupt: sets the flag, then calls every registered wake.
    /// Returns `false` if it had already fired.
    pub fn fire(&self) -> bool {
        let wakes = {
            let mut state = self.inner.lock();
            if state.fired {
                return false;
            }
            state.fired = true;
            std::mem::take(&mut state.wakes)
        };
        for (_, wake) in wakes {
            wake();
        }
        true
    }

    /// How many wakes are registered now.
    pub fn registered(&self) -> usize {
        self.inner.lock().wakes.len()
    }
}

impl Interrupt for InterruptFlag {
    fn is_interrupted(&self) -> bool {
        self.inner.lock().fired
    }

    fn register(&self, wake: Wake) -> Registration<'_> {
        let mut state = self.inner.lock();
        if state.fired {
            // The caller checks `is_interrupted()` next and sees the flag.
            return Registration::none();
        }
        let id = state.next_id;
        state.next_id += 1;
        state.wakes.push((id, wake));
        drop(state);
        Registration::new(move || {
            self.inner.lock().wakes.retain(|(other, _)| *other != id);
        })
    }
}

impl fmt::Debug for InterruptFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("InterruptFlag")
            .field("fired", &state.fired)
            .field("registered", &state.wakes.len())
            .finish()
    }
}

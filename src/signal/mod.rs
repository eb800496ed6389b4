//! Ctrl-C (SIGINT) for the `weft` command: the first one cancels every task
//! and every parallel call and throws `Interrupted` in the main script at
//! its next call, loop iteration or wait; the second one ends the process
//! at once with status 130. The protocol (who sees the signal, how it
//! reaches the main script's wait and the tasks, why nothing is lost) is
//! written up in `README.md` next to this file.
//!
//! Only the command line installs the handler ([`install`]); an embedder
//! that never calls it gets the default SIGINT behaviour and none of this.

use crate::error::{Error, ErrorKind};
use crate::pool::{self, CancelToken};
use crate::stdlib::task_registry::{self, Interrupted};
use parking_lot::Mutex;
use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The exit status of a run ended by Ctrl-C (128 + SIGINT, as shells
/// report it).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The message of the `Interrupted` error.
pub const MESSAGE: &str = "interrupted by Ctrl-C (SIGINT)";

/// Whether [`install`] ran.
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// SIGINTs since the run (or the REPL entry) started.
static COUNT: AtomicU32 = AtomicU32::new(0);

/// The main script's side: its current token (cancelled by a Ctrl-C) and
/// whether an interrupt waits to be thrown in it. One lock, so a delivery
/// (which replaces the token) and a signal (which cancels it) never
/// interleave.
struct Main {
    token: Option<CancelToken>,
    pending: bool,
    /// Tokens replaced after a delivery. Kept for the life of the process:
    /// jobs the main thread started while one was current may point at it
    /// (see `pool::set_current_cancel_token`). One per Ctrl-C.
    retired: Vec<CancelToken>,
    /// The tasks each Ctrl-C found running, for the report.
    found: Vec<Interrupted>,
}

/// The main script VM's cancel flag: set by a Ctrl-C, cleared when the
/// interrupt is delivered. A flag, not a token, because it can be cleared:
/// every copy of it (a parallel call saves and restores the VM's flag
/// around its items) sees the same state.
fn main_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

static MAIN: Mutex<Main> = Mutex::new(Main {
    token: None,
    pending: false,
    retired: Vec::new(),
    found: Vec::new(),
});

thread_local! {
    /// Set on the thread running the main script (inside [`main_script`]).
    static MAIN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Installs the SIGINT handler and returns the [`Listener`] that acts on
/// each SIGINT. Called once by the `weft` command before the script runs;
/// the command's first thread (which otherwise only waits for the
/// interpreter thread) then runs [`Listener::run`], so handling Ctrl-C
/// costs no thread of its own.
pub fn install() -> std::io::Result<Listener> {
    use signal_hook::consts::SIGINT;
    let signals = signal_hook::iterator::Signals::new([SIGINT])?;
    MAIN.lock().token.get_or_insert_with(CancelToken::new);
    INSTALLED.store(true, Ordering::SeqCst);
    Ok(Listener { signals })
}

/// Receives SIGINTs (signal-hook's self-pipe: the OS handler only writes a
/// byte) and acts on each one as ordinary code: see [`install`].
pub struct Listener {
    signals: signal_hook::iterator::Signals,
}

impl Listener {
    /// What ends [`run`](Self::run): dropping it (also during a panic).
    pub fn closer(&self) -> Closer {
        Closer(self.signals.handle())
    }

    /// Acts on every SIGINT until the [`Closer`] is dropped.
    pub fn run(mut self) {
        for _ in self.signals.forever() {
            on_sigint();
        }
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Listener")
    }
}

/// Ends [`Listener::run`] when dropped: the interpreter thread holds it,
/// so the listener stops when the script is done, however it ends.
#[derive(Debug)]
pub struct Closer(signal_hook::iterator::Handle);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// What one SIGINT does (on the listening thread).
fn on_sigint() {
    if COUNT.fetch_add(1, Ordering::SeqCst) >= 1 {
        exit_now();
    }
    let mut main = MAIN.lock();
    main.pending = true;
    // The main script first, the tasks second: a main script waiting for
    // tasks (`await`, a scope's join) must find itself interrupted when
    // their cancellation wakes it, not see them end and carry on. (It
    // reads `found` under this lock, so the list is complete by then.)
    main_flag().store(true, Ordering::SeqCst);
    if let Some(t) = &main.token {
        t.cancel();
    }
    let found = task_registry::cancel_all();
    main.found.extend(found);
}

/// The second Ctrl-C: clears the progress bar's line and exits with 130.
fn exit_now() -> ! {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        // The progress bar (if one is drawn) is on the current line.
        let _ = err.write_all(b"\r\x1b[2K");
    }
    let _ = writeln!(err, "weft: interrupted again, exiting");
    std::process::exit(EXIT_INTERRUPTED)
}

/// Runs `f`, the main script's code on this thread (a whole script, or one
/// REPL entry), so that Ctrl-C reaches it: `f` gets the flag to install in
/// its VM ([`crate::vm::Vm::set_cancel_flag`]: checked at every call and
/// loop back-edge), and the main token is this thread's current one, so
/// its waits on tasks, channels and sleeps wake when a Ctrl-C cancels it.
/// Without [`install`], `f(None)`.
pub fn main_script<R>(f: impl FnOnce(Option<Arc<AtomicBool>>) -> R) -> R {
    if !INSTALLED.load(Ordering::SeqCst) {
        return f(None);
    }
    let token = MAIN.lock().token.clone();
    let outer = MAIN_THREAD.with(|m| m.replace(true));
    let previous = pool::set_current_cancel_token(token);
    let r = f(Some(Arc::clone(main_flag())));
    pool::set_current_cancel_token(previous);
    MAIN_THREAD.with(|m| m.set(outer));
    r
}

/// Called by the VM when a `Cancelled` error starts unwinding: on the main
/// script's thread with an interrupt pending, the interrupt is delivered
/// now: the main flag is cleared and the thread gets a fresh token, so the
/// code that catches `Interrupted` runs normally. True if so (the error
/// becomes `Interrupted`); false for an ordinary cancellation.
#[cold]
pub fn take_interrupt() -> bool {
    if !MAIN_THREAD.with(Cell::get) {
        return false;
    }
    let mut main = MAIN.lock();
    if !main.pending {
        return false;
    }
    main.pending = false;
    main_flag().store(false, Ordering::SeqCst);
    let fresh = CancelToken::new();
    if let Some(old) = main.token.replace(fresh.clone()) {
        main.retired.push(old);
    }
    drop(main);
    pool::set_current_cancel_token(Some(fresh));
    true
}

/// The `Interrupted` error that replaces a `Cancelled` one as it starts
/// unwinding in the main script. Its trace starts empty: the frames the
/// `Cancelled` error may carry are those of a cancelled task it awaited,
/// while the trace of an interrupt is the main script's own (the unwind
/// adds those frames).
#[cold]
pub fn interrupted_error() -> Error {
    Error::new(ErrorKind::Interrupted, MESSAGE)
}

/// Before a REPL entry runs: a Ctrl-C that came while no entry ran (or
/// that its entry never noticed) is dropped, and the count starts again,
/// so the next Ctrl-C is a "first" one again.
pub fn new_entry() {
    if !INSTALLED.load(Ordering::SeqCst) {
        return;
    }
    let mut main = MAIN.lock();
    if main.pending || main.token.as_ref().is_some_and(|t| t.is_cancelled()) {
        main.pending = false;
        main_flag().store(false, Ordering::SeqCst);
        let fresh = CancelToken::new();
        if let Some(old) = main.token.replace(fresh) {
            main.retired.push(old);
        }
    }
    main.found.clear();
    COUNT.store(0, Ordering::SeqCst);
}

/// The lines of the uncaught-`Interrupted` report after the error and its
/// trace: the tasks Ctrl-C found running and where each stopped (waiting
/// up to 50 ms in all for them to stop). Empty when there were none.
pub fn running_tasks_report() -> Vec<String> {
    let found = std::mem::take(&mut MAIN.lock().found);
    if found.is_empty() {
        return Vec::new();
    }
    let mut lines = vec!["tasks still running at the interrupt (cancelled):".to_string()];
    lines.extend(task_registry::interrupted_report(
        &found,
        Duration::from_millis(50),
    ));
    lines
}

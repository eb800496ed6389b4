//! `init` under `--mpi`: once per thread per rank per call.
//!
//! Each chunk runs through the local `parallel_*` function, whose `init`
//! runs once per thread per *local* call, that is per chunk. To run it once
//! per thread for the whole distributed call instead, each rank leases a
//! [`Slot`] for the call: a native function stands in for `init` in the
//! options of the local calls, and keeps the state of each thread that
//! called it (the real `init` runs on a thread's first call, and an `init`
//! that threw keeps its error, as locally). The lease ends, and the states
//! are dropped, when the call ends on that rank.
//!
//! Natives cannot capture, so there is a fixed number of slots, each with
//! its own native function; with every slot taken (more than [`SLOTS`]
//! distributed calls at once in one process, which only the in-process
//! tests do) the call forwards the script's `init` as is: once per thread
//! per chunk.

use std::thread::{self, ThreadId};

use parking_lot::Mutex;

use crate::error::Result;
use crate::value::{NativeFn, Value};
use crate::vm::Vm;

/// How many calls can lease a slot at once in one process.
pub const SLOTS: usize = 16;

/// One leased call's `init` and the states made so far.
#[derive(Debug)]
struct Slot {
    init: Value,
    states: Vec<(ThreadId, Result<Value>)>,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Mutex<Option<Slot>> = Mutex::new(None);
static TABLE: [Mutex<Option<Slot>>; SLOTS] = [FREE; SLOTS];

/// The state of this thread for the call leasing slot `I`.
fn state<const I: usize>(vm: &mut Vm, _args: &[Value]) -> Result<Value> {
    let me = thread::current().id();
    let init = {
        let slot = TABLE[I].lock();
        let Some(slot) = slot.as_ref() else {
            return Err(crate::error::Error::value_error(
                "internal error under --mpi: init of a call that is over",
            ));
        };
        if let Some((_, s)) = slot.states.iter().find(|(t, _)| *t == me) {
            return s.clone();
        }
        slot.init.clone()
    };
    // Not under the lock: `init` is script code and may take long.
    let made = vm.call(&init, &[]);
    if let Some(slot) = TABLE[I].lock().as_mut() {
        slot.states.push((me, made.clone()));
    }
    made
}

macro_rules! natives {
    ($($i:literal)*) => {
        [$(NativeFn { name: "init", f: state::<$i> }),*]
    };
}

static NATIVES: [NativeFn; SLOTS] = natives!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15);

/// A call's slot: the native standing in for its `init`; freed on drop.
#[derive(Debug)]
pub struct Lease(usize);

impl Lease {
    /// Leases a free slot for `init`; `None` if every slot is taken.
    pub fn take(init: &Value) -> Option<Lease> {
        (0..SLOTS).find_map(|i| {
            let mut slot = TABLE[i].try_lock()?;
            if slot.is_some() {
                return None;
            }
            *slot = Some(Slot {
                init: init.clone(),
                states: Vec::new(),
            });
            Some(Lease(i))
        })
    }

    /// The native to pass as the local calls' `init`.
    pub fn native(&self) -> Value {
        Value::Native(&NATIVES[self.0])
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Take the states out before dropping them: their drop may run
        // script-visible finalisation of values, never under the lock.
        let old = TABLE[self.0].lock().take();
        drop(old);
    }
}

/// `opts` with its `init` replaced by `lease`'s native (other keys kept,
/// in order), and the lease; `opts` as is without an `init` or a free
/// slot.
pub fn lease(opts: &Value) -> (Value, Option<Lease>) {
    let Value::Map(m) = opts else {
        return (opts.clone(), None);
    };
    let Some(init) = super::service::option(opts, "init") else {
        return (opts.clone(), None);
    };
    let Some(lease) = Lease::take(init) else {
        return (opts.clone(), None);
    };
    let mut out = crate::map::Map::with_capacity(m.len());
    for (k, v) in m.iter() {
        let v = match &k.0 {
            Value::Str(s) if s.as_str() == "init" => lease.native(),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    (Value::map(out), Some(lease))
}

//! Scale-out over MPI: `mpirun -np K weft --mpi script.weft` runs the
//! script on rank 0 and spreads the chunks of `parallel_map`,
//! `parallel_filter`, `parallel_for_each`, `parallel_reduce` and
//! `parallel_fold` over all K ranks, each rank
//! running its chunks on its own pool (as mpi4py.futures does for Python).
//! The protocol — messages, states, who waits for what, why it cannot
//! deadlock, how idle ranks use no CPU — is in `README.md` next to this
//! file; the user's side is `docs/mpi.md`.
//!
//! Layout (one concept per file):
//! - [`wire`]: bytes (varints, floats, strings); [`codec`]: values (an
//!   explicit walk, sharing kept, handles refused with their path);
//! - [`program`]: stable function ids, what each function may read, the
//!   program fingerprint, natives by name; [`snapshot`]: the module
//!   variables a call carries;
//! - [`message`]: the messages; [`link`]: a rank's send queue and inbox
//!   (and the in-process [`link::fake_network`] the tests use);
//! - [`executor`]: rank 0's side of a call; [`service`]: the other ranks';
//!   [`init`]: `init` once per thread per rank per call;
//!   [`handshake`]: start-up (fingerprints, verdict);
//! - with the `mpi` cargo feature: `comm` (the thread that owns MPI) and
//!   `launch` (what `weft --mpi` runs).
//!
//! Everything but the MPI transport builds and is tested without MPI.
//!
//! The hook in the parallel functions is [`dispatch`]: it returns `None`
//! (run locally, as always) unless this process is rank 0 of a job with
//! more than one rank, and the call is one it can distribute.

pub mod codec;
pub mod executor;
pub mod handshake;
pub mod init;
pub mod link;
pub mod message;
pub mod program;
pub mod service;
pub mod snapshot;
pub mod wire;

#[cfg(feature = "mpi")]
mod comm;
#[cfg(feature = "mpi")]
pub mod launch;

#[cfg(test)]
mod test;

use std::sync::OnceLock;

pub use executor::Context;
pub use message::Kind;

use crate::error::Result;
use crate::value::Value;
use crate::vm::Vm;

/// Rank 0's executor, set once MPI is up and every rank agreed.
static CONTEXT: OnceLock<Context> = OnceLock::new();

/// Installs rank 0's executor: from now on [`dispatch`] distributes.
/// Fails (handing it back) if one is installed already.
pub fn install(ctx: Context) -> std::result::Result<(), Box<Context>> {
    CONTEXT.set(ctx).map_err(Box::new)
}

/// Whether parallel calls are distributed (rank 0 of an MPI job of more
/// than one rank).
#[inline]
pub fn active() -> bool {
    CONTEXT.get().is_some()
}

/// The hook of the `parallel_*` functions:
/// `Some(result)` if the call was run over every rank, `None` to run it
/// locally as usual.
#[inline]
pub fn dispatch(vm: &mut Vm, kind: Kind, args: &[Value]) -> Option<Result<Value>> {
    CONTEXT.get()?.dispatch(vm, kind, args)
}

/// Rank 0's executor, if this process is rank 0 of a job of more than one
/// rank.
pub fn context() -> Option<&'static Context> {
    CONTEXT.get()
}

/// What the distributed calls did so far, on rank 0 of a job of more than
/// one rank.
pub fn stats() -> Option<executor::Stats> {
    CONTEXT.get().map(Context::stats)
}

/// Called by [`crate::runtime::finish`] (the end of the script, or
/// `exit(n)`): under `--mpi`, tells the other ranks to stop and shuts MPI
/// down; without it, nothing.
pub fn at_exit(code: i32) {
    #[cfg(feature = "mpi")]
    launch::at_exit(code);
    #[cfg(not(feature = "mpi"))]
    let _ = code;
}

//! Fork-join: run two closures, potentially in parallel, and wait for both.
//!
//! On a pool thread, `b` is pushed on the thread's deque (where an idle
//! thread may steal it) and `a` runs at once; then the thread pops `b` back
//! and runs it itself, or, if `b` was stolen, runs other work until `b` is
//! done (help-first). Off the pool, the whole join is installed on the pool.

use std::panic::{self, AssertUnwindSafe};

use super::cancel::current_task_ptr;
use super::job::StackJob;
use super::latch::SpinLatch;
use super::registry::WorkerThread;

/// What a closure passed to [`ThreadPool::join_context`](super::ThreadPool::join_context)
/// learns about where it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JoinContext {
    migrated: bool,
}

impl JoinContext {
    pub(crate) fn new(migrated: bool) -> Self {
        JoinContext { migrated }
    }

    /// True if the closure runs on a different thread than the one that
    /// called `join` (it was stolen). A parallel loop uses this to split
    /// more when work is being stolen (the work is uneven).
    pub fn migrated(&self) -> bool {
        self.migrated
    }
}

/// `join_context` on the pool thread `worker`.
pub(crate) fn join_on_worker<A, B, RA, RB>(worker: &WorkerThread, a: A, b: B) -> (RA, RB)
where
    A: FnOnce(JoinContext) -> RA + Send,
    B: FnOnce(JoinContext) -> RB + Send,
    RA: Send,
    RB: Send,
{
    let latch = SpinLatch::new(worker.registry(), worker.index());
    let job_b = StackJob::new(
        move |migrated| b(JoinContext::new(migrated)),
        latch,
        current_task_ptr(),
    );
    // SAFETY: `job_b` lives on this frame until its latch is set (we wait
    // below, even if `a` panics) or until we pop it back and run it inline.
    let job_b_ref = unsafe { job_b.as_job_ref() };
    let job_b_id = job_b_ref.id();
    worker.push(job_b_ref);

    let result_a = match panic::catch_unwind(AssertUnwindSafe(|| a(JoinContext::new(false)))) {
        Ok(r) => r,
        Err(payload) => {
            // `b` may still be queued or running: it borrows from the
            // caller's frame, so wait for it before unwinding.
            worker.wait_until(job_b.latch.core(), None);
            panic::resume_unwind(payload);
        }
    };

    while !job_b.latch.core().probe() {
        match worker.take_local_job() {
            Some(job) if job.id() == job_b_id => {
                // Not stolen: run it here.
                let result_b = job_b.run_inline();
                return (result_a, result_b);
            }
            // Work `a` spawned and left on top of `b`.
            Some(job) => worker.execute(job),
            None => {
                // Stolen: help until it is done.
                worker.wait_until(job_b.latch.core(), None);
                break;
            }
        }
    }
    (result_a, job_b.into_result())
}

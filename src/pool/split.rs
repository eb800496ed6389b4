//! A parallel loop over an index range, split adaptively (the pool's own
//! small use of `join_context`, and a model for data-parallel callers).
//!
//! The range is halved while a split budget lasts; the budget starts at the
//! worker count and is halved at each split, and a half that was stolen
//! (so some thread ran dry) gets the budget back: uneven work is split finer
//! exactly where stealing happens. With `work_stealing = false` the range is
//! cut into one equal chunk per worker and dealt round-robin (nobody steals).

use std::ops::Range;

use super::cancel::current_task_ptr;
use super::job::StackJob;
use super::join::JoinContext;
use super::latch::SpinLatch;
use super::registry::WorkerThread;
use super::ThreadPool;

#[derive(Clone, Copy)]
struct Splitter {
    splits: usize,
    threads: usize,
}

impl Splitter {
    fn try_split(&mut self, migrated: bool) -> bool {
        if migrated {
            self.splits = self.threads.max(self.splits / 2);
            true
        } else if self.splits > 0 {
            self.splits /= 2;
            true
        } else {
            false
        }
    }
}

fn split_loop<F>(
    pool: &ThreadPool,
    range: Range<usize>,
    min_len: usize,
    mut splitter: Splitter,
    migrated: bool,
    f: &F,
) where
    F: Fn(Range<usize>) + Sync,
{
    let len = range.end - range.start;
    if len / 2 >= min_len && splitter.try_split(migrated) {
        let mid = range.start + len / 2;
        pool.join_context(
            |ctx: JoinContext| {
                split_loop(pool, range.start..mid, min_len, splitter, ctx.migrated(), f)
            },
            |ctx: JoinContext| {
                split_loop(pool, mid..range.end, min_len, splitter, ctx.migrated(), f)
            },
        );
    } else {
        f(range);
    }
}

impl ThreadPool {
    /// Calls `f` on sub-ranges that together cover `range` exactly once,
    /// in parallel, and returns when all are done. Sub-ranges are at least
    /// `min_len` long (except a shorter whole range). A panic in `f` is
    /// re-raised here after the other sub-ranges finished.
    pub fn parallel_for<F>(&self, range: Range<usize>, min_len: usize, f: F)
    where
        F: Fn(Range<usize>) + Sync,
    {
        if range.start >= range.end {
            return;
        }
        let min_len = min_len.max(1);
        let threads = self.worker_count();
        if self.registry().stealing() {
            let splitter = Splitter {
                splits: threads,
                threads,
            };
            self.install(|| split_loop(self, range, min_len, splitter, false, &f));
        } else {
            self.install(|| deal_chunks(self, range, min_len, &f));
        }
    }
}

/// No-steal mode: one chunk per worker, dealt to the workers' inboxes; the
/// calling worker runs what lands in its own inbox while it waits.
fn deal_chunks<F>(pool: &ThreadPool, range: Range<usize>, min_len: usize, f: &F)
where
    F: Fn(Range<usize>) + Sync,
{
    let len = range.end - range.start;
    let chunks = pool.worker_count().min(len.div_ceil(min_len)).max(1);
    WorkerThread::with_current(|worker| {
        let Some(worker) = worker else {
            f(range.clone());
            return;
        };
        let task = current_task_ptr();
        let jobs: Vec<_> = (0..chunks)
            .map(|i| {
                let lo = range.start + len * i / chunks;
                let hi = range.start + len * (i + 1) / chunks;
                StackJob::new(
                    move |_migrated| f(lo..hi),
                    SpinLatch::new(worker.registry(), worker.index()),
                    task,
                )
            })
            .collect();
        for (i, job) in jobs.iter().enumerate() {
            // SAFETY: `jobs` is not moved or dropped until every latch is
            // set (the loop below waits for all of them, panics included,
            // since job panics are caught into their results).
            let job_ref = unsafe { job.as_job_ref() };
            pool.registry()
                .deal((worker.index() + i) % pool.worker_count(), job_ref);
        }
        for job in &jobs {
            worker.wait_until(job.latch.core(), None);
        }
        for job in jobs {
            job.into_result();
        }
    });
}

//! Tasks as scripts see them: `spawn`, `await`, `await_all`, `await_any`,
//! and the methods `done`, `cancel`, `id` (ASYNC.md, "Tasks").

use crate::error::Error;
use crate::pool::TaskHandle;
use crate::value::Value;

/// A spawned task: the pool's handle to its result, and where it was
/// spawned (for traces).
pub struct TaskObj {
    /// The pool's handle; the result is the script function's outcome.
    pub handle: TaskHandle<Result<Value, Error>>,
    /// The trace frame of the `spawn` call, e.g. `at <main> (x.weft:3:9)`.
    pub spawned_at: String,
}

impl TaskObj {
    /// The task's small, process-unique id.
    pub fn id(&self) -> u64 {
        self.handle.id()
    }
}

impl std::fmt::Debug for TaskObj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<task {}>", self.id())
    }
}

//! Ctrl-C reaching the main script (`src/signal/README.md`): the signal
//! sets the main script's cancel flag and cancels its thread's token, so
//! the VM's usual check at calls and loop back-edges (and every wait) ends
//! in a `Cancelled` error; when such an error starts unwinding on the main
//! script's thread with an interrupt pending, it becomes `Interrupted`
//! here (and the flag is cleared, so the code that catches it runs on).

use super::Vm;
use crate::error::Error;

impl Vm {
    /// Turns the `Cancelled` error `err` into `Interrupted` if it is how a
    /// pending Ctrl-C reached the main script.
    #[cold]
    #[inline(never)]
    pub(super) fn deliver_interrupt(&mut self, err: &mut Error) {
        if crate::signal::take_interrupt() {
            *err = crate::signal::interrupted_error();
        }
    }
}

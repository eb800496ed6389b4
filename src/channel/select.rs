//! [`select`]: receive from whichever of several channels is ready first.

use std::time::Instant;

use super::error::SelectError;
use super::interrupt::Interrupt;
use super::state::Side;
use super::wait::block;
use super::Channel;

/// Waits until one of `chans` has a value or is closed and drained, and
/// returns its index with the value received (`None`: that channel is closed
/// and drained). Channels are scanned from a random index, so a busy channel
/// early in the list does not starve later ones. Fails with
/// [`SelectError::Timeout`] once `deadline` passes, with
/// [`SelectError::Cancelled`] if `interrupt` fires while waiting, and with
/// [`SelectError::NoChannels`] for an empty list. A channel may appear more
/// than once.
///
/// No polling: the thread registers with every channel and parks until one
/// claims it (README, "select").
pub fn select<T>(
    chans: &[&Channel<T>],
    deadline: Option<Instant>,
    interrupt: Option<&dyn Interrupt>,
) -> Result<(usize, Option<T>), SelectError> {
    let n = chans.len();
    if n == 0 {
        return Err(SelectError::NoChannels);
    }
    block(
        chans,
        Side::Recv,
        start_index(n),
        deadline,
        interrupt,
        &mut |st| st.queue.pop_front(),
    )
    .map_err(SelectError::from)
}

/// Where the scan starts: random, except under loom (whose executions must
/// replay deterministically).
fn start_index(n: usize) -> usize {
    #[cfg(not(loom))]
    {
        fastrand::usize(..n)
    }
    #[cfg(loom)]
    {
        let _ = n;
        0
    }
}

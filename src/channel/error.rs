//! Errors, one type per operation (crossbeam-channel style). Errors of
//! sending operations carry back what was not sent: a send either delivers
//! or hands its value back.

use std::error::Error;
use std::fmt;

/// `Channel::bounded(0)`: a capacity must be at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel capacity must be at least 1")
    }
}

impl Error for CapacityError {}

/// Why [`Channel::try_send`](super::Channel::try_send) did not send.
#[derive(Clone, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The (bounded) channel is full; here is the value back.
    Full(T),
    /// The channel is closed; here is the value back.
    Closed(T),
}

/// Why [`Channel::send`](super::Channel::send) did not send.
#[derive(Clone, PartialEq, Eq)]
pub enum SendError<T> {
    /// The channel is (or became, while this send waited) closed.
    Closed(T),
    /// The interrupt fired while this send waited for space.
    Cancelled(T),
}

/// Why [`Channel::send_timeout`](super::Channel::send_timeout) did not send.
#[derive(Clone, PartialEq, Eq)]
pub enum SendTimeoutError<T> {
    /// No space freed up before the deadline.
    Timeout(T),
    /// The channel is (or became, while this send waited) closed.
    Closed(T),
    /// The interrupt fired while this send waited for space.
    Cancelled(T),
}

/// Why [`Channel::send_batch`](super::Channel::send_batch) stopped before
/// sending every item. The first `sent` items were delivered; `unsent` holds
/// the rest, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum SendBatchError<T> {
    /// The channel is (or became, while this batch waited) closed.
    Closed {
        /// How many items (from the front of the batch) were delivered.
        sent: usize,
        /// The items not delivered, in batch order.
        unsent: Vec<T>,
    },
    /// The interrupt fired while this batch waited for space.
    Cancelled {
        /// How many items (from the front of the batch) were delivered.
        sent: usize,
        /// The items not delivered, in batch order.
        unsent: Vec<T>,
    },
}

/// Why [`Channel::try_recv`](super::Channel::try_recv) returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued right now.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

/// Why [`Channel::recv`](super::Channel::recv) (or `recv_batch`) returned no
/// value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// The channel is closed and drained.
    Closed,
    /// The interrupt fired while this receive waited.
    Cancelled,
}

/// Why [`Channel::recv_timeout`](super::Channel::recv_timeout) returned no
/// value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvTimeoutError {
    /// Nothing arrived before the deadline.
    Timeout,
    /// The channel is closed and drained.
    Closed,
    /// The interrupt fired while this receive waited.
    Cancelled,
}

/// Why [`select`](super::select) returned no channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectError {
    /// No channel was ready before the deadline.
    Timeout,
    /// The interrupt fired while select waited.
    Cancelled,
    /// The list of channels was empty: nothing could ever become ready.
    NoChannels,
}

/// How a wait ended without its operation completing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Abort {
    Timeout,
    Cancelled,
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> SendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(v) | SendError::Cancelled(v) => v,
        }
    }
}

impl<T> SendTimeoutError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v)
            | SendTimeoutError::Closed(v)
            | SendTimeoutError::Cancelled(v) => v,
        }
    }
}

impl<T> SendBatchError<T> {
    /// How many items (from the front of the batch) were delivered.
    pub fn sent(&self) -> usize {
        match self {
            SendBatchError::Closed { sent, .. } | SendBatchError::Cancelled { sent, .. } => *sent,
        }
    }

    /// The items not delivered, in batch order.
    pub fn unsent(&self) -> &[T] {
        match self {
            SendBatchError::Closed { unsent, .. } | SendBatchError::Cancelled { unsent, .. } => {
                unsent
            }
        }
    }

    /// The items not delivered, in batch order.
    pub fn into_unsent(self) -> Vec<T> {
        match self {
            SendBatchError::Closed { unsent, .. } | SendBatchError::Cancelled { unsent, .. } => {
                unsent
            }
        }
    }
}

impl From<Abort> for RecvTimeoutError {
    fn from(abort: Abort) -> Self {
        match abort {
            Abort::Timeout => RecvTimeoutError::Timeout,
            Abort::Cancelled => RecvTimeoutError::Cancelled,
        }
    }
}

impl From<Abort> for SelectError {
    fn from(abort: Abort) -> Self {
        match abort {
            Abort::Timeout => SelectError::Timeout,
            Abort::Cancelled => SelectError::Cancelled,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(err: RecvError) -> Self {
        match err {
            RecvError::Closed => RecvTimeoutError::Closed,
            RecvError::Cancelled => RecvTimeoutError::Cancelled,
        }
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(err: SendError<T>) -> Self {
        match err {
            SendError::Closed(v) => SendTimeoutError::Closed(v),
            SendError::Cancelled(v) => SendTimeoutError::Cancelled(v),
        }
    }
}

// Debug without `T: Debug`, like crossbeam-channel: the payload is the
// caller's, and errors must print for any `T`.
impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("Closed(..)"),
            SendError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
            SendTimeoutError::Cancelled(_) => f.write_str("Cancelled(..)"),
        }
    }
}

impl<T> fmt::Debug for SendBatchError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SendBatchError::Closed { .. } => "Closed",
            SendBatchError::Cancelled { .. } => "Cancelled",
        };
        f.debug_struct(name)
            .field("sent", &self.sent())
            .field("unsent", &self.unsent().len())
            .finish()
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("sending on a closed channel"),
            SendError::Cancelled(_) => f.write_str("send cancelled while waiting for space"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting for space to send"),
            SendTimeoutError::Closed(_) => f.write_str("sending on a closed channel"),
            SendTimeoutError::Cancelled(_) => f.write_str("send cancelled while waiting for space"),
        }
    }
}

impl<T> fmt::Display for SendBatchError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, sent, unsent) = match self {
            SendBatchError::Closed { sent, unsent } => ("channel closed", sent, unsent.len()),
            SendBatchError::Cancelled { sent, unsent } => ("cancelled", sent, unsent.len()),
        };
        let s = if *sent == 1 { "" } else { "s" };
        write!(
            f,
            "batch send stopped ({what}) after {sent} item{s}, {unsent} not sent"
        )
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed and drained channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => f.write_str("receiving on a closed and drained channel"),
            RecvError::Cancelled => f.write_str("receive cancelled while waiting"),
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on receive"),
            RecvTimeoutError::Closed => f.write_str("receiving on a closed and drained channel"),
            RecvTimeoutError::Cancelled => f.write_str("receive cancelled while waiting"),
        }
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SelectError::Timeout => f.write_str("timed out waiting on select"),
            SelectError::Cancelled => f.write_str("select cancelled while waiting"),
            SelectError::NoChannels => f.write_str("select needs at least one channel"),
        }
    }
}

impl<T> Error for TrySendError<T> {}
impl<T> Error for SendError<T> {}
impl<T> Error for SendTimeoutError<T> {}
impl<T> Error for SendBatchError<T> {}
impl Error for TryRecvError {}
impl Error for RecvError {}
impl Error for RecvTimeoutError {}
impl Error for SelectError {}

//! Channels as scripts see them (ASYNC.md, "Channels"), on the native
//! [`crate::channel::Channel`].

use crate::channel::Channel;
use crate::value::Value;

/// A channel of Weft values. Copying the `channel` value copies the handle.
#[derive(Debug)]
pub struct ChannelObj {
    /// The native channel.
    pub ch: Channel<Value>,
}

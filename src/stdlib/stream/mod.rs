//! Streams: a channel filled by a dedicated reader thread as the consumer
//! takes items (`fs.lines`, `csv.rows`). The protocol (bounded read-ahead,
//! how the reader learns the consumer stopped, why it is a thread and not
//! a pool job) is written up in `README.md` next to this file.

use crate::channel::{Channel, SendBatchError, SendTimeoutError};
use crate::error::{Error, ErrorKind, Result};
use crate::stdlib::channel::ChannelObj;
use crate::value::Value;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// The channel's capacity: at most this many items wait for the consumer.
pub const CAPACITY: usize = 4096;
/// How long a reader that found the channel (nearly) full pauses after
/// filling one slot, so that it refills in runs.
pub const REFILL_PAUSE: Duration = Duration::from_micros(100);
/// Items read before each delivery.
pub const BATCH: usize = 128;
/// How long a blocked delivery waits before checking that someone still
/// holds the channel.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);
/// A read-ahead limit for [`spawn_limited`] that starts slow: one batch,
/// until the consumer takes its first item (then [`CAPACITY`]). A stream
/// that a parallel call may claim starts so: the call claims it before it
/// takes anything, and items read before the claim are not raw (a few,
/// not thousands, of those).
pub const SLOW_START: usize = BATCH;

/// What a producer gives: the next item, the end (`None`), or an error that
/// ends the stream after the items before it.
pub type Item = Result<Option<Value>>;

/// Starts a reader thread named `weft-NAME` that calls `produce` for items
/// and sends them on a new bounded channel, which is returned. `produce`
/// owns the file (or whatever it reads): it is dropped when the reader
/// stops.
pub fn spawn<P>(name: &str, produce: P) -> Result<Value>
where
    P: FnMut() -> Item + Send + 'static,
{
    spawn_limited(name, Arc::new(AtomicUsize::new(CAPACITY)), produce)
}

/// As [`spawn`], with a read-ahead limit the producer may lower while it
/// runs (`ahead`: at most this many items wait in the channel, at most
/// [`CAPACITY`]). A producer of big items (a claimed `csv.rows` sending
/// blocks of rows) lowers it so that the items waiting stay a few blocks;
/// below [`CAPACITY`] items are delivered one at a time, as soon as made.
pub(crate) fn spawn_limited<P>(name: &str, ahead: Arc<AtomicUsize>, produce: P) -> Result<Value>
where
    P: FnMut() -> Item + Send + 'static,
{
    let obj = Arc::new(ChannelObj::new(Some(CAPACITY))?);
    let weak = Arc::downgrade(&obj);
    let queue = obj.ch.clone();
    // The reader may still fill the channel a script waits on: no deadlock
    // is reported while it runs.
    let pending = crate::runtime::outside_work();
    std::thread::Builder::new()
        .name(format!("weft-{name}"))
        .spawn(move || {
            run(&queue, &weak, &ahead, produce);
            drop(pending);
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::IOError,
                format!("cannot start the {name} reader thread: {e}"),
            )
        })?;
    Ok(Value::Channel(obj))
}

/// The reader's loop.
fn run<P>(queue: &Channel<Value>, weak: &Weak<ChannelObj>, ahead: &AtomicUsize, mut produce: P)
where
    P: FnMut() -> Item,
{
    let mut batch = Vec::with_capacity(BATCH);
    let mut sent = 0;
    loop {
        if gone(queue, weak) {
            return;
        }
        if queue.len() < sent {
            // The consumer took an item: the end of a slow start. (Only
            // this thread writes `ahead`: the producer runs here.)
            let _ =
                ahead.compare_exchange(SLOW_START, CAPACITY, Ordering::Relaxed, Ordering::Relaxed);
        }
        let mut end = None;
        while batch.len() < batch_size(ahead) {
            match produce() {
                Ok(Some(v)) => batch.push(v),
                Ok(None) => {
                    end = Some(None);
                    break;
                }
                Err(e) => {
                    end = Some(Some(e));
                    break;
                }
            }
        }
        sent += batch.len();
        if !deliver(queue, weak, ahead, &mut batch) {
            return;
        }
        match end {
            None => {}
            Some(None) => {
                queue.close();
                return;
            }
            Some(Some(e)) => {
                match weak.upgrade() {
                    Some(obj) => obj.fail(e),
                    None => {
                        queue.close();
                    }
                }
                return;
            }
        }
    }
}

/// How many items to read before a delivery: a batch, but with a limit
/// lowered for big items (below [`SLOW_START`]), each as soon as it is made.
fn batch_size(ahead: &AtomicUsize) -> usize {
    if ahead.load(Ordering::Relaxed) >= SLOW_START {
        BATCH
    } else {
        1
    }
}

/// Whether the consumer has let go: the channel is closed, or no handle to
/// it is left.
fn gone(queue: &Channel<Value>, weak: &Weak<ChannelObj>) -> bool {
    queue.is_closed() || weak.strong_count() == 0
}

/// Sends `batch` (emptying it); `false` if the consumer let go.
fn deliver(
    queue: &Channel<Value>,
    weak: &Weak<ChannelObj>,
    ahead: &AtomicUsize,
    batch: &mut Vec<Value>,
) -> bool {
    let mut items = std::mem::take(batch).into_iter();
    let mut pause = REFILL_PAUSE;
    loop {
        let left = items.len();
        if left == 0 {
            return true;
        }
        // Only this thread sends, so the room can only grow until it does:
        // what fits now goes in at once (one lock, one wakeup).
        let limit = ahead.load(Ordering::Relaxed).min(CAPACITY);
        let room = limit.saturating_sub(queue.len());
        // (Under a lowered limit, whatever fits: the batch may have been
        // made before the limit was lowered.)
        let need = if limit < CAPACITY { 1 } else { left.min(BATCH) };
        if room >= need {
            let chunk: Vec<Value> = items.by_ref().take(room).collect();
            match queue.send_batch(chunk, None) {
                Ok(()) => continue,
                Err(SendBatchError::Closed { .. } | SendBatchError::Cancelled { .. }) => {
                    return false
                }
            }
        }
        if limit < CAPACITY {
            // A lowered limit: the channel's own wait is for its whole
            // capacity, so poll, backing off to `CHECK_EVERY / 50` (2 ms:
            // a few blocks of rows take longer than that to run).
            if gone(queue, weak) {
                return false;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(CHECK_EVERY / 50);
            continue;
        }
        // Little or no room: wait (parked) for one slot and fill it...
        let mut v = items.next().expect("left > 0");
        loop {
            if gone(queue, weak) {
                return false;
            }
            match queue.send_deadline(v, Instant::now().checked_add(CHECK_EVERY), None) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(back)) => v = back,
                Err(SendTimeoutError::Closed(_) | SendTimeoutError::Cancelled(_)) => return false,
            }
        }
        // ...then let the consumer take a run of items before refilling, so
        // a full channel costs one wakeup per run, not one per item.
        std::thread::sleep(REFILL_PAUSE);
    }
}

// ---------------------------------------------------------------------------
// Claiming a stream: raw items decoded by the parallel calls' runners

/// Turns a claimed stream's raw items into the items a plain receiver gets
/// (`csv.rows`: a record's text into its row, or a block of records into
/// its rows). Runs on the parallel calls' runners, so the parsing is
/// spread over the workers instead of being done by the one reader thread.
pub(crate) trait Decode: Send + Sync + std::fmt::Debug {
    /// Decodes the raw items of `items` in place, a block into its rows
    /// (items that are not raw, delivered before the claim, are left as
    /// they are). `Err((k, e))`: the `k`-th item of the result could not
    /// be decoded; `items` holds the `k` before it.
    fn decode(&self, items: &mut Vec<Value>) -> std::result::Result<(), (usize, Error)>;

    /// How many items `item` decodes into (a block: its rows; 1 for
    /// anything else).
    fn weight(&self, item: &Value) -> usize;

    /// The most items one raw item decodes into (1 unless the stream was
    /// claimed with [`Claim::Blocks`]).
    fn max_weight(&self) -> usize;
}

/// What a claimed stream's reader sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// One raw item per item (one record per row): the partition of the
    /// items is the plain stream's (reductions over a fixed tree).
    Items,
    /// Raw blocks of many items (`Decode::max_weight` at most), so that
    /// the per-item costs of the parallel call are paid per block.
    Blocks,
}

/// Mode values of a claimable stream's shared word: not claimed yet.
pub(crate) const UNCLAIMED: u8 = 0;
/// Claimed with [`Claim::Items`].
pub(crate) const CLAIMED_ITEMS: u8 = 1;
/// Claimed with [`Claim::Blocks`].
pub(crate) const CLAIMED_BLOCKS: u8 = 2;

/// A stream whose reader can switch to raw items.
struct Claimable {
    chan: Weak<ChannelObj>,
    /// Set by the claim ([`CLAIMED_ITEMS`], [`CLAIMED_BLOCKS`]): the
    /// reader sends raw items from then on.
    mode: Arc<AtomicU8>,
    decoder: Arc<dyn Decode>,
}

/// The streams not claimed yet (pruned of dead channels on every use).
static CLAIMABLE: Mutex<Vec<Claimable>> = Mutex::new(Vec::new());

/// Registers `chan` (a stream just made by [`spawn`]) as claimable: once
/// claimed (`mode` set), its reader sends raw items that only `decoder`
/// understands.
pub(crate) fn claimable(chan: &Value, mode: Arc<AtomicU8>, decoder: Arc<dyn Decode>) {
    let Value::Channel(c) = chan else { return };
    let mut list = CLAIMABLE.lock();
    list.retain(|c| c.chan.strong_count() > 0);
    list.push(Claimable {
        chan: Arc::downgrade(c),
        mode,
        decoder,
    });
}

/// Claims the stream `input` for a parallel call that takes its items,
/// if it is claimable and nobody else can receive from it: `handles` is
/// how many strong handles the caller accounts for (its own, and the
/// argument it was given). From then on the reader sends raw items, and
/// the caller must pass every chunk it takes through the decoder returned,
/// and count each item as [`Decode::weight`] items.
/// A stream the script also holds (in a variable, a list, a closure) is
/// never claimed: a plain receive must never see a raw item.
pub(crate) fn claim(
    input: &Arc<ChannelObj>,
    handles: usize,
    how: Claim,
) -> Option<Arc<dyn Decode>> {
    let mut list = CLAIMABLE.lock();
    list.retain(|c| c.chan.strong_count() > 0);
    let i = list
        .iter()
        .position(|c| std::ptr::eq(c.chan.as_ptr(), Arc::as_ptr(input)))?;
    if Arc::strong_count(input) > handles {
        return None;
    }
    let c = list.swap_remove(i);
    let mode = match how {
        Claim::Items => CLAIMED_ITEMS,
        Claim::Blocks => CLAIMED_BLOCKS,
    };
    c.mode.store(mode, Ordering::SeqCst);
    Some(c.decoder)
}

#[cfg(test)]
mod test {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    fn counter(n: usize, dropped: Arc<AtomicBool>) -> impl FnMut() -> Item + Send {
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guard = Guard(dropped);
        let mut i = 0;
        move || {
            let _keep = &guard;
            if i == n {
                return Ok(None);
            }
            i += 1;
            Ok(Some(Value::Int(i as i64)))
        }
    }

    fn wait_for(flag: &AtomicBool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !flag.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn chan(v: &Value) -> Arc<ChannelObj> {
        match v {
            Value::Channel(c) => Arc::clone(c),
            _ => panic!("not a channel"),
        }
    }

    #[test]
    fn every_item_arrives_in_order_then_the_end() {
        let dropped = Arc::new(AtomicBool::new(false));
        let v = spawn("test", counter(5000, dropped.clone())).unwrap();
        let c = chan(&v);
        let got: Vec<i64> =
            c.ch.iter()
                .map(|v| match v {
                    Value::Int(i) => i,
                    _ => panic!(),
                })
                .collect();
        assert_eq!(got, (1..=5000).collect::<Vec<_>>());
        wait_for(&dropped, "the producer to be dropped at the end");
    }

    #[test]
    fn read_ahead_is_bounded() {
        let produced = Arc::new(AtomicUsize::new(0));
        let p = produced.clone();
        let v = spawn("test", move || {
            p.fetch_add(1, Ordering::SeqCst);
            Ok(Some(Value::Int(1)))
        })
        .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let n = produced.load(Ordering::SeqCst);
        assert!(n <= CAPACITY + 2 * BATCH, "read {n} items ahead");
        assert!(n >= CAPACITY, "read only {n} items ahead");
        drop(v);
    }

    #[test]
    fn dropping_every_handle_stops_the_reader() {
        let dropped = Arc::new(AtomicBool::new(false));
        let v = spawn("test", counter(usize::MAX, dropped.clone())).unwrap();
        let c = chan(&v);
        assert_eq!(c.ch.recv(None).unwrap(), Value::Int(1));
        drop(c);
        drop(v);
        wait_for(
            &dropped,
            "the reader to stop after the handles were dropped",
        );
    }

    #[test]
    fn closing_stops_the_reader() {
        let dropped = Arc::new(AtomicBool::new(false));
        let v = spawn("test", counter(usize::MAX, dropped.clone())).unwrap();
        let c = chan(&v);
        c.ch.close();
        wait_for(&dropped, "the reader to stop after close");
        drop(v);
    }

    #[test]
    fn an_error_comes_after_the_items_before_it() {
        let mut i = 0;
        let v = spawn("test", move || {
            i += 1;
            if i <= 3 {
                Ok(Some(Value::Int(i)))
            } else {
                Err(Error::value_error("bad line 4"))
            }
        })
        .unwrap();
        let c = chan(&v);
        for want in 1..=3 {
            assert_eq!(c.ch.recv(None).unwrap(), Value::Int(want));
        }
        let e = crate::stdlib::channel::iter_next(&c).unwrap_err();
        assert_eq!(e.message(), "bad line 4");
        // Every later receive throws it too.
        assert!(crate::stdlib::channel::iter_next(&c).is_err());
    }
}

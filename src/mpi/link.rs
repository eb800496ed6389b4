//! A rank's connection to the others: sending is queueing (it never
//! blocks), receiving is a channel of [`Envelope`]s that the transport
//! fills. Two transports exist: MPI ([`super::comm`], with the `mpi`
//! feature) and [`fake_network`], ranks on threads of one process, which
//! the tests use to run the real executor and service without MPI.
//!
//! Before a message is queued for its receiver, the receiving rank's
//! [`Watch`] looks at it: a `Stop` or `Shutdown` must reach a chunk that is
//! already running (its thread is busy and reads no messages), so the
//! watch sets that chunk's cancel flag on the spot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use parking_lot::Mutex;

use super::message::{peek, Peek};

/// A received message.
#[derive(Debug)]
pub struct Envelope {
    /// The sender's rank.
    pub from: usize,
    /// The message.
    pub bytes: Vec<u8>,
    /// When it arrived (was handed to this rank's inbox).
    pub at: Instant,
}

/// How messages leave a rank.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Queues `bytes` for rank `to`; never blocks. A message to a rank
    /// that is gone is dropped (MPI ends the whole job in that case).
    fn send(&self, to: usize, bytes: Vec<u8>);
}

/// The receiving end's hand-off: watches, then queues.
#[derive(Clone, Debug)]
pub struct Delivery {
    tx: Sender<Envelope>,
    watch: Arc<Watch>,
}

impl Delivery {
    /// How long the rank has been waiting for a message (`None`: it is
    /// not waiting). The MPI thread polls hard for a short while when
    /// someone waits.
    pub fn waiting_for(&self) -> Option<Duration> {
        self.watch.waiting_for()
    }

    /// Hands a message to the rank; `false` if it no longer listens.
    pub fn deliver(&self, from: usize, bytes: Vec<u8>) -> bool {
        self.watch.observe(&bytes);
        self.tx
            .send(Envelope {
                from,
                bytes,
                at: Instant::now(),
            })
            .is_ok()
    }
}

/// A new inbox: the delivery side (for the transport) and the receiving
/// side (for the rank).
pub fn inbox() -> (Delivery, Receiver<Envelope>, Arc<Watch>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let watch = Arc::new(Watch::default());
    (
        Delivery {
            tx,
            watch: watch.clone(),
        },
        rx,
        watch,
    )
}

/// One rank's view of the job.
#[derive(Debug)]
pub struct Link {
    /// This rank.
    pub rank: usize,
    /// How many ranks.
    pub size: usize,
    /// This rank's host name.
    pub host: String,
    transport: Arc<dyn Transport>,
    inbox: Receiver<Envelope>,
    /// Stops and shutdowns seen on arrival.
    pub watch: Arc<Watch>,
}

impl Link {
    /// A link over `transport` receiving from `inbox`.
    pub fn new(
        rank: usize,
        size: usize,
        host: String,
        transport: Arc<dyn Transport>,
        inbox: Receiver<Envelope>,
        watch: Arc<Watch>,
    ) -> Link {
        Link {
            rank,
            size,
            host,
            transport,
            inbox,
            watch,
        }
    }

    /// Queues `bytes` for rank `to`.
    pub fn send(&self, to: usize, bytes: Vec<u8>) {
        self.transport.send(to, bytes);
    }

    /// Waits for the next message (no CPU used while waiting); `None` once
    /// the transport is gone.
    pub fn recv(&self) -> Option<Envelope> {
        if let Ok(env) = self.inbox.try_recv() {
            return Some(env);
        }
        self.watch.begin_wait();
        let r = self.inbox.recv().ok();
        self.watch.end_wait();
        r
    }

    /// As [`recv`](Self::recv), giving up after `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Envelope, RecvTimeoutError> {
        if let Ok(env) = self.inbox.try_recv() {
            return Ok(env);
        }
        self.watch.begin_wait();
        let r = self.inbox.recv_timeout(timeout);
        self.watch.end_wait();
        r
    }

    /// The next message if one is queued.
    pub fn try_recv(&self) -> Result<Envelope, TryRecvError> {
        self.inbox.try_recv()
    }

    /// The inbox itself, to wait on it together with other channels
    /// (bracket the wait with [`Watch::begin_wait`] / [`Watch::end_wait`]).
    pub fn inbox(&self) -> &Receiver<Envelope> {
        &self.inbox
    }
}

/// What a rank's arriving messages said about the chunk it runs, and
/// whether the rank is waiting for a message.
#[derive(Debug, Default)]
pub struct Watch {
    state: Mutex<WatchState>,
    /// When the rank began waiting (nanoseconds since [`epoch`], +1), or 0
    /// when it is not waiting.
    waiting_since: AtomicU64,
}

/// The zero of [`Watch`]'s wait clock.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[derive(Debug, Default)]
struct WatchState {
    /// The latest call stopped, and the first index that need not run.
    stop: Option<(u64, u64)>,
    shutdown: bool,
    /// The chunk running: call, first index, its cancel flag.
    running: Option<(u64, u64, Arc<AtomicBool>)>,
}

impl WatchState {
    fn stops(&self, call: u64, start: u64) -> bool {
        self.shutdown || matches!(self.stop, Some((c, from)) if c == call && start >= from)
    }
}

impl Watch {
    /// A thread of this rank starts waiting for a message.
    pub fn begin_wait(&self) {
        let now = epoch().elapsed().as_nanos() as u64 + 1;
        // Nested waits keep the first start.
        let _ = self
            .waiting_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// It stopped waiting.
    pub fn end_wait(&self) {
        self.waiting_since.store(0, Ordering::Relaxed);
    }

    /// How long the rank has been waiting for a message, if it is.
    pub fn waiting_for(&self) -> Option<Duration> {
        match self.waiting_since.load(Ordering::Relaxed) {
            0 => None,
            t => Some(
                epoch()
                    .elapsed()
                    .saturating_sub(Duration::from_nanos(t - 1)),
            ),
        }
    }

    /// Looks at an arriving message (on the transport's thread).
    pub fn observe(&self, bytes: &[u8]) {
        match peek(bytes) {
            Peek::Stop { call, from } => {
                let mut st = self.state.lock();
                st.stop = match st.stop {
                    Some((c, f)) if c == call => Some((call, f.min(from))),
                    _ => Some((call, from)),
                };
                if let Some((c, start, flag)) = &st.running {
                    if st.stops(*c, *start) {
                        flag.store(true, Ordering::Relaxed);
                    }
                }
            }
            Peek::Shutdown => {
                let mut st = self.state.lock();
                st.shutdown = true;
                if let Some((_, _, flag)) = &st.running {
                    flag.store(true, Ordering::Relaxed);
                }
            }
            Peek::Bye | Peek::Other => {}
        }
    }

    /// Starts running the chunk of `call` at `start`: its cancel flag, or
    /// `None` if a stop already covers it.
    pub fn begin(&self, call: u64, start: u64) -> Option<Arc<AtomicBool>> {
        let mut st = self.state.lock();
        if st.stops(call, start) {
            return None;
        }
        let flag = Arc::new(AtomicBool::new(false));
        st.running = Some((call, start, flag.clone()));
        Some(flag)
    }

    /// The running chunk ended.
    pub fn end(&self) {
        self.state.lock().running = None;
    }

    /// Whether a `Shutdown` arrived.
    pub fn shutting_down(&self) -> bool {
        self.state.lock().shutdown
    }
}

/// Ranks on threads of this process: the links of ranks `0..n`, each
/// message delivered straight into the receiver's inbox.
pub fn fake_network(n: usize) -> Vec<Link> {
    let mut deliveries = Vec::new();
    let mut ends = Vec::new();
    for _ in 0..n {
        let (d, rx, watch) = inbox();
        deliveries.push(d);
        ends.push((rx, watch));
    }
    let deliveries = Arc::new(deliveries);
    ends.into_iter()
        .enumerate()
        .map(|(rank, (rx, watch))| {
            let transport = Arc::new(FakeTransport {
                me: rank,
                peers: deliveries.clone(),
            });
            Link::new(rank, n, "fake".into(), transport, rx, watch)
        })
        .collect()
}

/// [`fake_network`]'s transport.
#[derive(Debug)]
struct FakeTransport {
    me: usize,
    peers: Arc<Vec<Delivery>>,
}

impl Transport for FakeTransport {
    fn send(&self, to: usize, bytes: Vec<u8>) {
        if let Some(d) = self.peers.get(to) {
            d.deliver(self.me, bytes);
        }
    }
}

//! The thread that owns MPI (the `mpi` feature).
//!
//! One thread per rank makes every MPI call: it initialises MPI
//! (`MPI_THREAD_FUNNELED`: only this thread calls MPI), sends what the
//! rank queues (`MPI_Isend`, never a blocking send), receives what arrives
//! (`MPI_Improbe`, then `MPI_Mrecv` of the matched message) into the
//! rank's inbox, and finalises MPI at the end. The rank's other threads
//! only touch channels: sending never blocks them, and a thread waiting
//! for a message sleeps on its inbox.
//!
//! Polling. MPI has no wait that does not spin (a blocking `MPI_Recv`
//! burns a core), so this thread polls with `MPI_Improbe` and sleeps
//! between polls on its command channel with a timeout that doubles from
//! [`MIN_NAP`] to [`MAX_NAP`] while nothing happens, and drops back after
//! any traffic (first [`HOT_POLLS`] polls that only yield). A queued send
//! wakes it at once. Rank 0 polls only while it expects an answer (a
//! `Hello`, a chunk's answer, a `Bye`) or a send is in progress; between
//! parallel calls its MPI thread sleeps on the channel alone. The other
//! ranks poll all the time, at most every [`MAX_NAP`]: a wake-up costs a
//! few microseconds, so an idle rank uses well under 1% of a core.
//!
//! No deadlock: no MPI call here waits for another rank, except `Mrecv`
//! of a message already matched (its data is on the way: the sender's
//! `Isend` was posted, and the sender's MPI thread, polling or sleeping
//! at most [`MAX_NAP`], keeps making progress), and the start-up
//! collectives every rank enters together.

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use mpi::point_to_point::MatchedReceiveVec;
use mpi::request::{Request, StaticScope};
use mpi::traits::*;

use super::link::{self, Delivery, Link, Transport};
use super::message;

/// Polls that only yield after traffic, before the first nap.
const HOT_POLLS: u32 = 64;
/// How long the MPI thread keeps polling without naps once a thread of
/// its rank waits for a message (the answer it waits for is usually
/// close: the next chunk, or the last answers of a call), before it falls
/// back to naps.
pub const SPIN_WHILE_WAITED: Duration = Duration::from_millis(2);
/// The first nap after the hot polls.
const MIN_NAP: Duration = Duration::from_micros(20);
/// The longest nap between polls while traffic is recent (and always on
/// rank 0, which polls only during parallel calls).
pub const MAX_NAP: Duration = Duration::from_millis(1);
/// The longest nap of a rank that has heard nothing for [`DEEP_AFTER`]:
/// between parallel calls.
pub const DEEP_NAP: Duration = Duration::from_millis(5);
/// Quiet time after which a serving rank naps up to [`DEEP_NAP`].
pub const DEEP_AFTER: Duration = Duration::from_millis(50);

/// What the rank's other threads ask of the MPI thread.
enum Cmd {
    /// Send these bytes to that rank.
    Send(usize, Vec<u8>),
    /// Rank 0 said `Shutdown` to everyone: wait for every `Bye` (until the
    /// deadline, else abort with the status), finish sends, finalise.
    Finish { deadline: Instant, code: i32 },
    /// End the whole job now with this status (`MPI_Abort`).
    Abort(i32),
}

/// What MPI said about this rank at start-up.
#[derive(Clone, Debug)]
pub struct Info {
    /// This rank.
    pub rank: usize,
    /// How many ranks.
    pub size: usize,
    /// The host name (`MPI_Get_processor_name`).
    pub host: String,
    /// How many ranks on this host (this one included) may use exactly the
    /// same CPUs as this one (they share them).
    pub sharing: usize,
}

/// The handle on the MPI thread.
#[derive(Debug)]
pub struct Comm {
    tx: Sender<Cmd>,
    thread: Option<JoinHandle<()>>,
}

/// [`Transport`] through the MPI thread.
#[derive(Debug)]
struct MpiTransport {
    tx: Sender<Cmd>,
}

impl Transport for MpiTransport {
    fn send(&self, to: usize, bytes: Vec<u8>) {
        let _ = self.tx.send(Cmd::Send(to, bytes));
    }
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Send(to, b) => write!(f, "Send({to}, {} bytes)", b.len()),
            Cmd::Finish { code, .. } => write!(f, "Finish({code})"),
            Cmd::Abort(c) => write!(f, "Abort({c})"),
        }
    }
}

/// Starts the MPI thread: MPI is initialised there. Returns what MPI said,
/// the rank's link, and the handle.
pub fn start() -> Result<(Info, Link, Comm), String> {
    let (info_tx, info_rx) = crossbeam_channel::bounded(1);
    let (tx, rx) = crossbeam_channel::unbounded();
    let (delivery, inbox, watch) = link::inbox();
    let thread = thread::Builder::new()
        .name("weft-mpi".into())
        .spawn(move || run(rx, delivery, info_tx))
        .map_err(|e| format!("cannot start the MPI thread: {e}"))?;
    let info: Info = match info_rx.recv() {
        Ok(Ok(info)) => info,
        Ok(Err(why)) => return Err(why),
        Err(_) => return Err("MPI could not be initialised".into()),
    };
    let transport = Arc::new(MpiTransport { tx: tx.clone() });
    let link = Link::new(
        info.rank,
        info.size,
        info.host.clone(),
        transport,
        inbox,
        watch,
    );
    Ok((
        info,
        link,
        Comm {
            tx,
            thread: Some(thread),
        },
    ))
}

impl Comm {
    /// Queues `bytes` for rank `to`.
    pub fn send(&self, to: usize, bytes: Vec<u8>) {
        let _ = self.tx.send(Cmd::Send(to, bytes));
    }

    /// Rank 0, at the end: every other rank was sent `Shutdown`; waits for
    /// their `Bye`s (at most until `deadline`, then aborts the job with
    /// `code`), then MPI is finalised. Other ranks: finishes the sends in
    /// progress, then finalises.
    pub fn finish(&mut self, deadline: Instant, code: i32) {
        let _ = self.tx.send(Cmd::Finish { deadline, code });
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Ends the whole job with `code` (MPI kills every rank). Does not
    /// return.
    pub fn abort(&self, code: i32) -> ! {
        let _ = self.tx.send(Cmd::Abort(code));
        // The MPI thread ends the process; if it is gone, do it here.
        thread::sleep(Duration::from_secs(5));
        std::process::exit(code)
    }
}

/// Reports this rank's facts, or why MPI cannot be used.
type InfoTx = Sender<Result<Info, String>>;

/// A send in progress: the request and its buffer (leaked for MPI's
/// `'static` scope, reclaimed once the request completes).
struct Sending {
    request: Request<'static, [u8], StaticScope>,
    buffer: *mut [u8],
}

fn run(rx: Receiver<Cmd>, delivery: Delivery, info_tx: InfoTx) {
    let Some((universe, threading)) = mpi::initialize_with_threading(mpi::Threading::Funneled)
    else {
        let _ = info_tx.send(Err("MPI was already initialised in this process".into()));
        return;
    };
    if threading < mpi::Threading::Funneled {
        let _ = info_tx.send(Err(format!(
            "the MPI library offers thread level {threading:?}; weft needs at least Funneled"
        )));
        return;
    }
    let world = universe.world();
    let rank = world.rank() as usize;
    let size = world.size() as usize;
    let host = mpi::environment::processor_name().unwrap_or_else(|_| "?".into());
    let sharing = sharing(&world, rank);
    let _ = info_tx.send(Ok(Info {
        rank,
        size,
        host,
        sharing,
    }));
    drop(info_tx);

    let mut sending: Vec<Sending> = Vec::new();
    // Rank 0 polls only while answers are due: every other rank's Hello
    // first.
    let mut expected: usize = if rank == 0 { size - 1 } else { 0 };
    let mut finishing: Option<(Instant, i32)> = None;
    let mut quiet: u32 = 0;
    let mut nap = MIN_NAP;
    let mut last_traffic = Instant::now();
    loop {
        let mut busy = false;
        // 1. Commands queued by the rank's threads.
        loop {
            let cmd = match rx.try_recv() {
                Ok(c) => c,
                Err(crossbeam_channel::TryRecvError::Empty) => break,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    // The rank is gone without finishing: end here.
                    finishing.get_or_insert((Instant::now(), 1));
                    break;
                }
            };
            busy = true;
            match cmd {
                Cmd::Send(to, bytes) => {
                    if rank == 0 {
                        expected += answers_due(&bytes);
                    }
                    sending.push(isend(&world, to, bytes));
                }
                Cmd::Finish { deadline, code } => finishing = Some((deadline, code)),
                Cmd::Abort(code) => world.abort(code),
            }
        }
        // 2. Sends that completed give their buffers back.
        sending = sending
            .into_iter()
            .filter_map(|s| match s.request.test() {
                Ok(_) => {
                    // SAFETY: `buffer` came from `Box::leak` in `isend`, and
                    // the request that borrowed it has completed: MPI no
                    // longer reads it and nothing else refers to it, so it
                    // is freed exactly once, here.
                    drop(unsafe { Box::from_raw(s.buffer) });
                    None
                }
                Err(request) => Some(Sending {
                    request,
                    buffer: s.buffer,
                }),
            })
            .collect();
        // 3. Messages that arrived.
        if rank != 0 || expected > 0 || !sending.is_empty() || finishing.is_some() {
            while let Some(probed) = world.any_process().immediate_matched_probe() {
                busy = true;
                let (bytes, status): (Vec<u8>, _) = probed.matched_receive_vec();
                let from = status.source_rank() as usize;
                if rank == 0 && is_answer(&bytes) {
                    expected = expected.saturating_sub(1);
                }
                delivery.deliver(from, bytes);
            }
        }
        // 4. The end.
        if let Some((deadline, code)) = finishing {
            if sending.is_empty() && (rank != 0 || expected == 0) {
                break;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "weft --mpi: rank {rank}: other ranks did not finish in time; aborting the job"
                );
                world.abort(code);
            }
        }
        // 5. Wait: hot after traffic, then naps that grow.
        if busy {
            quiet = 0;
            nap = MIN_NAP;
            last_traffic = Instant::now();
            continue;
        }
        let polling = rank != 0 || expected > 0 || !sending.is_empty() || finishing.is_some();
        if !polling {
            // Rank 0 between calls: nothing to poll for; sleep until asked.
            match rx.recv() {
                Ok(cmd) => {
                    // Put it back in front: handled at the top of the loop.
                    handle_first(cmd, &world, &mut sending, &mut expected, &mut finishing);
                    quiet = 0;
                    nap = MIN_NAP;
                }
                Err(_) => finishing = Some((Instant::now(), 1)),
            }
            continue;
        }
        // A send in progress needs this thread's MPI calls to move on (a
        // large message goes in fragments, or waits for the receiver's
        // go-ahead): keep polling, without naps, until it completes.
        let waited = delivery
            .waiting_for()
            .is_some_and(|d| d < SPIN_WHILE_WAITED);
        if quiet < HOT_POLLS || !sending.is_empty() || waited {
            quiet += 1;
            thread::yield_now();
            continue;
        }
        match rx.recv_timeout(nap) {
            Ok(cmd) => {
                handle_first(cmd, &world, &mut sending, &mut expected, &mut finishing);
                quiet = 0;
                nap = MIN_NAP;
            }
            Err(RecvTimeoutError::Timeout) => {
                let cap = if rank != 0 && last_traffic.elapsed() > DEEP_AFTER {
                    DEEP_NAP
                } else {
                    MAX_NAP
                };
                nap = (nap * 2).min(cap);
            }
            Err(RecvTimeoutError::Disconnected) => {
                finishing.get_or_insert((Instant::now(), 1));
            }
        }
    }
    drop(world);
    // MPI_Finalize.
    drop(universe);
}

/// Handles a command taken while waiting.
fn handle_first(
    cmd: Cmd,
    world: &mpi::topology::SimpleCommunicator,
    sending: &mut Vec<Sending>,
    expected: &mut usize,
    finishing: &mut Option<(Instant, i32)>,
) {
    match cmd {
        Cmd::Send(to, bytes) => {
            if world.rank() == 0 {
                *expected += answers_due(&bytes);
            }
            sending.push(isend(world, to, bytes));
        }
        Cmd::Finish { deadline, code } => *finishing = Some((deadline, code)),
        Cmd::Abort(code) => world.abort(code),
    }
}

/// Starts sending `bytes` to `to`.
fn isend(world: &mpi::topology::SimpleCommunicator, to: usize, bytes: Vec<u8>) -> Sending {
    let leaked: &'static mut [u8] = Box::leak(bytes.into_boxed_slice());
    let buffer: *mut [u8] = leaked;
    // SAFETY: `buffer` points at the leaked allocation above, which stays
    // valid until `run` frees it after the request completes; no `&mut`
    // to it is used from here on, so sharing it as `&'static [u8]` with
    // MPI is sound.
    let shared: &'static [u8] = unsafe { &*buffer };
    let request = world
        .process_at_rank(to as mpi::Rank)
        .immediate_send(StaticScope, shared);
    Sending { request, buffer }
}

/// How many answers rank 0 will get for this message it sends.
fn answers_due(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&message::tags::CHUNK) | Some(&message::tags::SHUTDOWN) => 1,
        _ => 0,
    }
}

/// Whether a message rank 0 receives is an answer it was expecting.
fn is_answer(bytes: &[u8]) -> bool {
    matches!(
        bytes.first(),
        Some(
            &message::tags::HELLO
                | &message::tags::DONE
                | &message::tags::FAILED
                | &message::tags::SKIPPED
                | &message::tags::BYE
        )
    )
}

/// The number of ranks on this host whose CPU set is the same as this
/// rank's (this one included): they share those CPUs.
fn sharing(world: &mpi::topology::SimpleCommunicator, rank: usize) -> usize {
    let local = world.split_shared(rank as mpi::Rank);
    let mine = cpu_set_hash();
    let mut all = vec![0u64; local.size() as usize];
    local.all_gather_into(&mine, &mut all[..]);
    all.iter().filter(|h| **h == mine).count().max(1)
}

fn cpu_set_hash() -> u64 {
    let mut h = super::program::Fnv::new();
    match core_affinity::get_core_ids() {
        Some(ids) => {
            for id in ids {
                h.u64(id.id as u64);
            }
        }
        None => h.str("unknown"),
    }
    h.finish()
}

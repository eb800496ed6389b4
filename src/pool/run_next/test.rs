//! Unit tests of the run-next slot: the slot's own operations and races
//! (with real threads), and the pool's use of it: a woken task runs next on
//! its waker's thread, a thief takes it from a waker that runs on, a
//! ping-pong chain does not starve queued work, a blocking waker hands it
//! over, and the slot counts as queued work.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::RunNext;
use crate::pool::{
    blocking, current_waker, current_worker_index, work_is_waiting, Resumable, Step, ThreadPool,
    ThreadPoolConfig, Waker, WorkerCount,
};

const LIMIT: Duration = Duration::from_secs(20);

fn pool_with(workers: usize, f: impl FnOnce(ThreadPoolConfig) -> ThreadPoolConfig) -> ThreadPool {
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers));
    ThreadPool::new(f(config)).expect("valid config")
}

/// Spins until `done()` holds; panics saying `what` hung after 20 s.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < LIMIT, "hung: {what}");
        thread::yield_now();
    }
}

fn item(n: usize) -> *mut () {
    Box::into_raw(Box::new(n)) as *mut ()
}

fn reclaim(p: *mut ()) -> usize {
    // SAFETY: each item comes from `item` and is reclaimed once (checked
    // by the tests: a second take of one item would show as a duplicate).
    *unsafe { Box::from_raw(p as *mut usize) }
}

#[test]
fn put_returns_the_displaced_occupant_and_take_empties() {
    let slot = RunNext::new();
    assert!(slot.is_empty());
    assert!(slot.take().is_none());
    assert!(slot.put(item(1)).is_none());
    assert!(!slot.is_empty());
    assert_eq!(slot.put(item(2)).map(reclaim), Some(1));
    assert_eq!(slot.puts(), 2);
    assert_eq!(slot.take().map(reclaim), Some(2));
    assert!(slot.is_empty());
    assert!(slot.take().is_none());
}

#[test]
fn a_thief_takes_only_the_occupant_it_saw() {
    let slot = RunNext::new();
    let first = item(1);
    slot.put(first);
    let seen = slot.peek();
    let second = item(2);
    assert_eq!(slot.put(second).map(reclaim), Some(1));
    // `first` is freed, but `second` is alive: its address differs.
    assert!(slot.steal(seen).is_none() || seen == second);
    assert_eq!(slot.steal(second).map(reclaim), Some(2));
    assert!(slot.steal(second).is_none(), "taken twice");
    assert!(slot.steal(std::ptr::null_mut()).is_none());
}

/// The owner puts and takes many items while thieves steal: every item is
/// taken exactly once, by one of them.
#[test]
fn owner_and_thieves_race_every_item_is_taken_once() {
    const ITEMS: usize = 20_000;
    for thieves in [1, 3] {
        let slot = Arc::new(RunNext::new());
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..thieves)
            .map(|_| {
                let (slot, stop) = (slot.clone(), stop.clone());
                thread::spawn(move || {
                    let mut got = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let seen = slot.peek();
                        if !seen.is_null() {
                            got.extend(slot.steal(seen).map(reclaim));
                        }
                    }
                    got
                })
            })
            .collect();
        let mut got = Vec::new();
        for n in 0..ITEMS {
            got.extend(slot.put(item(n)).map(reclaim));
            if n % 3 == 0 {
                got.extend(slot.take().map(reclaim));
            }
        }
        stop.store(true, Ordering::Release);
        for h in handles {
            got.extend(h.join().expect("thief"));
        }
        got.extend(slot.take().map(reclaim));
        got.sort_unstable();
        assert_eq!(got, (0..ITEMS).collect::<Vec<_>>(), "{thieves} thieves");
    }
}

/// Where parked tasks leave their wakers.
#[derive(Clone, Default)]
struct Parked(Arc<Mutex<Vec<Waker>>>);

impl Parked {
    fn take_one(&self, what: &str) -> Waker {
        let start = Instant::now();
        loop {
            if let Some(w) = self.0.lock().unwrap().pop() {
                return w;
            }
            assert!(start.elapsed() < LIMIT, "hung: {what} never parked");
            thread::sleep(Duration::from_micros(100));
        }
    }
}

/// Parks once (leaving its waker in `parked`), then on its second poll
/// runs `then` and finishes.
struct ParkOnce<F> {
    parked: Parked,
    polls: usize,
    then: Option<F>,
}

impl<F: FnOnce() + Send + 'static> Resumable for ParkOnce<F> {
    type Output = ();
    fn resume(&mut self) -> Step<()> {
        self.polls += 1;
        if self.polls == 1 {
            self.parked
                .0
                .lock()
                .unwrap()
                .push(current_waker().expect("a waker while polled"));
            return Step::Park;
        }
        if let Some(f) = self.then.take() {
            f();
        }
        Step::Done(())
    }
}

fn park_once<F: FnOnce() + Send + 'static>(parked: &Parked, then: F) -> ParkOnce<F> {
    ParkOnce {
        parked: parked.clone(),
        polls: 0,
        then: Some(then),
    }
}

/// Runs `f` once as a resumable task.
struct Once<F>(Option<F>);

impl<F: FnOnce() + Send + 'static> Resumable for Once<F> {
    type Output = ();
    fn resume(&mut self) -> Step<()> {
        if let Some(f) = self.0.take() {
            f();
        }
        Step::Done(())
    }
}

#[test]
fn a_woken_task_runs_next_before_the_deque_and_counts_as_queued_work() {
    // One worker: the order is deterministic.
    let pool = Arc::new(pool_with(1, |c| c));
    let order = Arc::new(Mutex::new(Vec::new()));
    let parked = Parked::default();
    let log = order.clone();
    let woken = pool.spawn_resumable(park_once(&parked, move || {
        log.lock().unwrap().push("woken")
    }));
    let waker = parked.take_one("the task to wake");
    let (log, p) = (order.clone(), pool.clone());
    let seen = Arc::new(Mutex::new(None));
    let saw = seen.clone();
    let waker_task = pool.spawn_resumable(Once(Some(move || {
        waker.wake();
        // Only the slot holds work now: it must count as waiting, for the
        // time slice and for quiescence.
        *saw.lock().unwrap() = Some((work_is_waiting(), p.registry().any_queued_work()));
        let log2 = log.clone();
        // Spawned after the wake, so it sits on top of the deque: the
        // woken task still runs first.
        p.spawn(move || log2.lock().unwrap().push("spawned"));
        log.lock().unwrap().push("waker");
    })));
    waker_task.wait().expect("waker");
    woken.wait().expect("woken");
    wait_for("the spawned task", || order.lock().unwrap().len() == 3);
    assert_eq!(*seen.lock().unwrap(), Some((true, true)));
    assert_eq!(*order.lock().unwrap(), ["waker", "woken", "spawned"]);
    assert!(!pool.registry().any_queued_work());
}

/// A waker that runs on until the woken task has run: with more than one
/// worker a thief takes the task once its grace is over. (With one worker
/// only the time slice of a Weft task can help: `tests/scripts/async/park/
/// run_next_spinner.weft`.)
#[test]
fn a_thief_takes_the_task_from_a_waker_that_runs_on() {
    for workers in [2, 8] {
        let pool = Arc::new(pool_with(workers, |c| c));
        let parked = Parked::default();
        let ran_on = Arc::new(AtomicUsize::new(usize::MAX));
        let r = ran_on.clone();
        let woken = pool.spawn_resumable(park_once(&parked, move || {
            r.store(
                current_worker_index().expect("on a worker"),
                Ordering::Release,
            );
        }));
        let waker = parked.take_one("the task to wake");
        let before = pool.stats().stolen();
        let r = ran_on.clone();
        let waker_task = pool.spawn_resumable(Once(Some(move || {
            let me = current_worker_index().expect("on a worker");
            waker.wake();
            wait_for("the woken task while its waker spun", || {
                r.load(Ordering::Acquire) != usize::MAX
            });
            assert_ne!(
                r.load(Ordering::Acquire),
                me,
                "ran on its waker's busy worker"
            );
        })));
        waker_task.wait().expect("waker");
        woken.wait().expect("woken");
        assert!(
            pool.stats().stolen() > before,
            "{workers} workers: not stolen"
        );
    }
}

/// Two tasks that wake each other forever (each parks, the other's wake
/// puts it in the slot) and a third queued task that stops them: the
/// chain inherits one time slice, so the third runs.
#[test]
fn a_ping_pong_pair_does_not_starve_a_queued_task() {
    for workers in [1, 2, 8] {
        let pool = Arc::new(pool_with(workers, |c| c.with_time_slice_ms(1)));
        let stop = Arc::new(AtomicBool::new(false));
        let hops = Arc::new(AtomicUsize::new(0));
        // One lock over both slots: taking the other's waker and leaving
        // one's own is one step, so two resumes running at once on two
        // workers cannot both find the other's slot empty and both park
        // with nobody to wake them (which hung the test, not the pool).
        let slots: Arc<Mutex<[Option<Waker>; 2]>> = Arc::new(Mutex::new([None, None]));

        struct Pong {
            me: usize,
            stop: Arc<AtomicBool>,
            hops: Arc<AtomicUsize>,
            slots: Arc<Mutex<[Option<Waker>; 2]>>,
        }
        impl Resumable for Pong {
            type Output = ();
            fn resume(&mut self) -> Step<()> {
                let mut slots = self.slots.lock().unwrap();
                let other = slots[1 - self.me].take();
                if self.stop.load(Ordering::Acquire) {
                    drop(slots);
                    if let Some(w) = other {
                        w.wake();
                    }
                    return Step::Done(());
                }
                slots[self.me] = current_waker();
                drop(slots);
                self.hops.fetch_add(1, Ordering::Relaxed);
                if let Some(w) = other {
                    w.wake();
                }
                Step::Park
            }
        }
        let pair: Vec<_> = (0..2)
            .map(|me| {
                pool.spawn_resumable(Pong {
                    me,
                    stop: stop.clone(),
                    hops: hops.clone(),
                    slots: slots.clone(),
                })
            })
            .collect();
        wait_for("the pair to start", || hops.load(Ordering::Relaxed) > 10);
        let s = stop.clone();
        let third = pool.spawn(move || s.store(true, Ordering::Release));
        // The third task stops the pair; if the chain starved it, this
        // would hang (the pair never stops by itself).
        let start = Instant::now();
        while third.status() != crate::pool::TaskStatus::Done {
            assert!(
                start.elapsed() < LIMIT,
                "hung: {workers} workers: the queued task never ran behind a ping-pong pair"
            );
            thread::sleep(Duration::from_millis(1));
        }
        third.wait().expect("third");
        // Wake whichever of the pair is parked last, so both finish.
        let parked: Vec<Waker> = slots
            .lock()
            .unwrap()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for w in parked {
            w.wake();
        }
        for t in pair {
            t.wait().expect("pong");
        }
    }
}

/// A waker that blocks (a wait that cannot park) hands its run-next task
/// over: a spare or another worker runs it meanwhile.
#[test]
fn a_blocking_waker_hands_its_run_next_task_over() {
    for workers in [1, 2, 8] {
        let pool = Arc::new(pool_with(workers, |c| c));
        let parked = Parked::default();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let woken =
            pool.spawn_resumable(park_once(&parked, move || r.store(true, Ordering::Release)));
        let waker = parked.take_one("the task to wake");
        let r = ran.clone();
        let waker_task = pool.spawn_resumable(Once(Some(move || {
            waker.wake();
            blocking(|| {
                wait_for("the woken task while its waker blocked", || {
                    r.load(Ordering::Acquire)
                })
            });
        })));
        waker_task.wait().expect("waker");
        woken.wait().expect("woken");
    }
}

//! Unit tests of the channel binding: argument checks and error kinds, and
//! the cancellation wiring (a pool task blocked in a channel call is woken
//! with `Cancelled`) with 1, 2 and 16 workers. Scripts cover the rest
//! (tests/scripts/channels/, tests/channel_scripts_stress.rs).

use super::*;
use crate::pool::{ThreadPool, ThreadPoolConfig, WorkerCount};
use std::thread;

fn obj(capacity: Option<usize>) -> Arc<ChannelObj> {
    Arc::new(ChannelObj::new(capacity).expect("capacity is valid"))
}

fn val(c: &Arc<ChannelObj>) -> Value {
    Value::Channel(Arc::clone(c))
}

fn pool(workers: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers)))
        .expect("the pool starts")
}

/// Waits (test only: polls) until `ready()` holds.
fn until(mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition never held"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

fn kind(r: Result<Value>) -> ErrorKind {
    r.expect_err("the call should fail").kind()
}

#[test]
fn constructor_checks_capacity() {
    let mut vm = Vm::new();
    assert!(matches!(channel(&mut vm, &[]), Ok(Value::Channel(_))));
    match channel(&mut vm, &[Value::Int(3)]) {
        Ok(Value::Channel(c)) => assert_eq!(c.ch.capacity(), Some(3)),
        other => panic!("expected a channel, got {other:?}"),
    }
    match channel(&mut vm, &[Value::Int(0)]) {
        Ok(Value::Channel(c)) => assert!(c.ch.is_unbuffered()),
        other => panic!("expected an unbuffered channel, got {other:?}"),
    }
    for bad in [
        Value::Int(-1),
        Value::Int(-5),
        Value::Float(2.0),
        Value::Nil,
        Value::str("4"),
    ] {
        assert_eq!(kind(channel(&mut vm, &[bad])), ErrorKind::ValueError);
    }
    assert_eq!(
        kind(channel(&mut vm, &[Value::Int(1), Value::Int(2)])),
        ErrorKind::TypeError
    );
}

#[test]
fn send_and_receive_in_order() {
    let c = obj(None);
    for i in 0..5 {
        assert!(matches!(
            call(&c, Method::Send, &[Value::Int(i)]),
            Ok(Value::Nil)
        ));
    }
    assert!(matches!(call(&c, Method::Len, &[]), Ok(Value::Int(5))));
    assert!(matches!(call(&c, Method::Recv, &[]), Ok(Value::Int(0))));
    assert!(matches!(call(&c, Method::TryRecv, &[]), Ok(Value::Int(1))));
    match call(&c, Method::RecvBatch, &[Value::Int(2)]) {
        Ok(Value::List(xs)) => assert_eq!(*xs, [Value::Int(2), Value::Int(3)]),
        other => panic!("expected a list, got {other:?}"),
    }
    assert!(matches!(
        call(&c, Method::Closed, &[]),
        Ok(Value::Bool(false))
    ));
    assert!(matches!(call(&c, Method::Close, &[]), Ok(Value::Nil)));
    assert!(matches!(call(&c, Method::Close, &[]), Ok(Value::Nil)));
    assert!(matches!(
        call(&c, Method::Closed, &[]),
        Ok(Value::Bool(true))
    ));
    // Drained after close: the last value, then nil / [] forever.
    assert!(matches!(call(&c, Method::Recv, &[]), Ok(Value::Int(4))));
    assert!(matches!(call(&c, Method::Recv, &[]), Ok(Value::Nil)));
    assert!(matches!(call(&c, Method::TryRecv, &[]), Ok(Value::Nil)));
    match call(&c, Method::RecvBatch, &[]) {
        Ok(Value::List(xs)) => assert!(xs.is_empty()),
        other => panic!("expected [], got {other:?}"),
    }
    assert!(matches!(iter_next(&c), Ok(None)));
}

#[test]
fn send_failures() {
    let c = obj(Some(4));
    assert_eq!(
        kind(call(&c, Method::Send, &[Value::Nil])),
        ErrorKind::ValueError
    );
    let bad = Value::list(vec![Value::Int(1), Value::Nil]);
    assert_eq!(
        kind(call(&c, Method::SendBatch, &[bad])),
        ErrorKind::ValueError
    );
    assert_eq!(c.ch.len(), 0, "a batch with a nil sends nothing");
    assert_eq!(
        kind(call(&c, Method::SendBatch, &[Value::Int(3)])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(call(&c, Method::Send, &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(call(&c, Method::RecvBatch, &[Value::Int(0)])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(call(&c, Method::RecvBatch, &[Value::str("x")])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(call(&c, Method::Recv, &[Value::Float(-1.0)])),
        ErrorKind::ValueError
    );
    assert_eq!(kind(call(&c, Method::Push, &[])), ErrorKind::TypeError);
    c.ch.close();
    assert_eq!(
        kind(call(&c, Method::Send, &[Value::Int(1)])),
        ErrorKind::ValueError
    );
    let ok = Value::list(vec![Value::Int(1)]);
    assert_eq!(
        kind(call(&c, Method::SendBatch, &[ok])),
        ErrorKind::ValueError
    );
}

#[test]
fn timeouts() {
    let c = obj(None);
    assert_eq!(
        kind(call(&c, Method::Recv, &[Value::Float(0.01)])),
        ErrorKind::Timeout
    );
    assert_eq!(
        kind(call(&c, Method::Recv, &[Value::Int(0)])),
        ErrorKind::Timeout
    );
    let mut vm = Vm::new();
    let chs = Value::list(vec![val(&c), val(&c)]);
    assert_eq!(
        kind(select(&mut vm, &[chs.clone(), Value::Float(0.01)])),
        ErrorKind::Timeout
    );
    c.ch.send(Value::Int(7), None).expect("open channel");
    // A ready value wins over a zero timeout.
    assert!(matches!(
        call(&c, Method::Recv, &[Value::Int(0)]),
        Ok(Value::Int(7))
    ));
    c.ch.send(Value::Int(8), None).expect("open channel");
    match select(&mut vm, &[chs, Value::Int(0)]) {
        Ok(Value::List(r)) => assert_eq!(r[1], Value::Int(8)),
        other => panic!("expected [i, 8], got {other:?}"),
    }
}

#[test]
fn select_checks_its_arguments() {
    let mut vm = Vm::new();
    let c = obj(None);
    assert_eq!(
        kind(select(&mut vm, &[Value::list(vec![])])),
        ErrorKind::ValueError
    );
    assert_eq!(kind(select(&mut vm, &[val(&c)])), ErrorKind::TypeError);
    assert_eq!(
        kind(select(
            &mut vm,
            &[Value::list(vec![val(&c), Value::Int(1)])]
        )),
        ErrorKind::TypeError
    );
    c.ch.close();
    match select(&mut vm, &[Value::list(vec![val(&c)])]) {
        Ok(Value::List(r)) => assert_eq!(*r, [Value::Int(0), Value::Nil]),
        other => panic!("expected [0, nil], got {other:?}"),
    }
}

/// The pool's token is an `Interrupt` for the native channel directly.
#[test]
fn cancel_token_interrupts_a_native_wait() {
    let token = CancelToken::new();
    let ch: Channel<i32> = Channel::unbounded();
    thread::scope(|s| {
        let waiter = s.spawn(|| ch.recv(Some(&token)));
        until(|| ch.waiting_receivers() == 1);
        token.cancel();
        assert_eq!(waiter.join().expect("no panic"), Err(RecvError::Cancelled));
    });
    // Already cancelled: a wait ends at once, a ready value is still taken.
    assert_eq!(ch.recv(Some(&token)), Err(RecvError::Cancelled));
    ch.send(1, None).expect("open channel");
    assert_eq!(ch.recv(Some(&token)), Ok(1));
}

/// Closes its channel when dropped (on a failed assertion, too).
struct CloseOnDrop(Arc<ChannelObj>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.ch.close();
    }
}

/// What a blocked call is doing, for [`cancel_wakes_blocked_calls`].
#[derive(Clone, Copy, Debug)]
enum Op {
    Send,
    SendBatch,
    Recv,
    RecvTimeout,
    RecvBatch,
    Select,
    Iterate,
}

fn run_blocked(op: Op, c: &Arc<ChannelObj>) -> Result<Value> {
    match op {
        Op::Send => call(c, Method::Send, &[Value::Int(2)]),
        Op::SendBatch => call(
            c,
            Method::SendBatch,
            &[Value::list(vec![Value::Int(2), Value::Int(3)])],
        ),
        Op::Recv => call(c, Method::Recv, &[]),
        Op::RecvTimeout => call(c, Method::Recv, &[Value::Int(60)]),
        Op::RecvBatch => call(c, Method::RecvBatch, &[]),
        Op::Select => select(&mut Vm::new(), &[Value::list(vec![val(c), val(c)])]),
        Op::Iterate => iter_next(c).map(|v| v.unwrap_or(Value::Nil)),
    }
}

/// Cancelling a pool task blocked in any channel call wakes it with
/// `Cancelled`, with the channel left as it was.
#[test]
fn cancel_wakes_blocked_calls() {
    let ops = [
        Op::Send,
        Op::SendBatch,
        Op::Recv,
        Op::RecvTimeout,
        Op::RecvBatch,
        Op::Select,
        Op::Iterate,
    ];
    for workers in [1, 2, 16] {
        let pool = pool(workers);
        for op in ops {
            let sending = matches!(op, Op::Send | Op::SendBatch);
            // A full channel for senders, an empty one for receivers.
            let c = obj(Some(1));
            if sending {
                c.ch.send(Value::Int(1), None).expect("open channel");
            }
            let task_c = Arc::clone(&c);
            let task = pool.spawn(move || run_blocked(op, &task_c).map_err(|e| e.kind()));
            // If an assertion fails, closing unblocks the task so the
            // pool's drop does not hang.
            let _unblock = CloseOnDrop(Arc::clone(&c));
            until(|| {
                if sending {
                    c.ch.waiting_senders() == 1
                } else {
                    // A select of the same channel twice registers twice.
                    c.ch.waiting_receivers() >= 1
                }
            });
            assert!(task.cancel(), "{op:?}, {workers} workers");
            let outcome = task.wait().expect("the task ran to its end");
            assert_eq!(
                outcome.map(|_| ()),
                Err(ErrorKind::Cancelled),
                "{op:?}, {workers} workers"
            );
            assert_eq!(
                c.ch.len(),
                usize::from(sending),
                "{op:?}, {workers} workers"
            );
            assert_eq!(c.ch.waiting_senders() + c.ch.waiting_receivers(), 0);
        }
    }
}

/// A task that is already cancelled takes no value, even a ready one.
#[test]
fn cancelled_task_takes_nothing() {
    let pool = pool(2);
    let c = obj(None);
    c.ch.send(Value::Int(5), None).expect("open channel");
    let task_c = Arc::clone(&c);
    let task = pool.spawn(move || {
        // Stands for a task whose cancel arrives while it runs.
        crate::pool::current_cancel_token()
            .expect("inside a task")
            .cancel();
        (
            kind(call(&task_c, Method::Recv, &[])),
            kind(call(&task_c, Method::RecvBatch, &[])),
            iter_next(&task_c).map(|_| ()).map_err(|e| e.kind()),
            // Not blocking: still works.
            call(&task_c, Method::Len, &[]).map_err(|e| e.kind()),
        )
    });
    let (recv, batch, iter, len) = task.wait().expect("the task ran");
    assert_eq!(recv, ErrorKind::Cancelled);
    assert_eq!(batch, ErrorKind::Cancelled);
    assert_eq!(iter, Err(ErrorKind::Cancelled));
    assert!(matches!(len, Ok(Value::Int(1))));
    assert_eq!(c.ch.len(), 1);
}

/// Off the pool nothing interrupts a wait, and a value wakes it.
#[test]
fn main_thread_waits_without_a_token() {
    assert!(!CurrentTask.is_interrupted());
    let c = obj(None);
    thread::scope(|s| {
        let waiter = s.spawn(|| call(&c, Method::Recv, &[]).map_err(|e| e.kind()));
        until(|| c.ch.waiting_receivers() == 1);
        c.ch.send(Value::Int(9), None).expect("open channel");
        assert!(matches!(
            waiter.join().expect("no panic"),
            Ok(Value::Int(9))
        ));
    });
}

/// `close` wakes every blocked receiver (nil) and sender (ValueError) in
/// pool tasks, with 1, 2 and 16 workers (spares stand in for the blocked).
#[test]
fn close_wakes_blocked_tasks() {
    for workers in [1, 2, 16] {
        let pool = pool(workers);
        let empty = obj(Some(1));
        let full = obj(Some(1));
        full.ch.send(Value::Int(0), None).expect("open channel");
        let _unblock = (
            CloseOnDrop(Arc::clone(&empty)),
            CloseOnDrop(Arc::clone(&full)),
        );
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&empty);
                pool.spawn(move || call(&c, Method::Recv, &[]).map_err(|e| e.kind()))
            })
            .collect();
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&full);
                pool.spawn(move || call(&c, Method::Send, &[Value::Int(1)]).map_err(|e| e.kind()))
            })
            .collect();
        until(|| empty.ch.waiting_receivers() == 4 && full.ch.waiting_senders() == 4);
        empty.ch.close();
        full.ch.close();
        for r in receivers {
            assert!(matches!(r.wait().expect("ran"), Ok(Value::Nil)));
        }
        for s in senders {
            assert_eq!(
                s.wait().expect("ran").map(|_| ()),
                Err(ErrorKind::ValueError)
            );
        }
        assert_eq!(full.ch.len(), 1, "the value queued before close stays");
    }
}

#[test]
fn a_parked_channel_operation_and_a_channel_stay_small() {
    // A million tasks parked in `recv`, each on its own channel, must fit
    // in 1 GiB (issue 8): the parked operation (mimalloc's 96 B class) and
    // the channel object (48 B with its reference counts: its timer and
    // helper hook are boxed on first use) are part of each.
    assert!(std::mem::size_of::<ChanOp>() <= 96);
    assert!(std::mem::size_of::<ChannelObj>() <= 32);
}

/// `help_while_empty` calls the helper while the channel is empty and
/// open, until it says there is nothing to do or values arrive; never on
/// a closed channel (the close read without the channel's lock).
#[test]
fn a_helper_runs_while_the_channel_is_empty_and_open() {
    /// Says "helped" `steps` times, sending a value at step `send_at`.
    #[derive(Debug)]
    struct Steps {
        calls: std::sync::atomic::AtomicUsize,
        steps: usize,
        send_at: Option<(usize, Channel<Value>)>,
    }
    impl Help for Steps {
        fn help(&self) -> bool {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((at, ch)) = &self.send_at {
                if n == *at {
                    ch.try_send(Value::Int(1)).unwrap();
                }
            }
            n <= self.steps
        }
    }
    // How many times `help_while_empty` called the helper.
    let helped = |c: &ChannelObj, steps, send_at: Option<usize>| {
        let h = Arc::new(Steps {
            calls: std::sync::atomic::AtomicUsize::new(0),
            steps,
            send_at: send_at.map(|at| (at, c.ch.clone())),
        });
        let dyn_h: Arc<dyn Help> = h.clone();
        c.set_helper(Arc::downgrade(&dyn_h));
        assert!(c.help_while_empty(), "the channel has a helper");
        h.calls.load(Ordering::SeqCst)
    };
    // Open and empty: called until it says there is nothing to do.
    let c = ChannelObj::new(Some(4)).unwrap();
    assert_eq!(helped(&c, 3, None), 4);
    // A value arrives at the second step: no third call.
    let c = ChannelObj::new(Some(4)).unwrap();
    assert_eq!(helped(&c, 10, Some(2)), 2);
    assert_eq!(c.ch.len(), 1);
    // Closed (by this thread, so the lock-free look sees it): never called.
    let c = ChannelObj::new(Some(4)).unwrap();
    c.close();
    assert_eq!(helped(&c, 10, None), 0);
    // No helper: nothing to do.
    assert!(!ChannelObj::new(Some(4)).unwrap().help_while_empty());
}

#[test]
fn a_channels_extras_are_made_on_first_use_and_keep_their_helper() {
    #[derive(Debug)]
    struct OneStep(std::sync::atomic::AtomicUsize);
    impl Help for OneStep {
        fn help(&self) -> bool {
            self.0.fetch_add(1, Ordering::SeqCst) == 0
        }
    }
    let c = ChannelObj::new(None).unwrap();
    assert!(c.extras.get().is_none());
    // Closing a channel that never had a timer makes no extras.
    c.close();
    assert!(c.extras.get().is_none());
    let c = ChannelObj::new(None).unwrap();
    let h: Arc<dyn Help> = Arc::new(OneStep(std::sync::atomic::AtomicUsize::new(0)));
    c.set_helper(Arc::downgrade(&h));
    // Set once: a second helper is ignored.
    let other: Arc<dyn Help> = Arc::new(OneStep(std::sync::atomic::AtomicUsize::new(0)));
    c.set_helper(Arc::downgrade(&other));
    c.help_while_empty();
    let first = c
        .extras
        .get()
        .and_then(|x| x.helper.get())
        .and_then(Weak::upgrade);
    assert!(first.is_some_and(|f| Arc::ptr_eq(&f, &h)));
}

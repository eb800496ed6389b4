//! The VM from many OS threads: shared compiled code, per-thread VM state,
//! stack-overflow safety on small stacks, and consistent reads of module
//! variables that top-level code reassigns.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use weft::error::ErrorKind;
use weft::interp::{Script, Session};
use weft::value::Value;

fn script(src: &str) -> Script {
    let mut s = Script::compile("<threads>", src).unwrap_or_else(|e| panic!("{}", e.render()));
    s.run().expect("top level runs");
    s
}

fn call_from_threads(threads: usize, calls: i64) {
    let s = script(
        "let k = 7\n\
         fn f(x) { if x % 3 == 0 { [x, k].len() + x * 2 } else { x * 2 + k } }\n\
         fn make(m) { fn(x) { f(x) + m } }\n\
         let g = make(100)",
    );
    let g = s.get("g").expect("g");
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let g = g.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..calls {
                    let x = i + t as i64;
                    let want = if x % 3 == 0 { 2 + x * 2 } else { x * 2 + 7 } + 100;
                    let got = weft::vm::call_value(&g, &[Value::Int(x)]).expect("call succeeds");
                    assert_eq!(got, Value::Int(want), "thread {t} call {i}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished without panicking");
    }
}

#[test]
fn one_closure_from_one_thread() {
    call_from_threads(1, 100_000);
}

#[test]
fn one_closure_from_two_threads() {
    call_from_threads(2, 100_000);
}

#[test]
fn one_closure_from_eight_threads() {
    call_from_threads(8, 100_000);
}

#[test]
fn one_closure_from_sixteen_threads() {
    call_from_threads(16, 20_000);
}

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("thread finished without crashing")
}

#[test]
fn deep_recursion_on_a_small_stack_throws_stack_overflow() {
    let s = script("fn deep(n) { deep(n + 1) + 1 }");
    let deep = s.get("deep").expect("deep");
    let e = on_small_stack(move || {
        weft::vm::call_value(&deep, &[Value::Int(0)]).expect_err("overflows")
    });
    assert_eq!(e.kind(), ErrorKind::StackOverflow);
    assert!(
        e.0.trace.len() >= 1000,
        "trace has the frames: {}",
        e.0.trace.len()
    );
}

#[test]
fn deep_native_reentry_on_a_small_stack_throws_stack_overflow() {
    // Every level goes through a native (`map`) that calls back into Weft.
    let s = script(
        "fn deep(n) { [n].map(fn(x) { deep(x + 1) }) }\n\
         fn sorted_deep(n) { let ys = [2, 1]\n ys.sort(fn(x) { sorted_deep(n + 1) })\n ys }",
    );
    for name in ["deep", "sorted_deep"] {
        let f = s.get(name).expect("defined");
        let e = on_small_stack(move || {
            weft::vm::call_value(&f, &[Value::Int(0)]).expect_err("overflows")
        });
        assert_eq!(e.kind(), ErrorKind::StackOverflow, "{name}");
    }
}

#[test]
fn recursion_within_the_limit_works_on_a_small_stack() {
    let s = script("fn down(n) { if n == 0 { 0 } else { 1 + [n].map(fn(x) { down(x - 1) })[0] } }");
    let down = s.get("down").expect("down");
    let v = on_small_stack(move || {
        weft::vm::call_value(&down, &[Value::Int(3000)]).expect("fits the limit")
    });
    assert_eq!(v, Value::Int(3000));
}

#[test]
fn module_variable_reassigned_while_other_threads_read_it() {
    for readers in [1usize, 2, 8] {
        let mut session = Session::new();
        session
            .eval("let shared = [0, 0]\nfn read() { shared }")
            .expect("defines");
        let read = session.get("read").expect("read");
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..readers)
            .map(|_| {
                let read = read.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut seen = 0u64;
                    while !stop.load(Ordering::Relaxed) || seen == 0 {
                        let v = weft::vm::call_value(&read, &[]).expect("read succeeds");
                        let Value::List(items) = &v else {
                            panic!("not a list: {v}")
                        };
                        assert_eq!(items[0], items[1], "torn read: {v}");
                        seen += 1;
                    }
                    seen
                })
            })
            .collect();
        session
            .eval("for i in range(20000) { shared = [i, i] }")
            .expect("writer runs");
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            assert!(h.join().expect("reader finished") > 0);
        }
        assert_eq!(
            weft::vm::call_value(&read, &[]).expect("read").to_string(),
            "[19999, 19999]"
        );
    }
}

#[test]
fn cancelling_a_running_call_from_another_thread() {
    let s = script("fn spin() { let i = 0\n while true { i += 1 } }");
    let spin = s.get("spin").expect("spin");
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    let h = std::thread::spawn(move || {
        weft::vm::with_vm(|vm| {
            vm.set_cancel_flag(Some(f2));
            let r = vm.call(&spin, &[]);
            vm.set_cancel_flag(None);
            r
        })
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    flag.store(true, Ordering::Relaxed);
    let e = h.join().expect("joined").expect_err("cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
}

#[test]
fn a_module_imported_from_many_threads_runs_once() {
    // Removed when dropped, also when the test fails.
    let dir = tempfile::Builder::new()
        .prefix("weft-threads-")
        .tempdir()
        .expect("temp dir");
    let module = dir.path().join("once_mod.weft");
    // A slow body widens the window in which threads race to import it.
    std::fs::write(
        &module,
        "let total = 0\nfor i in range(200000) { total += i }\nfn get() { total }\n",
    )
    .expect("write module");
    let path = module.with_extension("");
    let s = script(&format!(
        "fn load() {{ import {:?} as m\n m }}",
        path.display().to_string()
    ));
    let load = s.get("load").expect("load");
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let load = load.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                weft::vm::call_value(&load, &[]).expect("import succeeds")
            })
        })
        .collect();
    let modules: Vec<Value> = handles
        .into_iter()
        .map(|h| h.join().expect("joined"))
        .collect();
    for m in &modules {
        // Modules compare by identity: one body run, one module value.
        assert_eq!(m, &modules[0]);
        let Value::Module(m) = m else {
            panic!("not a module: {m}")
        };
        assert_eq!(
            m.fields.get(&weft::value::Key::str("total")),
            Some(&Value::Int(19999900000))
        );
    }
}

use super::*;
use crate::interp::Script;

/// Runs `src` as a file and returns its top-level variable `name`.
pub(super) fn run_get(src: &str, name: &str) -> Value {
    let mut s =
        Script::compile("<test>", src).unwrap_or_else(|e| panic!("compile error: {}", e.render()));
    s.run()
        .unwrap_or_else(|e| panic!("runtime error: {e} {:?}", e.0.trace));
    s.get(name).unwrap_or_else(|| panic!("no top-level {name}"))
}

/// Runs `src` and returns the uncaught error.
pub(super) fn run_err(src: &str) -> Error {
    let mut s =
        Script::compile("<test>", src).unwrap_or_else(|e| panic!("compile error: {}", e.render()));
    match s.run() {
        Ok(_) => panic!("expected a runtime error"),
        Err(e) => e,
    }
}

fn show(v: &Value) -> String {
    v.to_string()
}

#[test]
fn arithmetic_and_comparisons() {
    let v = run_get("let r = [1 + 2 * 3, 7 // 2, -7 // 2, 7 % -3, 2 ** 10, 1 / 4, 1.5 + 1, 3 < 4, 4 <= 3, 1 == 1.0]", "r");
    assert_eq!(
        show(&v),
        "[7, 3, -4, -2, 1024, 0.25, 2.5, true, false, true]"
    );
}

#[test]
fn int_overflow_throws() {
    let e = run_err("let x = 9223372036854775807\nlet y = x + 1");
    assert_eq!(e.kind(), ErrorKind::OverflowError);
    let e = run_err("let x = 9223372036854775807\nlet y = x\ny += 1");
    assert_eq!(e.kind(), ErrorKind::OverflowError);
}

#[test]
fn recursion_and_tail_if() {
    let v = run_get(
        "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }\nlet r = fib(20)",
        "r",
    );
    assert_eq!(show(&v), "6765");
}

#[test]
fn while_break_continue() {
    let src = "let out = []\nlet i = 0\nwhile true {\n i += 1\n if i > 6 { break }\n if i % 2 == 0 { continue }\n out.push(i)\n}";
    assert_eq!(show(&run_get(src, "out")), "[1, 3, 5]");
}

#[test]
fn for_loops_over_every_iterable() {
    let src = r#"
let out = []
for x in [1, 2] { out.push(x) }
for x in range(3, 0, -1) { out.push(x) }
let r = range(2)
for x in r { out.push(x) }
for c in "hé" { out.push(c) }
for k in ({"a": 1}) { out.push(k) }
for i, x in ["p", "q"] { out.push([i, x]) }
for k, v in ({"z": 9}) { out.push([k, v]) }
for i, c in "xy" { out.push([i, c]) }
for i, v in range(10, 12) { out.push([i, v]) }
"#;
    assert_eq!(
        show(&run_get(src, "out")),
        r#"[1, 2, 3, 2, 1, 0, 1, "h", "é", "a", [0, "p"], [1, "q"], ["z", 9], [0, "x"], [1, "y"], [0, 10], [1, 11]]"#
    );
}

#[test]
fn iterating_a_non_iterable_is_a_type_error() {
    assert_eq!(run_err("for x in 5 { }").kind(), ErrorKind::TypeError);
    assert_eq!(
        run_err("for x in range(1, 2, 0) { }").kind(),
        ErrorKind::ValueError
    );
}

#[test]
fn closures_capture_by_value_per_iteration() {
    let src = "let fs = []\nfor i in range(3) { fs.push(fn() { i * 10 }) }\nlet r = fs.map(fn(f) { f() })";
    assert_eq!(show(&run_get(src, "r")), "[0, 10, 20]");
    let src = "fn make() { let x = 1\n let f = fn() { x }\n x = 2\n f() }\nlet r = make()";
    assert_eq!(show(&run_get(src, "r")), "1");
}

#[test]
fn hoisted_local_functions_are_mutually_recursive() {
    let src = r#"
fn outer(n) {
  let base = 100
  let r = even(n)
  fn even(k) { if k == 0 { base } else { odd(k - 1) } }
  fn odd(k) { if k == 0 { -base } else { even(k - 1) } }
  [r, odd(3), fn() { even(2) }()]
}
let r = outer(4)
"#;
    assert_eq!(show(&run_get(src, "r")), "[100, 100, 100]");
}

#[test]
fn named_function_expression_sees_itself() {
    let src = "let f = fn fact(n) { if n <= 1 { 1 } else { n * fact(n - 1) } }\nlet r = f(5)";
    assert_eq!(show(&run_get(src, "r")), "120");
}

#[test]
fn value_semantics() {
    let src = "let a = [1]\nlet b = a\nb.push(2)\nfn f(xs) { xs.push(3)\n xs }\nlet c = f(a)\nlet r = [a, b, c]";
    assert_eq!(show(&run_get(src, "r")), "[[1], [1, 2], [1, 3]]");
}

#[test]
fn nested_place_assignment() {
    let src = r#"
let grid = [[0, 0], [0, 0]]
grid[1][0] = 5
grid[0][1] += 2
let m = {"a": {"b": [1]}}
m.a.b.push(2)
m["a"]["c"] = 3
m.a.b[0] -= 1
let s = {"t": "x"}
s.t += "y"
let r = [grid, m, s]
"#;
    assert_eq!(
        show(&run_get(src, "r")),
        r#"[[[0, 2], [5, 0]], {"a": {"b": [0, 2], "c": 3}}, {"t": "xy"}]"#
    );
}

#[test]
fn failed_path_assignment_leaves_value_intact() {
    let src = "let g = [[1]]\nlet r = try { g[0][5] = 1 } catch e { e.kind }\nlet after = g";
    assert_eq!(show(&run_get(src, "r")), "IndexError");
    assert_eq!(show(&run_get(src, "after")), "[[1]]");
}

#[test]
fn try_catch_and_trace() {
    let src = r#"
fn inner() { throw "boom" }
fn outer() { inner() }
let e = try { outer() } catch err { err }
let r = [e.kind, e.message, e.value, len(e.trace)]
let t = e.trace
"#;
    assert_eq!(show(&run_get(src, "r")), r#"["Error", "boom", "boom", 3]"#);
    let t = show(&run_get(src, "t"));
    assert_eq!(
        t,
        r#"["at inner (<test>:2:14)", "at outer (<test>:3:19)", "at <main> (<test>:4:20)"]"#
    );
}

#[test]
fn try_is_an_expression_and_break_leaves_try() {
    let src = r#"
let out = []
for i in range(5) {
  try {
    if i == 3 { break }
    out.push(i)
  } catch e { out.push("no") }
}
let r = try { [][0] } catch { "caught" }
let after = try { throw "x" } catch e { 1 }
fn f() { try { return 7 } catch e { 0 } }
let g = [f(), try { [][1] } catch e { e.kind }]
"#;
    assert_eq!(show(&run_get(src, "out")), "[0, 1, 2]");
    assert_eq!(show(&run_get(src, "r")), "caught");
    assert_eq!(show(&run_get(src, "g")), r#"[7, "IndexError"]"#);
}

#[test]
fn uncaught_error_has_trace_innermost_first() {
    let e = run_err("fn a() { 1 + nil }\nfn b() { a() }\nb()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert_eq!(
        e.0.trace,
        vec![
            "at a (<test>:1:12)",
            "at b (<test>:2:11)",
            "at <main> (<test>:3:2)"
        ]
    );
}

#[test]
fn anonymous_functions_trace_as_fn() {
    let e = run_err("let f = fn() { [][0] }\nf()");
    assert_eq!(e.0.trace[0], "at <fn> (<test>:1:18)");
}

#[test]
fn stack_overflow_is_catchable() {
    let src = "fn deep(n) { deep(n + 1) }\nlet r = try { deep(0) } catch e { e.kind }\nlet again = try { deep(0) } catch e { e.kind }";
    assert_eq!(show(&run_get(src, "r")), "StackOverflow");
    assert_eq!(show(&run_get(src, "again")), "StackOverflow");
}

#[test]
fn stack_overflow_through_native_reentry() {
    let src =
        "fn deep(n) { [n].map(fn(x) { deep(x + 1) }) }\nlet r = try { deep(0) } catch e { e.kind }";
    assert_eq!(show(&run_get(src, "r")), "StackOverflow");
}

#[test]
fn module_variable_read_before_let_is_name_error() {
    let e = run_err("fn f() { late }\nf()\nlet late = 1");
    assert_eq!(e.kind(), ErrorKind::NameError);
    assert!(e.message().contains("late"), "{}", e.message());
}

#[test]
fn functions_see_module_reassignments() {
    let src = "let n = 1\nfn get() { n }\nlet a = get()\nn = 2\nlet b = get()\nn += 3\nlet r = [a, b, get()]";
    assert_eq!(show(&run_get(src, "r")), "[1, 2, 5]");
    let src =
        "let xs = []\nfn size() { len(xs) }\nfor i in range(10) { xs.push(i) }\nlet r = size()";
    assert_eq!(show(&run_get(src, "r")), "10");
}

#[test]
fn arity_and_callability_errors() {
    let e = run_err("fn f(a) { a }\nf(1, 2)");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert_eq!(e.message(), "f() takes 1 argument but 2 were given");
    assert_eq!(run_err("let x = 3\nx()").kind(), ErrorKind::TypeError);
}

#[test]
fn map_and_module_members_are_callable() {
    let src = "let obj = {\"double\": fn(x) { x * 2 }}\nlet r = [obj.double(4), math.floor(2.5), obj.len()]";
    assert_eq!(show(&run_get(src, "r")), "[8, 2, 1]");
}

#[test]
fn strings_append_in_place_and_compare() {
    let src = "let s = \"\"\nfor i in range(1000) { s += \"ab\" }\nlet r = [len(s), \"a\" < \"b\", \"x\" == \"x\"]";
    assert_eq!(show(&run_get(src, "r")), "[2000, true, true]");
}

#[test]
fn and_or_return_deciding_operand() {
    let src = "let a = 0\na = nil or 5\nlet r = [nil and 1, 2 and 3, false or \"x\", not nil, a]";
    assert_eq!(show(&run_get(src, "r")), r#"[nil, 3, "x", true, 5]"#);
}

#[test]
fn blocks_and_ifs_are_expressions() {
    let src =
        "let r = [if 1 < 2 { \"lt\" } else { \"ge\" }, if false { 1 }, { let t = 4\n t * t }]";
    assert_eq!(show(&run_get(src, "r")), r#"["lt", nil, 16]"#);
}

#[test]
fn long_literals_are_built_in_chunks() {
    let items: Vec<String> = (0..300).map(|i| i.to_string()).collect();
    let src = format!(
        "let xs = [{}]\nlet r = [len(xs), xs[299]]",
        items.join(", ")
    );
    assert_eq!(show(&run_get(&src, "r")), "[300, 299]");
    let pairs: Vec<String> = (0..150).map(|i| format!("k{i}: {i}")).collect();
    let src = format!("let m = {{{}}}\nlet r = [len(m), m.k149]", pairs.join(", "));
    assert_eq!(show(&run_get(&src, "r")), "[150, 149]");
}

#[test]
fn cancel_flag_stops_loops_and_calls() {
    let mut s = Script::compile("<test>", "fn spin() { while true { } }").expect("compiles");
    s.run().expect("defines spin");
    let f = s.get("spin").expect("spin");
    let mut vm = Vm::new();
    let flag = Arc::new(AtomicBool::new(true));
    vm.set_cancel_flag(Some(flag.clone()));
    let e = vm.call(&f, &[]).expect_err("cancelled");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    flag.store(false, Ordering::Relaxed);
    let fid = run_get("fn id(x) { x }", "id");
    assert_eq!(
        vm.call(&fid, &[Value::Int(3)]).expect("runs"),
        Value::Int(3)
    );
}

#[test]
fn vm_call_calls_closures_and_natives() {
    let f = run_get("let k = 10\nfn add(a, b) { a + b + k }", "add");
    let mut vm = Vm::new();
    assert_eq!(
        vm.call(&f, &[Value::Int(1), Value::Int(2)]).expect("runs"),
        Value::Int(13)
    );
    let len = crate::stdlib::lookup_global("len").expect("len");
    assert_eq!(
        vm.call(&len, &[Value::from("abc")]).expect("runs"),
        Value::Int(3)
    );
    assert_eq!(
        vm.call(&Value::Int(1), &[])
            .expect_err("not callable")
            .kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        vm.call(&f, &[]).expect_err("arity").kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        call_value(&f, &[Value::Int(0), Value::Int(0)]).expect("runs"),
        Value::Int(10)
    );
}

#[test]
fn depth_limit_is_configurable() {
    let f = run_get(
        "fn down(n) { if n == 0 { 0 } else { down(n - 1) } }",
        "down",
    );
    let mut vm = Vm::new();
    vm.set_max_depth(50);
    assert_eq!(vm.call(&f, &[Value::Int(40)]).expect("fits"), Value::Int(0));
    assert_eq!(
        vm.call(&f, &[Value::Int(60)]).expect_err("too deep").kind(),
        ErrorKind::StackOverflow
    );
    assert_eq!(vm.depth(), 0, "unwinding pops every frame");
}

#[test]
fn push_loop_stays_unshared() {
    // One million pushes finish quickly only if each is in place.
    let v = run_get(
        "let xs = []\nfor i in range(1000000) { xs.push(i) }\nlet r = len(xs)",
        "r",
    );
    assert_eq!(v, Value::Int(1_000_000));
    let v = run_get("fn build() { let xs = []\n for i in range(200000) { xs.push(i)\n len(xs) }\n xs }\nlet r = len(build())", "r");
    assert_eq!(v, Value::Int(200_000));
}

#[test]
fn readonly_handle_method_on_captured_list_throws() {
    let e = run_err("fn f() { let m = {}\n let g = fn() { m.set(1, 2) }\n g() }\nf()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn reads_through_index_chains_then_update_in_place() {
    let src = "let g = [[1.5, 2.5], [3.0]]\nlet s = g[0][1] + g[1][0]\ng[0][1] -= s\nlet t = g[1].len()\ng[1].push(t)\nlet r = [s, g]";
    assert_eq!(show(&run_get(src, "r")), "[5.5, [[1.5, -3.0], [3.0, 1]]]");
}

#[test]
fn with_vm_reuses_an_idle_vm_and_nests_with_a_fresh_one() {
    // A VM used once is kept: its grown stack is still there next time.
    with_vm(|vm| vm.ensure_stack(100_000));
    assert!(with_vm(|vm| vm.stack.len()) >= 100_000);
    // Nesting gives a VM distinct from the one in use.
    with_vm(|a| {
        let a_addr = a as *const Vm as usize;
        with_vm(|b| assert_ne!(a_addr, b as *const Vm as usize));
    });
}

#[test]
fn a_cancelled_token_stops_calls_and_is_cleared_after_with_vm() {
    let token = crate::pool::CancelToken::new();
    token.cancel();
    let f = crate::stdlib::lookup_global("len").unwrap();
    let r = with_vm(|vm| {
        vm.set_cancel_token(Some(token.clone()));
        vm.call(&f, &[Value::list(vec![])])
    });
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Cancelled);
    // The next user of this thread's VMs gets no token.
    let r = with_vm(|vm| {
        assert!(vm.cancel_token().is_none());
        vm.call(&f, &[Value::list(vec![])])
    });
    assert!(matches!(r, Ok(Value::Int(0))));
}

#[test]
fn call_site_is_none_outside_weft_code() {
    with_vm(|vm| assert!(vm.call_site().is_none()));
}

#[test]
fn a_parked_frame_stays_small() {
    // A parked task keeps its frames and handlers (`ParkedVm`): a million
    // parked tasks must fit in 1 GiB (issue 8).
    assert!(std::mem::size_of::<super::Frame>() <= 24);
    assert!(std::mem::size_of::<super::Handler>() <= 12);
}

/// A native that cancels the VM that calls it (sets its cancel flag), as
/// `s.cancel()` or a scope's failure cancels the running task's token.
fn cancel_me(vm: &mut Vm, _: &[Value]) -> Result<Value> {
    if let Some(f) = &vm.cancel {
        f.store(true, Ordering::Relaxed);
    }
    Ok(Value::Nil)
}

static CANCEL_ME: NativeFn = NativeFn {
    name: "cancel_me",
    f: cancel_me,
};

/// Calls the top-level function `name` of `src` with `cancel_me` on a VM
/// with a (clear) cancel flag installed.
fn call_with_cancel_me(src: &str, name: &str) -> Result<Value> {
    let mut s = Script::compile("<test>", src).expect("compiles");
    s.run().expect("defines the functions");
    let f = s.get(name).expect("the function");
    let mut vm = Vm::new();
    vm.set_cancel_flag(Some(Arc::new(AtomicBool::new(false))));
    vm.call(&f, &[Value::Native(&CANCEL_ME)])
}

#[test]
fn a_cancellation_by_this_thread_stops_the_next_call_and_loop_iteration() {
    // The checkpoint looks at the flag only every `TICKS` checkpoints; a
    // native that cancels makes the very next one look.
    let e = call_with_cancel_me("fn one() { 1 }\nfn f(stop) { stop()\n one() }", "f")
        .expect_err("the call after the cancellation throws");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    let e = call_with_cancel_me(
        "fn f(stop) { let n = 0\n stop()\n while n < 100 { n += 1 }\n n }",
        "f",
    )
    .expect_err("the first loop iteration after the cancellation throws");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
    // Not cancelled: the same code runs to its end.
    let v = call_with_cancel_me(
        "fn f(stop) { let n = 0\n while n < 100 { n += 1 }\n n }",
        "f",
    )
    .expect("runs");
    assert_eq!(v, Value::Int(100));
}

#[test]
fn a_caught_cancellation_is_thrown_again_at_the_next_call() {
    let e = call_with_cancel_me(
        "fn one() { 1 }\nfn f(stop) { stop()\n try { one() } catch e { }\n one() }",
        "f",
    )
    .expect_err("still cancelled after the catch");
    assert_eq!(e.kind(), ErrorKind::Cancelled);
}

#[test]
fn a_flag_set_by_another_thread_stops_a_spinning_loop_and_recursion() {
    // The flag is looked at every `TICKS` checkpoints: a loop without calls
    // and a recursion both stop soon after another thread sets it.
    for (src, name) in [
        ("fn spin() { while true { } }", "spin"),
        (
            "fn down(n) { if n == 0 { 0 } else { down(n - 1) } }\nfn spin() { while true { down(50) } }",
            "spin",
        ),
    ] {
        let mut s = Script::compile("<test>", src).expect("compiles");
        s.run().expect("defines spin");
        let f = s.get(name).expect("spin");
        let flag = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let mine = flag.clone();
        std::thread::spawn(move || {
            let mut vm = Vm::new();
            vm.set_cancel_flag(Some(mine));
            let _ = tx.send(vm.call(&f, &[]).map_err(|e| e.kind()));
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        flag.store(true, Ordering::Relaxed);
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("hung: {src} did not stop within 20 s of the flag"));
        assert_eq!(r, Err(ErrorKind::Cancelled), "{src}");
    }
}

/// The dispatch loop reaches registers through a raw window pointer that
/// must be re-derived whenever the stack may have grown: deep recursion
/// grows it many times during calls, and a native re-entry (`map`) grows it
/// under a frame that then goes on using its registers.
#[test]
fn registers_survive_stack_growth_in_calls_and_native_reentry() {
    let src = "fn deep(n) { if n == 0 { 0 } else { 1 + deep(n - 1) } }\n\
               fn keep(n) {\n let a = n * 2\n let b = deep(n)\n \
               let c = [n].map(fn(x) { deep(x) + a })[0]\n a + b + c\n}\n\
               let r = [keep(10), keep(3000), keep(10)]";
    assert_eq!(show(&run_get(src, "r")), "[60, 18000, 60]");
}

/// The same as the test above, small enough for Miri (`.ci/miri.sh
/// vm::test::registers_survive_a_stack_move`): the stack starts at 1,024
/// slots, so `deep(400)` moves its buffer during calls, and `deep(1200)`
/// inside `map` moves it again under a native re-entry, after which the
/// frame of `keep` reads its registers through the dispatch loop's
/// register window (`regs`), which must have been derived again.
#[test]
fn registers_survive_a_stack_move() {
    let src = "fn deep(n) { if n == 0 { 0 } else { 1 + deep(n - 1) } }\n\
               fn keep(n) {\n let a = n * 2\n let b = deep(n)\n \
               let c = [n].map(fn(x) { deep(x * 3) + a })[0]\n a + b + c\n}\n\
               let r = [keep(10), keep(400), keep(10)]";
    assert_eq!(show(&run_get(src, "r")), "[80, 3200, 80]");
}

/// A frame near the register limit (250 locals) calling with its last
/// registers, recursively (the callee's argument is written above the
/// caller's window start by up to 255 slots), while the stack grows.
#[test]
fn wide_frames_call_with_their_last_registers() {
    let mut src = String::from("fn g(n) { if n < 1 { 0 } else { g(n - 1) + 1 } }\nfn wide(n) {\n");
    for i in 0..250 {
        src.push_str(&format!(" let v{i} = n + {i}\n"));
    }
    src.push_str(" g(n - 1) + v0 + v249\n}\nlet r = [wide(2000), wide(1)]");
    // g(1999) + 2000 + 2249; g(0) + 1 + 250.
    assert_eq!(show(&run_get(&src, "r")), "[6248, 251]");
}

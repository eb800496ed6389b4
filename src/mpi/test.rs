//! Tests of everything `--mpi` does that needs no MPI: the wire format,
//! value round trips (a proptest), function ids and fingerprints, handle
//! refusal, the start-up handshake, and whole distributed calls over
//! [`fake_network`] (ranks on threads, each with its own compilation of the
//! script, so function ids and module-variable snapshots really travel).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use proptest::prelude::*;

use super::codec::{kind_named, Decoder, Encoder, Refusal};
use super::executor::{Context, Sizer};
use super::handshake::{follow, lead, Verdict};
use super::link::{fake_network, Link};
use super::message::{decode, encode, Hello, Kind, Msg, Outcome};
use super::program::{Natives, Program};
use super::service::serve;
use super::wire::{Reader, Writer};
use crate::error::{ErrorKind, ErrorValue, Result};
use crate::function::Closure;
use crate::interp::Script;
use crate::value::{Key, Map, RangeVal, Value};
use crate::vm::with_vm;

// ----- helpers -----

fn compile(src: &str) -> Script {
    Script::compile("t.weft", src).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn range(start: i64, stop: i64, step: i64) -> Value {
    Value::Range(Arc::new(RangeVal { start, stop, step }))
}

fn map_of(pairs: Vec<(Value, Value)>) -> Value {
    let mut m = Map::default();
    for (k, v) in pairs {
        m.insert(Key::new(k).expect("a key"), v);
    }
    Value::map(m)
}

/// Exact structural identity: floats by bits, ints and floats distinct,
/// maps in order, functions by prototype and captures.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Str(x), Value::Str(y)) => x.as_str() == y.as_str(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| same(&k1.0, &k2.0) && same(v1, v2))
        }
        (Value::Range(x), Value::Range(y)) => x == y,
        (Value::Func(x), Value::Func(y)) => {
            std::ptr::eq(x.proto, y.proto)
                && x.captures.len() == y.captures.len()
                && x.captures
                    .iter()
                    .zip(y.captures.iter())
                    .all(|(p, q)| same(p, q))
        }
        (Value::Native(x), Value::Native(y)) => std::ptr::eq(*x, *y),
        (Value::Module(x), Value::Module(y)) => {
            x.name == y.name && same(&Value::map(x.fields.clone()), &Value::map(y.fields.clone()))
        }
        (Value::Error(x), Value::Error(y)) => {
            x.kind == y.kind
                && x.message == y.message
                && x.trace == y.trace
                && same(&x.value, &y.value)
        }
        _ => false,
    }
}

fn round_trip(prog: &Program, v: &Value) -> Value {
    let mut e = Encoder::new(prog);
    e.value(v).expect("encodes");
    let bytes = e.into_bytes();
    let mut d = Decoder::new(prog, &bytes);
    let back = d.value().expect("decodes");
    d.r.finish().expect("every byte read");
    back
}

fn encoded_len(prog: &Program, v: &Value) -> usize {
    let mut e = Encoder::new(prog);
    e.value(v).expect("encodes");
    e.into_bytes().len()
}

// ----- wire -----

#[test]
fn varints_and_zigzag_round_trip_at_the_edges() {
    let mut w = Writer::new();
    let us = [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
    let is = [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX];
    for u in us {
        w.varint(u);
    }
    for i in is {
        w.zigzag(i);
    }
    w.f64(-0.0);
    w.str("héllo");
    let bytes = w.into_bytes();
    let mut r = Reader::new(&bytes);
    for u in us {
        assert_eq!(r.varint().unwrap(), u);
    }
    for i in is {
        assert_eq!(r.zigzag().unwrap(), i);
    }
    assert_eq!(r.f64().unwrap().to_bits(), (-0.0f64).to_bits());
    assert_eq!(r.str().unwrap(), "héllo");
    r.finish().unwrap();
}

#[test]
fn readers_reject_truncation_overflow_and_huge_counts() {
    assert!(Reader::new(&[0x80]).varint().is_err(), "truncated varint");
    assert!(Reader::new(&[0xff; 11]).varint().is_err(), "11-byte varint");
    assert!(Reader::new(&[1, 2, 3]).f64().is_err(), "short float");
    // A count of 2^40 items in a 6-byte message is refused before any
    // allocation.
    let mut w = Writer::new();
    w.varint(1 << 40);
    let bytes = w.into_bytes();
    let err = Reader::new(&bytes).count(1).unwrap_err();
    assert!(err.0.contains("exceeds"), "{err}");
    let mut w = Writer::new();
    w.bytes_field(&[0xff, 0xfe]);
    assert!(Reader::new(w.bytes()).str().is_err(), "invalid UTF-8");
    let r = Reader::new(&[1]);
    assert!(r.finish().is_err(), "trailing bytes are an error");
}

// ----- values -----

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<u64>().prop_map(|b| Value::Float(f64::from_bits(b))),
        "\\PC{0,40}".prop_map(Value::str),
        (
            any::<i64>(),
            any::<i64>(),
            any::<i64>().prop_filter("step", |s| *s != 0)
        )
            .prop_map(|(a, b, c)| range(a, b, c)),
    ]
}

fn key() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        "[a-z]{0,8}".prop_map(Value::str),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        let kinds = prop_oneof![
            Just(ErrorKind::TypeError),
            Just(ErrorKind::ValueError),
            Just(ErrorKind::Error),
            Just(ErrorKind::Cancelled),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::list),
            proptest::collection::vec((key(), inner.clone()), 0..6).prop_map(map_of),
            (
                kinds,
                "\\PC{0,20}",
                inner,
                proptest::collection::vec("\\PC{0,20}", 0..3)
            )
                .prop_map(|(kind, message, value, trace)| {
                    Value::Error(Arc::new(ErrorValue {
                        kind,
                        message,
                        value,
                        trace,
                        errors: None,
                    }))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn plain_values_round_trip_exactly(v in value()) {
        let prog = Program::empty();
        let back = round_trip(&prog, &v);
        prop_assert!(same(&v, &back), "{v:?} came back as {back:?}");
    }

    #[test]
    fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let prog = Program::empty();
        let _ = Decoder::new(&prog, &bytes).value();
        let _ = decode(&prog, &bytes);
    }

    #[test]
    fn messages_round_trip(v in value(), call in any::<u64>(), seq in any::<u32>(), flags in proptest::collection::vec(any::<bool>(), 0..40)) {
        let prog = Program::empty();
        let msgs = vec![
            Msg::Chunk { call, seq, start: call / 3, items: v.clone() },
            Msg::Done { call, seq, elapsed_ns: call / 7, queued_ns: call / 11, result: Outcome::Map(Value::list(vec![v.clone()])), errors: vec![(3, v.clone())] },
            Msg::Done { call, seq, elapsed_ns: 1, queued_ns: 0, result: Outcome::Filter(flags), errors: vec![] },
            Msg::Done { call, seq, elapsed_ns: 1, queued_ns: 0, result: Outcome::ForEach, errors: vec![] },
            Msg::Done { call, seq, elapsed_ns: 1, queued_ns: 0, result: Outcome::Value(v.clone()), errors: vec![(call, v.clone())] },
            Msg::Call { call, kind: Kind::Fold, depth: seq, f: Value::Nil, extra: vec![v.clone(), Value::Int(0)], opts: v.clone(), snapshot: vec![(1, 2, v.clone())] },
            Msg::Call { call, kind: Kind::Reduce, depth: 0, f: Value::Nil, extra: vec![], opts: Value::Nil, snapshot: vec![] },
            Msg::Failed { call, seq, error: v.clone() },
            Msg::Skipped { call, seq },
            Msg::Stop { call, from: call / 5 },
            Msg::End { call },
            Msg::Shutdown { stats: seq % 2 == 0 },
            Msg::Bye { stats: format!("rank {seq}\n  table") },
            Msg::Bye { stats: String::new() },
            Msg::Verdict { code: seq as i32 },
            Msg::Hello(Hello { program: Ok(call), workers: seq, host: "h".into() }),
            Msg::Hello(Hello { program: Err("x.weft:1:1: error".into()), workers: 1, host: "".into() }),
        ];
        for m in msgs {
            let bytes = encode(&prog, &m).expect("encodes");
            let back = decode(&prog, &bytes).expect("decodes");
            // Values inside are compared exactly by re-encoding.
            prop_assert_eq!(encode(&prog, &back).expect("re-encodes"), bytes);
        }
    }
}

#[test]
fn special_floats_and_int_float_distinction_survive() {
    let prog = Program::empty();
    let nan = f64::from_bits(0x7ff8_dead_beef_0001);
    for v in [
        Value::Float(nan),
        Value::Float(-0.0),
        Value::Float(f64::INFINITY),
        Value::Int(1),
        Value::Float(1.0),
        Value::Int(i64::MIN),
    ] {
        assert!(same(&v, &round_trip(&prog, &v)), "{v:?}");
    }
}

#[test]
fn shared_containers_are_written_once_and_stay_shared() {
    let prog = Program::empty();
    let big = Value::list((0..1000).map(Value::Int).collect());
    let one = encoded_len(&prog, &big);
    let three = Value::list(vec![big.clone(), big.clone(), big.clone()]);
    let n = encoded_len(&prog, &three);
    assert!(
        n < one + 20,
        "three shared copies took {n} bytes, one {one}"
    );
    let back = round_trip(&prog, &three);
    let Value::List(xs) = &back else {
        panic!("not a list")
    };
    match (&xs[0], &xs[2]) {
        (Value::List(a), Value::List(b)) => {
            assert!(crate::value::List::ptr_eq(a, b), "sharing lost")
        }
        _ => panic!("items are not lists"),
    }
    assert!(same(&three, &back));
    // A value that doubles by sharing 60 times stays small.
    let mut a = Value::list(vec![Value::Int(7)]);
    for _ in 0..60 {
        a = Value::list(vec![a.clone(), a]);
    }
    assert!(encoded_len(&prog, &a) < 2000);
    let long = Value::str("x".repeat(100));
    let pair = Value::list(vec![long.clone(), long]);
    assert!(encoded_len(&prog, &pair) < 120);
    assert!(same(&pair, &round_trip(&prog, &pair)));
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    // On a thread with a small stack, so a recursive walk would crash.
    thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let prog = Program::empty();
            let mut v = Value::Int(1);
            for i in 0..100_000 {
                v = if i % 2 == 0 {
                    Value::list(vec![v])
                } else {
                    map_of(vec![(Value::str("k"), v)])
                };
            }
            let mut e = Encoder::new(&prog);
            e.value(&v).expect("encodes");
            let bytes = e.into_bytes();
            let back = Decoder::new(&prog, &bytes).value().expect("decodes");
            let mut e2 = Encoder::new(&prog);
            e2.value(&back).expect("re-encodes");
            assert_eq!(e2.into_bytes(), bytes);
            // Dropping 100,000 levels recurses in `Drop`: leak them here
            // (this test is about the codec).
            std::mem::forget(v);
            std::mem::forget(back);
        })
        .expect("thread")
        .join()
        .expect("no stack overflow");
}

#[test]
fn malformed_values_are_errors() {
    let prog = Program::empty();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![99], "unknown value tag"),
        (vec![14, 0], "back-reference"),
        (vec![8, 0, 2, 0], "step 0"),
        (vec![7, 1, 6, 0, 0], "key"),
        (vec![10, 3, b'z', b'z', b'z'], "unknown native"),
        (vec![9, 5, 5, 0], "unknown function"),
        (vec![13, 3, b'B', b'a', b'd', 0, 0, 0], "unknown error kind"),
    ];
    for (bytes, want) in cases {
        let err = Decoder::new(&prog, &bytes).value().unwrap_err();
        assert!(err.0.contains(want), "{bytes:?}: {err} (wanted {want})");
    }
}

#[test]
fn every_error_kind_decodes_by_name() {
    for k in [
        ErrorKind::TypeError,
        ErrorKind::StackOverflow,
        ErrorKind::Timeout,
        ErrorKind::NameError,
        ErrorKind::Error,
    ] {
        assert_eq!(kind_named(k.as_str()), Some(k));
    }
    assert_eq!(kind_named("NoSuchError"), None);
}

#[test]
fn natives_and_builtin_modules_cross_by_name() {
    let prog = Program::empty();
    let natives = Natives::get();
    for key in ["len", "parallel_map", "math.sqrt", "print"] {
        let f = natives
            .value(key)
            .unwrap_or_else(|| panic!("{key} registered"));
        let back = round_trip(&prog, &f);
        assert!(same(&f, &back), "{key}");
    }
    let math = crate::stdlib::lookup_global("math").expect("math");
    let back = round_trip(&prog, &math);
    match (&math, &back) {
        (Value::Module(a), Value::Module(b)) => assert!(Arc::ptr_eq(a, b)),
        _ => panic!("math is a module"),
    }
}

// ----- functions -----

const FUNCS: &str = r#"
import "functional"
let k = 10
fn add(x) { x + k }
fn make(n) {
    let base = [n, "s"]
    fn(x) { x + base[0] }
}
let twice = functional.compose(add, add)
"#;

#[test]
fn closures_cross_as_ids_with_their_captures() {
    let mut s0 = compile(FUNCS);
    let p0 = Program::new(s0.main_proto());
    s0.run().expect("runs");
    // A second, separate compilation: another process's view.
    let s1 = compile(FUNCS);
    let p1 = Program::new(s1.main_proto());
    assert_eq!(p0.fingerprint(), p1.fingerprint());
    assert_eq!(p0.modules().len(), 2, "the script and functional.weft");
    let make = s0.get("make").expect("make");
    let closure = with_vm(|vm| vm.call(&make, &[Value::Int(5)])).expect("make(5)");
    for v in [s0.get("add").unwrap(), closure, s0.get("twice").unwrap()] {
        let mut e = Encoder::new(&p0);
        e.value(&v).expect("encodes");
        let bytes = e.into_bytes();
        let back = Decoder::new(&p1, &bytes).value().expect("decodes");
        let (Value::Func(a), Value::Func(b)) = (&v, &back) else {
            panic!("functions")
        };
        let id = p0.id_of(a.proto).expect("an id");
        assert_eq!(Some(id), p1.id_of(b.proto), "same id");
        // Imported files are compiled once per process, so only the
        // script's own functions are separate code here.
        if id.module == 0 {
            assert!(!std::ptr::eq(a.proto, b.proto), "the receiver's own code");
        }
        assert_eq!(a.proto.display_name(), b.proto.display_name());
        assert_eq!(a.captures.len(), b.captures.len());
    }
}

#[test]
fn fingerprints_differ_for_different_programs() {
    let a = compile("fn f(x) { x + 1 }");
    let b = compile("fn f(x) { x + 2 }");
    let c = compile("fn f(x) { x + 1 }");
    let (pa, pb, pc) = (
        Program::new(a.main_proto()),
        Program::new(b.main_proto()),
        Program::new(c.main_proto()),
    );
    assert_ne!(pa.fingerprint(), pb.fingerprint());
    assert_eq!(pa.fingerprint(), pc.fingerprint());
}

#[test]
fn reads_cover_nested_functions_and_hoisting_groups() {
    let s = compile(
        r#"
let a = 1
let b = 2
let c = 3
let unused = 4
fn f(x) {
    fn g(y) { y + b + h(y) }
    fn h(y) { c }
    fn(z) { z + a + g(z) }
}
fn other() { unused }
"#,
    );
    let p = Program::new(s.main_proto());
    let m = &p.modules()[0];
    let f = m
        .protos
        .iter()
        .find(|p| p.name.as_deref() == Some("f"))
        .expect("f");
    let names: Vec<&str> = p
        .reads(f)
        .iter()
        .map(|&s| m.env.names[s as usize].as_ref())
        .collect();
    for want in ["a", "b", "c"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    assert!(!names.contains(&"unused"), "{names:?}");
}

#[test]
fn a_function_capturing_a_handle_is_refused_with_its_path() {
    let mut s = compile(
        r#"
fn make() {
    let cache = [1, 2, atom(3)]
    fn(x) { x + len(cache) }
}
let f = make()
let ch = channel()
fn reads_channel(x) { ch.len() + x }
fn calls_it(x) { reads_channel(x) }
"#,
    );
    let prog = Program::new(s.main_proto());
    s.run().expect("runs");
    let f = s.get("f").unwrap();
    let err = super::snapshot::refused_function(&prog, "parallel_map", &f);
    assert_eq!(err.kind(), ErrorKind::TypeError);
    assert!(
        err.message().contains("captured 'cache'[2] is an atom"),
        "{}",
        err.message()
    );
    // A handle in a module variable the function reads, through another
    // function.
    let g = s.get("calls_it").unwrap();
    let mut seeds = Vec::new();
    super::codec::scan(&prog, &g, &mut seeds, &mut Default::default()).expect("g itself is fine");
    let err =
        super::snapshot::plan(&prog, &mut Default::default(), "parallel_map", seeds).unwrap_err();
    assert!(
        err.message().contains("module variable 'ch' is a channel"),
        "{}",
        err.message()
    );
    let mut e = Encoder::new(&prog);
    assert_eq!(e.value(&f), Err(Refusal::Handle("atom")));
}

// ----- the start-up handshake -----

fn hello(fp: u64) -> Hello {
    Hello {
        program: Ok(fp),
        workers: 2,
        host: "fake".into(),
    }
}

#[test]
fn matching_fingerprints_go_on() {
    let mut links = fake_network(3);
    let others: Vec<Link> = links.split_off(1);
    let handles: Vec<_> = others
        .into_iter()
        .map(|l| thread::spawn(move || follow(&l, &hello(42))))
        .collect();
    let v = lead(&links[0], &hello(42), 1);
    assert!(matches!(&v, Verdict::Go(r) if r.len() == 3), "{v:?}");
    for h in handles {
        assert_eq!(h.join().unwrap(), 0);
    }
}

#[test]
fn a_fingerprint_mismatch_names_the_rank_and_stops_every_rank_with_2() {
    let mut links = fake_network(3);
    let others: Vec<Link> = links.split_off(1);
    let handles: Vec<_> = others
        .into_iter()
        .map(|l| {
            thread::spawn(move || {
                let own = if l.rank == 2 { hello(7) } else { hello(42) };
                follow(&l, &own)
            })
        })
        .collect();
    match lead(&links[0], &hello(42), 1) {
        Verdict::Stop {
            code,
            message: Some(m),
        } => {
            assert_eq!(code, 2);
            assert!(
                m.contains("rank 2 (on fake) compiled a different program"),
                "{m}"
            );
            assert!(!m.contains("rank 1"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    for h in handles {
        assert_eq!(h.join().unwrap(), 2);
    }
}

#[test]
fn a_compile_error_on_another_rank_is_reported_by_rank_0() {
    let mut links = fake_network(2);
    let other = links.pop().unwrap();
    let h = thread::spawn(move || {
        follow(
            &other,
            &Hello {
                program: Err("t.weft:3:1: error: undefined name 'x'".into()),
                workers: 1,
                host: "fake".into(),
            },
        )
    });
    match lead(&links[0], &hello(1), 1) {
        Verdict::Stop {
            code: 2,
            message: Some(m),
        } => assert!(
            m.contains("rank 1 (on fake) could not compile the script: t.weft:3:1"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.join().unwrap(), 2);
    // Rank 0's own compile error: status 1 for everyone, rank 0 prints it.
    let mut links = fake_network(2);
    let other = links.pop().unwrap();
    let h = thread::spawn(move || follow(&other, &hello(1)));
    let own = Hello {
        program: Err("bad".into()),
        workers: 1,
        host: "fake".into(),
    };
    assert_eq!(
        lead(&links[0], &own, 1),
        Verdict::Stop {
            code: 1,
            message: None
        }
    );
    assert_eq!(h.join().unwrap(), 1);
}

// ----- chunk sizing -----

#[test]
fn sizer_aims_at_the_target_and_shrinks_at_the_end() {
    let ms5 = Duration::from_millis(5);
    let any = vec![usize::MAX; 2];
    // 10 µs per item, 5 ms target: 500 items, unless little is left.
    let mut s = Sizer::new(vec![10e-6; 2], any.clone(), ms5, None);
    assert_eq!(s.size(1, 1_000_000), 500);
    // 2 ranks: rank 1 has 3 chunks unanswered, rank 0 one, so 4 slots; a
    // chunk is at most half of what is left over the slots.
    assert_eq!(s.size(0, 1000), 125);
    assert_eq!(s.size(0, 3), 1);
    // 3 ranks: 7 slots.
    let mut s = Sizer::new(vec![1e-9; 3], vec![usize::MAX; 3], ms5, None);
    assert_eq!(s.size(2, 1400), 100);
    // A rank measured twice as fast gets longer chunks, grown at most 4x.
    let mut s = Sizer::new(vec![10e-6; 2], any.clone(), ms5, None);
    assert_eq!(s.size(1, 1_000_000), 500);
    s.observe(1, 500, Duration::from_micros(2500));
    assert_eq!(s.size(1, 1_000_000), 1000);
    let mut s = Sizer::new(vec![1e-3; 2], any, ms5, None);
    assert_eq!(s.size(1, 1000), 5);
    s.observe(1, 5, Duration::from_micros(5));
    assert_eq!(s.size(1, 1_000_000), 20, "growth is capped at 4x");
    // A fixed chunk_size wins, capped by what is left.
    let mut s = Sizer::new(vec![1.0; 3], vec![1; 3], ms5, Some(7));
    assert_eq!(s.size(2, 100), 7);
    assert_eq!(s.size(2, 3), 3);
    // Nonsense estimates do not divide by zero.
    let mut s = Sizer::new(vec![0.0, f64::NAN], vec![usize::MAX; 2], ms5, None);
    assert_eq!(s.size(0, 10), 1);
    assert_eq!(s.size(1, 100), 12);
}

#[test]
fn sizer_deals_short_chunks_until_a_rank_has_answered() {
    // Rank 0 measured 7 cheap items (1 µs each): rank 1's chunks stay at 7
    // items (rank 2, with 2 workers, at 14), however many are dealt ahead,
    // until that rank answers; the items after the cheap ones may cost far
    // more.
    let ms5 = Duration::from_millis(5);
    let mut s = Sizer::new(vec![1e-6, 1e-6, 0.5e-6], vec![7, 7, 14], ms5, None);
    for _ in 0..3 {
        assert_eq!(s.size(1, 1_000_000), 7);
        assert_eq!(s.size(2, 1_000_000), 14);
    }
    // Its first answer says 1 ms per item: 5 items per chunk from then on.
    s.observe(1, 7, Duration::from_millis(7));
    assert_eq!(s.size(1, 1_000_000), 5);
    // Cheap after all: it grows, at most 4x per chunk.
    s.observe(2, 14, Duration::from_micros(14));
    assert_eq!(s.size(2, 1_000_000), 56);
    assert_eq!(s.size(2, 1_000_000), 224);
}

#[test]
fn sizer_keeps_enough_chunks_in_flight_to_cover_the_round_trip() {
    // 1 ms chunks, a 4.5 ms round trip: 2 + 5.
    let mut s = Sizer::new(vec![1e-3; 2], vec![1; 2], Duration::from_millis(5), Some(1));
    assert_eq!(s.depth(1), 3, "no round trip measured yet");
    s.size(1, 100);
    for _ in 0..50 {
        s.observe_trip(1, Duration::from_micros(4500));
    }
    assert_eq!(s.depth(1), 7);
    for _ in 0..50 {
        s.observe_trip(1, Duration::from_secs(10));
    }
    assert_eq!(s.depth(1), 32, "capped");
    assert_eq!(s.depth(0), 1, "rank 0 runs one chunk at a time");
}

// ----- whole calls over fake ranks -----

/// A job of `ranks` fake ranks: rank 0 compiled and ran `src`; the others
/// compiled it separately and serve on threads.
struct FakeJob {
    ctx: Context,
    script: Script,
    servers: Vec<thread::JoinHandle<std::result::Result<usize, String>>>,
}

impl FakeJob {
    fn start(src: &str, ranks: usize) -> FakeJob {
        let mut links = fake_network(ranks);
        let others = links.split_off(1);
        let link0 = links.pop().expect("rank 0");
        let servers = others
            .into_iter()
            .map(|link| {
                let src = src.to_string();
                thread::Builder::new()
                    .stack_size(64 << 20)
                    .spawn(move || {
                        let s = compile(&src);
                        let prog = Program::new(s.main_proto());
                        let code = follow(&link, &hello(prog.fingerprint()));
                        if code != 0 {
                            return Err(format!("verdict {code}"));
                        }
                        serve(&link, &prog)
                    })
                    .expect("thread")
            })
            .collect();
        let mut script = compile(src);
        let prog = Program::new(script.main_proto());
        let verdict = lead(&link0, &hello(prog.fingerprint()), 1);
        assert!(matches!(verdict, Verdict::Go(_)), "{verdict:?}");
        script.run().expect("script runs");
        FakeJob {
            ctx: Context::new(Arc::new(prog), link0, verdict.ranks()),
            script,
            servers,
        }
    }

    fn get(&self, name: &str) -> Value {
        self.script.get(name).unwrap_or_else(|| panic!("{name}"))
    }

    fn call(&self, kind: Kind, args: &[Value]) -> Result<Value> {
        with_vm(|vm| self.ctx.dispatch(vm, kind, args)).expect("distributed")
    }

    /// Ends the job; how many chunks each other rank ran.
    fn stop(self) -> Vec<usize> {
        let bytes = encode(self.ctx.program(), &Msg::Shutdown { stats: false }).unwrap();
        for r in 1..self.ctx.size() {
            self.ctx.link().send(r, bytes.clone());
        }
        self.servers
            .into_iter()
            .map(|h| h.join().expect("server thread").expect("served"))
            .collect()
    }
}

fn chunk(n: i64) -> Value {
    map_of(vec![(Value::str("chunk_size"), Value::Int(n))])
}

fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::List(xs) => xs
            .iter()
            .map(|x| match x {
                Value::Int(i) => *i,
                other => panic!("not an int: {other:?}"),
            })
            .collect(),
        other => panic!("not a list: {other:?}"),
    }
}

const JOB: &str = r#"
let scale = 3
let table = {"a": 1, "b": 2}
let offset = 0
fn f(x) { x * scale + table["b"] + offset }
fn pred(x) { x % 3 == 0 }
fn fails_at(x) {
    if x == 37 or x == 90 { throw "bad " + str(x) }
    x
}
fn apply(g) { g(2) }
fn make_adder(n) { fn(x) { x + n } }
fn spin(x) {
    let i = 0
    while i < 2000 { i += 1 }
    x
}
"#;

#[test]
fn map_filter_for_each_give_the_local_results_in_order() {
    for ranks in [2, 3] {
        let job = FakeJob::start(JOB, ranks);
        let xs = range(0, 200, 1);
        let got = job
            .call(Kind::Map, &[xs.clone(), job.get("f"), chunk(7)])
            .unwrap();
        assert_eq!(ints(&got), (0..200).map(|x| x * 3 + 2).collect::<Vec<_>>());
        let got = job
            .call(Kind::Filter, &[xs.clone(), job.get("pred"), chunk(5)])
            .unwrap();
        assert_eq!(
            ints(&got),
            (0..200).filter(|x| x % 3 == 0).collect::<Vec<_>>()
        );
        let got = job
            .call(Kind::ForEach, &[xs, job.get("f"), chunk(9)])
            .unwrap();
        assert!(matches!(got, Value::Nil));
        // A list input with strings, and a string input.
        let words = Value::list((0..50).map(|i| Value::str(format!("w{i}"))).collect());
        let len = Natives::get().value("len").unwrap();
        let got = job
            .call(Kind::Map, &[words, len.clone(), chunk(4)])
            .unwrap();
        assert_eq!(
            ints(&got),
            (0..50)
                .map(|i| if i < 10 { 2 } else { 3 })
                .collect::<Vec<_>>()
        );
        let got = job
            .call(Kind::Map, &[Value::str("héllo wörld"), len, chunk(2)])
            .unwrap();
        assert_eq!(ints(&got), vec![1; 11]);
        let ran = job.stop();
        assert!(ran.iter().all(|&n| n > 0), "every rank ran chunks: {ran:?}");
    }
}

#[test]
fn the_first_error_in_input_order_wins_and_names_its_rank() {
    let job = FakeJob::start(JOB, 3);
    for c in [1, 4, 50] {
        let err = job
            .call(
                Kind::Map,
                &[range(0, 200, 1), job.get("fails_at"), chunk(c)],
            )
            .unwrap_err();
        assert_eq!(err.message(), "bad 37", "chunk_size {c}");
        let trace = &err.0.trace;
        assert!(
            trace.iter().any(|t| t.starts_with("at fails_at (t.weft:")),
            "{trace:?}"
        );
        assert!(
            trace
                .iter()
                .any(|t| t.starts_with("at <rank ") && t.ends_with(" on fake>")),
            "{trace:?}"
        );
    }
    // The job is still usable after an error.
    let got = job
        .call(Kind::Map, &[range(0, 10, 1), job.get("f"), chunk(2)])
        .unwrap();
    assert_eq!(ints(&got), (0..10).map(|x| x * 3 + 2).collect::<Vec<_>>());
    job.stop();
}

#[test]
fn functions_in_items_travel_with_their_captures() {
    let job = FakeJob::start(JOB, 2);
    // Closures as items: their captures and the variables they read go too.
    let adders: Vec<Value> = (0..30)
        .map(|n| with_vm(|vm| vm.call(&job.get("make_adder"), &[Value::Int(n)])).unwrap())
        .collect();
    let got = job
        .call(
            Kind::Map,
            &[Value::list(adders), job.get("apply"), chunk(3)],
        )
        .unwrap();
    assert_eq!(ints(&got), (0..30).map(|n| n + 2).collect::<Vec<_>>());
    job.stop();
}

#[test]
fn reassigned_module_variables_are_sent_with_each_call() {
    let src = r#"
let offset = 0
offset = 0
fn f(x) { x + offset }
"#;
    let job = FakeJob::start(src, 2);
    // The script's own top level reassigns `offset`; simulate that by
    // setting the slot as the top-level code would.
    let prog = job.ctx.program();
    let env = &prog.modules()[0].env;
    let slot = env
        .names
        .iter()
        .position(|n| n.as_ref() == "offset")
        .expect("offset is a slot");
    for value in [0, 1000, 5] {
        env.slots[slot].set(Value::Int(value));
        let got = job
            .call(Kind::Map, &[range(0, 20, 1), job.get("f"), chunk(3)])
            .unwrap();
        assert_eq!(ints(&got), (0..20).map(|x| x + value).collect::<Vec<_>>());
    }
    job.stop();
}

#[test]
fn handles_are_refused_before_anything_runs() {
    let src = r#"
let hits = atom(0)
fn count(x) { hits.add(1) }
fn make() {
    let cache = [1, 2, atom(3)]
    fn(x) { x + len(cache) }
}
let g = make()
fn id(x) { x }
"#;
    let job = FakeJob::start(src, 2);
    let err = job
        .call(Kind::ForEach, &[range(0, 10, 1), job.get("count")])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TypeError);
    assert!(
        err.message().contains("module variable 'hits' is an atom"),
        "{}",
        err.message()
    );
    let err = job
        .call(Kind::Map, &[range(0, 10, 1), job.get("g")])
        .unwrap_err();
    assert!(
        err.message().contains("captured 'cache'[2] is an atom"),
        "{}",
        err.message()
    );
    let atom = with_vm(|vm| {
        vm.call(
            &crate::stdlib::lookup_global("atom").unwrap(),
            &[Value::Int(1)],
        )
    })
    .unwrap();
    let items = Value::list(vec![Value::Int(1), Value::list(vec![Value::Nil, atom])]);
    let err = job.call(Kind::Map, &[items, job.get("id")]).unwrap_err();
    assert!(
        err.message().contains("item 1[1] is an atom"),
        "{}",
        err.message()
    );
    // Nothing ran: the atom was never incremented.
    let hits = job.get("hits");
    assert_eq!(hits.to_string(), "<atom 0>");
    let ran = job.stop();
    assert_eq!(ran, vec![0]);
}

#[test]
fn cheap_calls_stay_on_rank_0_and_costly_ones_spread() {
    let job = FakeJob::start(JOB, 2);
    let got = job
        .call(Kind::Map, &[range(0, 50, 1), job.get("f")])
        .unwrap();
    assert_eq!(ints(&got).len(), 50);
    // Tens of µs per item, 1000 items: tens of ms, over the threshold.
    let got = job
        .call(Kind::Map, &[range(0, 1000, 1), job.get("spin")])
        .unwrap();
    assert_eq!(ints(&got), (0..1000).collect::<Vec<_>>());
    let ran = job.stop();
    assert!(ran[0] > 0, "rank 1 got chunks of the costly call: {ran:?}");
}

#[test]
fn a_result_holding_a_handle_fails_the_call_with_its_item() {
    let src = r#"
fn mk(x) { if x == 13 { [x, channel()] } else { x } }
"#;
    let job = FakeJob::start(src, 2);
    let err = job
        .call(Kind::Map, &[range(0, 40, 1), job.get("mk"), chunk(40)])
        .unwrap_err();
    // The single chunk went to rank 1 (rank 0 deals before it computes).
    assert!(
        err.message()
            .contains("the result of item 13[1] is a channel"),
        "{}",
        err.message()
    );
    job.stop();
}

#[test]
fn functions_decoded_on_other_ranks_run_their_own_code() {
    // Sanity: the closure built on rank 0 and the one decoded on rank 1
    // are different objects running equal code.
    let s = compile("fn f(x) { x + 1 }");
    let p = Program::new(s.main_proto());
    let proto = p.modules()[0].protos[1];
    let c = Value::Func(Arc::new(Closure {
        proto,
        captures: Box::new([]),
    }));
    assert!(same(&c, &round_trip(&p, &c)));
}

#[test]
fn a_rank_breaking_the_protocol_fails_the_call_instead_of_hanging() {
    let src = "fn f(x) { x }";
    let mut links = fake_network(2);
    let other = links.pop().unwrap();
    let bad = thread::spawn(move || {
        let s = compile(src);
        let prog = Program::new(s.main_proto());
        assert_eq!(follow(&other, &hello(prog.fingerprint())), 0);
        // Answer the first chunk with garbage, then serve nothing.
        loop {
            let env = other.recv().expect("message");
            if let Ok(Msg::Chunk { .. }) = decode(&prog, &env.bytes) {
                other.send(0, vec![200, 1, 2, 3]);
                return;
            }
        }
    });
    let mut script = compile(src);
    let prog = Program::new(script.main_proto());
    let verdict = lead(&links[0], &hello(prog.fingerprint()), 1);
    script.run().expect("runs");
    let ctx = Context::new(Arc::new(prog), links.pop().unwrap(), verdict.ranks());
    let f = script.get("f").unwrap();
    let args = [range(0, 10, 1), f, chunk(1)];
    let err = with_vm(|vm| ctx.dispatch(vm, Kind::Map, &args))
        .expect("distributed")
        .unwrap_err();
    assert!(
        err.message()
            .contains("rank 1 sent a message rank 0 cannot read"),
        "{}",
        err.message()
    );
    bad.join().unwrap();
    // The ranks may be out of step now: later calls stay on rank 0.
    assert!(with_vm(|vm| ctx.dispatch(vm, Kind::Map, &args)).is_none());
}

#[test]
fn stats_count_every_chunk_and_item_once() {
    let job = FakeJob::start(JOB, 3);
    job.call(Kind::Map, &[range(0, 120, 1), job.get("f"), chunk(10)])
        .unwrap();
    job.call(Kind::Map, &[range(0, 5, 1), job.get("f")])
        .unwrap();
    let s = job.ctx.stats();
    assert_eq!((s.calls_spread, s.calls_local), (1, 1));
    assert_eq!(s.chunks.iter().sum::<u64>(), 12);
    assert_eq!(s.items.iter().sum::<u64>(), 120);
    let remote: u64 = s.chunks.iter().skip(1).sum();
    assert_eq!(s.round_trip_us.len() as u64, remote);
    assert!(s.round_trip_percentile(50.0).is_some_and(|m| m >= 0.0));
    let table = s.table();
    assert!(
        table.contains("calls spread over the ranks        1"),
        "{table}"
    );
    assert!(table.contains("round trip per chunk"), "{table}");
    let ran = job.stop();
    assert_eq!(ran.iter().map(|&n| n as u64).sum::<u64>(), remote);
}

// ----- reduce and fold on the fixed tree; errors, retries, init -----

// `fadd` and `step` cost enough (3000 items of a 2000-iteration loop, tens
// of ms) that rank 0's measurement always finds the call worth dealing out
// (`DISTRIBUTE_MIN`), however fast the interpreter gets.
const TREE_JOB: &str = r#"
fn fadd(a, b) {
    let i = 0
    while i < 2000 { i += 1 }
    a + b
}
fn step(acc, x) {
    let i = 0
    while i < 2000 { i += 1 }
    acc + x * x
}
fn plus(a, b) { a + b }
fn bad_step(acc, x) {
    if x == 1000 or x == 2500 { throw "bad " + str(x) }
    let i = 0
    while i < 300 { i += 1 }
    acc + x
}
fn fails_at(x) {
    let i = 0
    while i < 300 { i += 1 }
    if x == 37 or x == 1900 { throw "bad " + str(x) }
    x
}
fn counter() { atom(0) }
fn tick(st, x) {
    let i = 0
    while i < 300 { i += 1 }
    st.add(1)
    st.get()
}
fn flaky(st, x) {
    let i = 0
    while i < 300 { i += 1 }
    if st.get() % 2 == 0 {
        st.add(1)
        throw "flaky " + str(x)
    }
    st.add(1)
    x * 2
}
"#;

/// The local call (no dispatch: the fake job installs no global context).
fn local(name: &str, args: &[Value]) -> Value {
    let f = Natives::get().value(name).unwrap();
    with_vm(|vm| vm.call(&f, args)).unwrap()
}

fn list_of(v: &Value) -> Vec<Value> {
    match v {
        Value::List(xs) => xs.to_vec(),
        other => panic!("not a list: {other:?}"),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

fn float_bits(v: &Value) -> u64 {
    match v {
        Value::Float(x) => x.to_bits(),
        other => panic!("not a float: {other:?}"),
    }
}

#[test]
fn tree_cuts_are_whole_subtrees_covering_every_leaf() {
    use super::executor::{combine_tree, Shape};
    use crate::stdlib::parallel::tree;
    for leaves in [1usize, 2, 3, 7, 8, 13, 100, 257] {
        let shape = Shape::Tree {
            n: leaves * 8,
            block: 8,
            leaves,
        };
        for wants in [
            vec![1usize],
            vec![1, 2, 4, 8, 16],
            vec![3, 5, 1000],
            vec![2],
        ] {
            // Deal with these wanted sizes in turn; combine as leaf
            // strings; the result must be the tree's own parenthesisation.
            let mut nodes = std::collections::BTreeMap::new();
            let mut next = 0;
            let mut i = 0;
            while next < leaves {
                let end = shape.cut(next, wants[i % wants.len()]);
                assert!(end > next && end <= leaves);
                let mut leaf = |l: usize| Some(l.to_string());
                let mut join = |a: String, b: String, _| Some(format!("({a} {b})"));
                let v = tree::fold_tree(next, end, &mut leaf, &mut join).unwrap();
                nodes.insert(next, (end, Value::str(v)));
                next = end;
                i += 1;
            }
            let mut join = |a: Value, b: Value| -> Result<Value> {
                Ok(Value::str(format!("({} {})", text(&a), text(&b))))
            };
            let got = combine_tree(0, leaves, &mut nodes, &mut join).unwrap();
            let mut leaf = |l: usize| Some(l.to_string());
            let mut join2 = |a: String, b: String, _| Some(format!("({a} {b})"));
            let want = tree::fold_tree(0, leaves, &mut leaf, &mut join2).unwrap();
            assert_eq!(text(&got), want, "{leaves} leaves, wants {wants:?}");
            assert!(nodes.is_empty(), "every chunk used once");
        }
    }
}

#[test]
fn float_reduce_and_fold_give_the_local_bits_on_2_and_3_ranks() {
    let xs = Value::list(
        (0..3000)
            .map(|i| Value::Float(1.0 / (i as f64 + 1.0)))
            .collect(),
    );
    for ranks in [2, 3] {
        let job = FakeJob::start(TREE_JOB, ranks);
        for opts in [Value::Nil, chunk(8), chunk(100)] {
            let fadd = job.get("fadd");
            let args = [xs.clone(), fadd, Value::Float(0.0), opts.clone()];
            let want = local("parallel_reduce", &args);
            let got = job.call(Kind::Reduce, &args).unwrap();
            assert_eq!(
                float_bits(&got),
                float_bits(&want),
                "reduce, {ranks} ranks, {opts:?}"
            );
            let args = [
                xs.clone(),
                job.get("step"),
                job.get("plus"),
                Value::Float(0.0),
                opts.clone(),
            ];
            let want = local("parallel_fold", &args);
            let got = job.call(Kind::Fold, &args).unwrap();
            assert_eq!(
                float_bits(&got),
                float_bits(&want),
                "fold, {ranks} ranks, {opts:?}"
            );
        }
        // The order matters for these floats: a left-to-right sum differs,
        // so equal bits above are not luck.
        let seq: f64 = (0..3000).map(|i| 1.0 / (i as f64 + 1.0)).sum();
        let tree = local(
            "parallel_reduce",
            &[xs.clone(), job.get("plus"), Value::Float(0.0)],
        );
        assert_ne!(seq.to_bits(), float_bits(&tree));
        let ran = job.stop();
        assert!(ran.iter().all(|&n| n > 0), "every rank ran chunks: {ran:?}");
    }
}

#[test]
fn a_failing_fold_throws_the_first_error_with_its_rank() {
    let job = FakeJob::start(TREE_JOB, 3);
    let err = job
        .call(
            Kind::Fold,
            &[
                range(0, 3000, 1),
                job.get("bad_step"),
                job.get("plus"),
                Value::Int(0),
            ],
        )
        .unwrap_err();
    assert_eq!(err.message(), "bad 1000");
    assert!(
        err.0.trace.iter().any(|t| t.starts_with("at <rank ")),
        "{:?}",
        err.0.trace
    );
    // Collected: the result leaves the failed items out.
    let opts = map_of(vec![(Value::str("errors"), Value::str("collect"))]);
    let args = [
        range(0, 3000, 1),
        job.get("bad_step"),
        job.get("plus"),
        Value::Int(0),
        opts,
    ];
    let got = job.call(Kind::Fold, &args).unwrap();
    let want = local("parallel_fold", &args);
    let Value::Map(m) = &got else {
        panic!("{got:?}")
    };
    assert_eq!(
        m.get(&Key::str("result")),
        Some(&Value::Int((0..3000).sum::<i64>() - 3500))
    );
    let errors = m.get(&Key::str("errors")).unwrap();
    let indexes: Vec<i64> = list_of(errors)
        .iter()
        .map(|e| match e {
            Value::Map(e) => match e.get(&Key::str("index")) {
                Some(Value::Int(i)) => *i,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(indexes, vec![1000, 2500]);
    let Value::Map(w) = &want else { panic!() };
    assert_eq!(w.get(&Key::str("result")), m.get(&Key::str("result")));
    job.stop();
}

#[test]
fn collected_errors_keep_their_input_index_across_ranks() {
    let job = FakeJob::start(TREE_JOB, 3);
    let collect = |c: i64| {
        map_of(vec![
            (Value::str("errors"), Value::str("collect")),
            (Value::str("chunk_size"), Value::Int(c)),
        ])
    };
    for c in [7, 100] {
        let got = job
            .call(
                Kind::Map,
                &[range(0, 3000, 1), job.get("fails_at"), collect(c)],
            )
            .unwrap();
        let Value::Map(m) = &got else {
            panic!("{got:?}")
        };
        let results = list_of(m.get(&Key::str("results")).unwrap()).to_vec();
        assert_eq!(results.len(), 3000);
        for (i, r) in results.iter().enumerate() {
            match r {
                Value::Nil => assert!(i == 37 || i == 1900, "nil at {i}"),
                Value::Int(x) => assert_eq!(*x, i as i64),
                other => panic!("{other:?}"),
            }
        }
        let errors = list_of(m.get(&Key::str("errors")).unwrap()).to_vec();
        assert_eq!(errors.len(), 2);
        for (e, at) in errors.iter().zip([37i64, 1900]) {
            let Value::Map(e) = e else { panic!() };
            assert_eq!(e.get(&Key::str("index")), Some(&Value::Int(at)));
            assert_eq!(e.get(&Key::str("item")), Some(&Value::Int(at)));
            let Some(Value::Error(err)) = e.get(&Key::str("error")) else {
                panic!()
            };
            assert_eq!(err.message, format!("bad {at}"));
            assert!(
                err.trace.iter().any(|t| t.starts_with("at <rank ")),
                "{:?}",
                err.trace
            );
        }
        // Filter: failed items are not kept; for_each: nil results.
        let got = job
            .call(
                Kind::Filter,
                &[range(0, 3000, 1), job.get("fails_at"), collect(c)],
            )
            .unwrap();
        let Value::Map(m) = &got else { panic!() };
        assert_eq!(list_of(m.get(&Key::str("results")).unwrap()).len(), 2998);
        assert_eq!(list_of(m.get(&Key::str("errors")).unwrap()).len(), 2);
        let got = job
            .call(
                Kind::ForEach,
                &[range(0, 3000, 1), job.get("fails_at"), collect(c)],
            )
            .unwrap();
        let Value::Map(m) = &got else { panic!() };
        assert_eq!(m.get(&Key::str("results")), Some(&Value::Nil));
        assert_eq!(list_of(m.get(&Key::str("errors")).unwrap()).len(), 2);
    }
    let ran = job.stop();
    assert!(ran.iter().all(|&n| n > 0), "every rank ran chunks: {ran:?}");
}

#[test]
fn retries_and_init_states_work_on_every_rank() {
    let job = FakeJob::start(TREE_JOB, 3);
    // `flaky` fails every other call on its thread's state: with one retry
    // every item succeeds; without, some fail.
    let opts = |retries: i64| {
        map_of(vec![
            (Value::str("init"), job.get("counter")),
            (Value::str("retries"), Value::Int(retries)),
            (Value::str("chunk_size"), Value::Int(50)),
        ])
    };
    let got = job
        .call(Kind::Map, &[range(0, 2000, 1), job.get("flaky"), opts(1)])
        .unwrap();
    assert_eq!(ints(&got), (0..2000).map(|x| x * 2).collect::<Vec<_>>());
    let err = job
        .call(Kind::Map, &[range(0, 2000, 1), job.get("flaky"), opts(0)])
        .unwrap_err();
    assert_eq!(err.message(), "flaky 0");
    let ran = job.stop();
    assert!(ran.iter().all(|&n| n > 0), "every rank ran chunks: {ran:?}");
}

#[test]
fn options_the_local_call_must_judge_are_left_to_it() {
    let job = FakeJob::start(TREE_JOB, 2);
    let bad = [
        map_of(vec![(Value::str("ordered"), Value::Bool(true))]),
        map_of(vec![(Value::str("chunk_sise"), Value::Int(2))]),
        map_of(vec![(Value::str("retries"), Value::Int(-1))]),
        Value::Int(3),
    ];
    for opts in bad {
        let args = [range(0, 100, 1), job.get("fails_at"), opts];
        assert!(with_vm(|vm| job.ctx.dispatch(vm, Kind::Map, &args)).is_none());
    }
    // A fold whose combine is not a function, and an empty reduce.
    let args = [
        range(0, 100, 1),
        job.get("step"),
        Value::Int(1),
        Value::Int(0),
    ];
    assert!(with_vm(|vm| job.ctx.dispatch(vm, Kind::Fold, &args)).is_none());
    let args = [range(0, 0, 1), job.get("fadd"), Value::Int(0)];
    assert!(with_vm(|vm| job.ctx.dispatch(vm, Kind::Reduce, &args)).is_none());
    job.stop();
}

#[test]
fn init_runs_once_per_thread_per_rank_for_the_whole_call() {
    let job = FakeJob::start(TREE_JOB, 3);
    // 200 chunks of 10 items; each state counts the items its thread ran,
    // so the number of 1s is the number of states made.
    let opts = map_of(vec![
        (Value::str("init"), job.get("counter")),
        (Value::str("chunk_size"), Value::Int(10)),
    ]);
    let got = job
        .call(Kind::Map, &[range(0, 2000, 1), job.get("tick"), opts])
        .unwrap();
    let counts = ints(&got);
    let states = counts.iter().filter(|&&c| c == 1).count();
    assert!(states >= 3, "at least one state per rank: {states}");
    assert!(
        states < 60,
        "one state per thread per rank, not per chunk: {states}"
    );
    assert_eq!(counts.iter().filter(|&&c| c >= 1).count(), 2000);
    let ran = job.stop();
    assert!(ran.iter().all(|&n| n > 0), "every rank ran chunks: {ran:?}");
}

use super::*;

fn ints(xs: &[i64]) -> Value {
    l(xs.iter().map(|x| i(*x)).collect())
}

fn ptr(v: &Value) -> *const () {
    match v {
        Value::List(xs) => xs.as_ptr(),
        other => panic!("not a list: {other:?}"),
    }
}

fn capacity(v: &Value) -> usize {
    match v {
        Value::List(xs) => xs.capacity(),
        other => panic!("not a list: {other:?}"),
    }
}

#[test]
fn push_is_in_place_when_unique_and_copies_when_shared() {
    let mut xs = ints(&[1]);
    ok(method(&mut xs, "push", &[i(2)]));
    // While the capacity suffices, pushes stay in the same allocation;
    // capacity grows geometrically, so it moves O(log n) times.
    let mut moves = 0;
    for k in 3..1000 {
        let (p, full) = (
            ptr(&xs),
            capacity(&xs) == crate::ops::len(&xs).unwrap() as usize,
        );
        ok(method(&mut xs, "push", &[i(k)]));
        if ptr(&xs) != p {
            assert!(full, "moved at {k} with room to spare");
            moves += 1;
        }
    }
    assert_eq!(crate::ops::len(&xs).unwrap(), 999);
    assert!(moves <= 10, "{moves} moves");

    let original = ints(&[1, 2]);
    let mut copy = original.clone();
    ok(method(&mut copy, "push", &[i(3)]));
    assert_eq!(original, ints(&[1, 2]));
    assert_eq!(copy, ints(&[1, 2, 3]));
    assert_eq!(
        err(method(&mut copy, "push", &[])).1,
        "list.push() takes 1 argument (0 given)"
    );
    assert_eq!(
        err(method(&mut copy, "push", &[i(1), i(2)])).1,
        "list.push() takes 1 argument (2 given)"
    );
}

#[test]
fn pop_and_remove() {
    let mut xs = ints(&[1, 2, 3, 4]);
    assert_eq!(ok(method(&mut xs, "pop", &[])), i(4));
    assert_eq!(ok(method(&mut xs, "pop", &[i(0)])), i(1));
    assert_eq!(ok(method(&mut xs, "remove", &[i(-1)])), i(3));
    assert_eq!(xs, ints(&[2]));
    let (k, msg) = err(method(&mut xs, "remove", &[i(1)]));
    assert_eq!(k, ErrorKind::IndexError);
    assert!(msg.contains("index 1") && msg.contains("length 1"), "{msg}");
    assert_eq!(
        kind(method(&mut xs, "remove", &[s("x")])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(method(&mut xs, "pop", &[i(5)])), ErrorKind::IndexError);
    assert_eq!(ok(method(&mut xs, "pop", &[])), i(2));
    let (k, msg) = err(method(&mut xs, "pop", &[]));
    assert_eq!(k, ErrorKind::IndexError);
    assert!(msg.contains("empty"), "{msg}");
    assert_eq!(
        kind(method(&mut xs, "pop", &[i(1), i(2)])),
        ErrorKind::TypeError
    );
}

#[test]
fn insert_clamps_like_python() {
    let mut xs = ints(&[1, 2]);
    ok(method(&mut xs, "insert", &[i(1), i(9)]));
    assert_eq!(xs, ints(&[1, 9, 2]));
    ok(method(&mut xs, "insert", &[i(-1), i(8)]));
    assert_eq!(xs, ints(&[1, 9, 8, 2]));
    ok(method(&mut xs, "insert", &[i(100), i(7)]));
    ok(method(&mut xs, "insert", &[i(-100), i(0)]));
    assert_eq!(xs, ints(&[0, 1, 9, 8, 2, 7]));
    assert_eq!(
        kind(method(&mut xs, "insert", &[i(0)])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(method(&mut xs, "insert", &[f(0.0), i(1)])),
        ErrorKind::TypeError
    );
}

#[test]
fn extend_clear_reverse() {
    let mut xs = ints(&[1]);
    ok(method(&mut xs, "extend", &[ints(&[2, 3])]));
    ok(method(&mut xs, "extend", &[range(4, 6, 1)]));
    assert_eq!(xs, ints(&[1, 2, 3, 4, 5]));
    let same = xs.clone();
    ok(method(&mut xs, "extend", std::slice::from_ref(&same)));
    assert_eq!(crate::ops::len(&xs).unwrap(), 10);
    assert_eq!(same, ints(&[1, 2, 3, 4, 5]));
    assert_eq!(
        kind(method(&mut xs, "extend", &[i(1)])),
        ErrorKind::TypeError
    );
    ok(method(&mut xs, "reverse", &[]));
    assert_eq!(xs, ints(&[5, 4, 3, 2, 1, 5, 4, 3, 2, 1]));
    let shared = xs.clone();
    assert_eq!(ok(method(&mut xs, "clear", &[])), Value::Nil);
    assert_eq!(xs, ints(&[]));
    assert_eq!(crate::ops::len(&shared).unwrap(), 10);
    assert_eq!(
        kind(method(&mut xs, "clear", &[i(1)])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(method(&mut xs, "reverse", &[i(1)])),
        ErrorKind::TypeError
    );
}

#[test]
fn sort_in_place() {
    let mut xs = ints(&[3, 1, 2]);
    ok(method(&mut xs, "sort", &[]));
    assert_eq!(xs, ints(&[1, 2, 3]));
    let mut words = l(vec![s("pear"), s("fig"), s("apple")]);
    ok(method(&mut words, "sort", &[]));
    assert_eq!(words, l(vec![s("apple"), s("fig"), s("pear")]));
    let mut nums = l(vec![f(2.5), i(1), f(f64::NAN), i(-1)]);
    ok(method(&mut nums, "sort", &[]));
    let Value::List(v) = &nums else { panic!() };
    assert_eq!(v[..3], [i(-1), i(1), f(2.5)]);
    assert!(matches!(v[3], Value::Float(x) if x.is_nan()));

    // A failed sort leaves the list as it was.
    let mut mixed = l(vec![
        i(3),
        s("a"),
        i(1),
        i(0),
        i(5),
        i(2),
        i(9),
        i(8),
        i(7),
        i(6),
        i(4),
        i(11),
        i(12),
        i(13),
        i(10),
    ]);
    let before = mixed.clone();
    assert_eq!(kind(method(&mut mixed, "sort", &[])), ErrorKind::TypeError);
    assert_eq!(mixed, before);
}

#[test]
fn sort_with_key_is_stable() {
    let mut xs = ints(&[1, -5, 3, -2, 2]);
    ok(method(&mut xs, "sort", &[lookup_global("abs").unwrap()]));
    assert_eq!(xs, ints(&[1, -2, 2, 3, -5]));
    ok(method(&mut xs, "sort", &[negate_fn()]));
    assert_eq!(xs, ints(&[3, 2, 1, -2, -5]));
    let before = xs.clone();
    assert_eq!(
        kind(method(&mut xs, "sort", &[fail_fn()])),
        ErrorKind::ValueError
    );
    assert_eq!(xs, before);
    assert_eq!(kind(method(&mut xs, "sort", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(
        kind(method(&mut xs, "sort", &[negate_fn(), i(1)])),
        ErrorKind::TypeError
    );
}

#[test]
fn merge_sort_handles_long_mixed_key_lists() {
    // Lists as keys go through the fallible merge sort; check it against
    // the standard sort on a pseudo-random input, including stability.
    let mut items = Vec::new();
    let mut x: u64 = 12345;
    for n in 0..500 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.push(l(vec![i((x >> 60) as i64), i(n)]));
    }
    let mut xs = l(items.clone());
    // Sort by the first element only: a key that is a 1-item list.
    static FIRST: NativeFn = NativeFn {
        name: "first",
        f: |_, a| crate::ops::index_get(&a[0], &Value::Int(0)).map(|v| Value::list(vec![v])),
    };
    ok(method(&mut xs, "sort", &[Value::Native(&FIRST)]));
    let mut want = items;
    want.sort_by_key(
        |v| match crate::ops::index_get(v, &Value::Int(0)).unwrap() {
            Value::Int(k) => k,
            _ => 0,
        },
    );
    assert_eq!(xs, l(want));
}

#[test]
fn read_only_queries() {
    let mut xs = l(vec![i(1), s("a"), f(2.0), i(1)]);
    assert_eq!(ok(method(&mut xs, "len", &[])), i(4));
    assert_eq!(ok(method(&mut xs, "contains", &[i(2)])), Value::Bool(true));
    assert_eq!(
        ok(method(&mut xs, "contains", &[s("b")])),
        Value::Bool(false)
    );
    assert_eq!(ok(method(&mut xs, "index_of", &[i(1)])), i(0));
    assert_eq!(ok(method(&mut xs, "index_of", &[s("a")])), i(1));
    assert_eq!(ok(method(&mut xs, "index_of", &[s("zz")])), i(-1));
    assert_eq!(kind(method(&mut xs, "len", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut xs, "contains", &[])), ErrorKind::TypeError);
    let copy = ok(method(&mut xs, "copy", &[]));
    assert_eq!(copy, xs);
    assert_eq!(kind(method(&mut xs, "copy", &[i(1)])), ErrorKind::TypeError);
}

#[test]
fn slice_clamps_like_python() {
    let mut xs = ints(&[0, 1, 2, 3, 4]);
    let cases: [(Value, Option<Value>, &[i64]); 9] = [
        (i(1), Some(i(3)), &[1, 2]),
        (i(2), None, &[2, 3, 4]),
        (i(-2), None, &[3, 4]),
        (i(0), Some(i(-1)), &[0, 1, 2, 3]),
        (i(-100), Some(i(100)), &[0, 1, 2, 3, 4]),
        (i(3), Some(i(1)), &[]),
        (i(5), None, &[]),
        (Value::Nil, Some(i(2)), &[0, 1]),
        (i(1), Some(Value::Nil), &[1, 2, 3, 4]),
    ];
    for (a, b, want) in cases {
        let mut args = vec![a.clone()];
        args.extend(b.clone());
        assert_eq!(
            ok(method(&mut xs, "slice", &args)),
            ints(want),
            "slice({a:?}, {b:?})"
        );
    }
    assert_eq!(kind(method(&mut xs, "slice", &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(method(&mut xs, "slice", &[s("1")])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(method(&mut xs, "slice", &[i(0), f(1.0)])),
        ErrorKind::TypeError
    );
}

#[test]
fn join_requires_strings() {
    let mut xs = l(vec![s("a"), s("b"), s("c")]);
    assert_eq!(ok(method(&mut xs, "join", &[s(", ")])), s("a, b, c"));
    assert_eq!(ok(method(&mut l(vec![]), "join", &[s("-")])), s(""));
    let (k, msg) = err(method(&mut l(vec![s("a"), i(1)]), "join", &[s("")]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(msg.contains("item 1") && msg.contains("int"), "{msg}");
    assert_eq!(kind(method(&mut xs, "join", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut xs, "join", &[])), ErrorKind::TypeError);
}

#[test]
fn map_filter_reduce_with_native_callbacks() {
    let mut xs = ints(&[1, 2, 3, 4]);
    assert_eq!(
        ok(method(&mut xs, "map", &[double_fn()])),
        ints(&[2, 4, 6, 8])
    );
    assert_eq!(
        ok(method(&mut xs, "filter", &[is_even_fn()])),
        ints(&[2, 4])
    );
    assert_eq!(ok(method(&mut xs, "reduce", &[add_fn(), i(10)])), i(20));
    assert_eq!(ok(method(&mut xs, "reduce", &[add_fn()])), i(10));
    assert_eq!(
        ok(method(&mut l(vec![]), "reduce", &[add_fn(), i(7)])),
        i(7)
    );
    assert_eq!(
        kind(method(&mut l(vec![]), "reduce", &[add_fn()])),
        ErrorKind::TypeError
    );
    assert_eq!(
        xs,
        ints(&[1, 2, 3, 4]),
        "read-only methods leave the list alone"
    );
    assert_eq!(
        kind(method(&mut xs, "map", &[fail_fn()])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(method(&mut xs, "filter", &[fail_fn()])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(method(&mut xs, "reduce", &[fail_fn(), i(0)])),
        ErrorKind::ValueError
    );
    let (k, msg) = err(method(&mut xs, "map", &[i(1)]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(
        msg.contains("list.map()") && msg.contains("function"),
        "{msg}"
    );
    assert_eq!(
        kind(method(&mut l(vec![]), "filter", &[s("f")])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(method(&mut xs, "map", &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(method(&mut xs, "reduce", &[add_fn(), i(1), i(2)])),
        ErrorKind::TypeError
    );
    let str_fn = lookup_global("str").unwrap();
    assert_eq!(
        ok(method(&mut xs, "map", &[str_fn])),
        l(vec![s("1"), s("2"), s("3"), s("4")])
    );
}

#[test]
fn range_methods() {
    let mut r = range(0, 10, 3);
    assert_eq!(ok(method(&mut r, "len", &[])), i(4));
    assert_eq!(ok(method(&mut r, "contains", &[i(6)])), Value::Bool(true));
    assert_eq!(ok(method(&mut r, "contains", &[f(6.0)])), Value::Bool(true));
    assert_eq!(ok(method(&mut r, "contains", &[i(7)])), Value::Bool(false));
    assert_eq!(ok(method(&mut r, "contains", &[i(12)])), Value::Bool(false));
    assert_eq!(
        ok(method(&mut r, "contains", &[s("a")])),
        Value::Bool(false)
    );
    assert_eq!(ok(method(&mut r, "index_of", &[i(9)])), i(3));
    assert_eq!(ok(method(&mut r, "index_of", &[i(-3)])), i(-1));
    let mut down = range(10, 0, -2);
    assert_eq!(ok(method(&mut down, "index_of", &[i(4)])), i(3));
    assert_eq!(
        ok(method(&mut down, "contains", &[i(0)])),
        Value::Bool(false)
    );
    assert_eq!(
        ok(method(&mut r, "map", &[double_fn()])),
        ints(&[0, 6, 12, 18])
    );
    assert_eq!(ok(method(&mut r, "filter", &[is_even_fn()])), ints(&[0, 6]));
    assert_eq!(ok(method(&mut r, "reduce", &[add_fn(), i(0)])), i(18));
    assert_eq!(
        err(method(&mut r, "sort", &[])).1,
        "range has no method 'sort'"
    );
}

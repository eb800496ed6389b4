use super::*;
use crate::value::Map;

fn i(x: i64) -> Value {
    Value::Int(x)
}
fn f(x: f64) -> Value {
    Value::Float(x)
}
fn s(x: &str) -> Value {
    Value::str(x)
}
fn l(xs: Vec<Value>) -> Value {
    Value::list(xs)
}
fn bin(op: BinOp, a: Value, b: Value) -> Result<Value> {
    binary(op, &a, &b)
}
fn kind(r: Result<Value>) -> ErrorKind {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.kind(),
    }
}
fn ok(r: Result<Value>) -> Value {
    r.unwrap_or_else(|e| panic!("unexpected error {e}"))
}
fn is_float(v: &Value, want: f64) -> bool {
    matches!(v, Value::Float(x) if (x.is_nan() && want.is_nan()) || (*x == want && x.is_sign_negative() == want.is_sign_negative()))
}

#[test]
fn int_arithmetic_stays_int() {
    assert!(matches!(ok(bin(BinOp::Add, i(2), i(3))), Value::Int(5)));
    assert!(matches!(ok(bin(BinOp::Sub, i(2), i(3))), Value::Int(-1)));
    assert!(matches!(ok(bin(BinOp::Mul, i(-4), i(3))), Value::Int(-12)));
    assert!(matches!(ok(bin(BinOp::Pow, i(2), i(10))), Value::Int(1024)));
    assert!(matches!(ok(bin(BinOp::Pow, i(7), i(0))), Value::Int(1)));
    assert!(matches!(ok(bin(BinOp::Pow, i(0), i(0))), Value::Int(1)));
    assert!(matches!(
        ok(bin(BinOp::Pow, i(-1), i(i64::MAX))),
        Value::Int(-1)
    ));
    assert!(matches!(
        ok(bin(BinOp::Pow, i(-1), i(1 << 40))),
        Value::Int(1)
    ));
    assert!(matches!(
        ok(bin(BinOp::Pow, i(0), i(1 << 40))),
        Value::Int(0)
    ));
    assert!(matches!(
        ok(bin(BinOp::Pow, i(-2), i(63))),
        Value::Int(i64::MIN)
    ));
}

#[test]
fn true_division_is_always_float() {
    assert!(is_float(&ok(bin(BinOp::Div, i(6), i(3))), 2.0));
    assert!(is_float(&ok(bin(BinOp::Div, i(1), i(4))), 0.25));
    assert!(is_float(&ok(bin(BinOp::Div, i(-7), i(2))), -3.5));
    assert!(is_float(
        &ok(bin(BinOp::Div, i(i64::MAX), i(1))),
        9.223_372_036_854_776e18
    ));
    assert!(is_float(&ok(bin(BinOp::Div, f(1.0), i(4))), 0.25));
    assert!(is_float(&ok(bin(BinOp::Div, i(0), i(-5))), -0.0));
    assert!(is_float(&ok(bin(BinOp::Div, i(0), i(-(1 << 62)))), -0.0));
    assert!(is_float(
        &ok(bin(BinOp::Div, i(i64::MIN), i(-1))),
        9.223_372_036_854_776e18
    ));
    assert!(is_float(
        &ok(bin(BinOp::Div, i(3), i(i64::MIN))),
        -3.2526065174565133e-19
    ));
    assert!(is_float(&ok(bin(BinOp::Pow, i(2), i(-2))), 0.25));
}

#[test]
fn floor_div_and_mod_match_python_for_ints() {
    // (a, b, a // b, a % b) computed by CPython.
    let cases: [(i64, i64, i64, i64); 12] = [
        (7, 2, 3, 1),
        (-7, 2, -4, 1),
        (7, -2, -4, -1),
        (-7, -2, 3, -1),
        (6, 3, 2, 0),
        (-6, 3, -2, 0),
        (0, 5, 0, 0),
        (1, -5, -1, -4),
        (i64::MIN, 1, i64::MIN, 0),
        (i64::MIN, 2, -4611686018427387904, 0),
        (i64::MAX, -2, -4611686018427387904, -1),
        (i64::MIN, i64::MAX, -2, 9223372036854775806),
    ];
    for (a, b, q, r) in cases {
        assert!(
            matches!(ok(bin(BinOp::FloorDiv, i(a), i(b))), Value::Int(x) if x == q),
            "{a} // {b}"
        );
        assert!(
            matches!(ok(bin(BinOp::Mod, i(a), i(b))), Value::Int(x) if x == r),
            "{a} % {b}"
        );
    }
    assert!(matches!(
        ok(bin(BinOp::Mod, i(i64::MIN), i(-1))),
        Value::Int(0)
    ));
}

#[test]
fn floor_div_and_mod_match_python_for_floats() {
    // (a, b, a // b, a % b) computed by CPython.
    let cases: [(f64, f64, f64, f64); 9] = [
        (7.5, 2.0, 3.0, 1.5),
        (-7.5, 2.0, -4.0, 0.5),
        (7.5, -2.0, -4.0, -0.5),
        (-7.5, -2.0, 3.0, -1.5),
        (6.0, 3.0, 2.0, 0.0),
        (-6.0, 3.0, -2.0, 0.0),
        (6.0, -3.0, -2.0, -0.0),
        (5.0, f64::INFINITY, 0.0, 5.0),
        (1.0, 0.1, 9.0, 0.09999999999999995),
    ];
    for (a, b, q, r) in cases {
        assert!(
            is_float(&ok(bin(BinOp::FloorDiv, f(a), f(b))), q),
            "{a} // {b}"
        );
        assert!(is_float(&ok(bin(BinOp::Mod, f(a), f(b))), r), "{a} % {b}");
    }
    assert!(is_float(
        &ok(bin(BinOp::FloorDiv, f(-5.0), f(f64::INFINITY))),
        -1.0
    ));
    assert!(is_float(
        &ok(bin(BinOp::Mod, f(-5.0), f(f64::INFINITY))),
        f64::INFINITY
    ));
    assert!(is_float(&ok(bin(BinOp::Mod, i(-7), f(2.0))), 1.0));
    assert!(is_float(&ok(bin(BinOp::FloorDiv, i(7), f(-2.0))), -4.0));
}

#[test]
fn division_by_zero_fails_for_ints_and_floats() {
    for op in [BinOp::Div, BinOp::FloorDiv, BinOp::Mod] {
        assert_eq!(
            kind(bin(op, i(1), i(0))),
            ErrorKind::ZeroDivisionError,
            "{op:?}"
        );
        assert_eq!(
            kind(bin(op, f(1.0), f(0.0))),
            ErrorKind::ZeroDivisionError,
            "{op:?}"
        );
        assert_eq!(
            kind(bin(op, f(1.0), f(-0.0))),
            ErrorKind::ZeroDivisionError,
            "{op:?}"
        );
        assert_eq!(
            kind(bin(op, i(1), f(0.0))),
            ErrorKind::ZeroDivisionError,
            "{op:?}"
        );
        assert_eq!(
            kind(bin(op, f(1.0), i(0))),
            ErrorKind::ZeroDivisionError,
            "{op:?}"
        );
    }
    assert_eq!(
        kind(bin(BinOp::Pow, i(0), i(-1))),
        ErrorKind::ZeroDivisionError
    );
    assert_eq!(
        kind(bin(BinOp::Pow, f(0.0), f(-1.5))),
        ErrorKind::ZeroDivisionError
    );
}

#[test]
fn int_overflow_is_an_error() {
    let cases = [
        (BinOp::Add, i64::MAX, 1),
        (BinOp::Sub, i64::MIN, 1),
        (BinOp::Mul, i64::MAX, 2),
        (BinOp::Mul, i64::MIN, -1),
        (BinOp::FloorDiv, i64::MIN, -1),
        (BinOp::Pow, 2, 63),
        (BinOp::Pow, 3, 1 << 40),
        (BinOp::Pow, 2, i64::MAX),
    ];
    for (op, a, b) in cases {
        let e = bin(op, i(a), i(b)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OverflowError, "{a} {op:?} {b}");
        assert!(e.message().contains(op.symbol()), "{}", e.message());
    }
    assert_eq!(kind(negate(&i(i64::MIN))), ErrorKind::OverflowError);
    assert!(matches!(
        ok(bin(BinOp::Add, i(i64::MAX - 1), i(1))),
        Value::Int(i64::MAX)
    ));
}

#[test]
fn float_pow_errors_like_python() {
    assert!(is_float(&ok(bin(BinOp::Pow, f(2.0), f(0.5))), 2f64.sqrt()));
    assert!(is_float(&ok(bin(BinOp::Pow, i(4), f(0.5))), 2.0));
    assert!(is_float(&ok(bin(BinOp::Pow, f(-8.0), i(2))), 64.0));
    assert_eq!(
        kind(bin(BinOp::Pow, f(-8.0), f(1.0 / 3.0))),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(bin(BinOp::Pow, f(10.0), f(400.0))),
        ErrorKind::OverflowError
    );
    assert!(is_float(
        &ok(bin(BinOp::Pow, f(f64::INFINITY), f(2.0))),
        f64::INFINITY
    ));
}

#[test]
fn mixed_arithmetic_gives_floats() {
    assert!(is_float(&ok(bin(BinOp::Add, i(1), f(0.5))), 1.5));
    assert!(is_float(&ok(bin(BinOp::Sub, f(1.0), i(3))), -2.0));
    assert!(is_float(&ok(bin(BinOp::Mul, f(1.5), i(2))), 3.0));
    assert!(is_float(
        &ok(bin(BinOp::Add, f(0.1), f(0.2))),
        0.30000000000000004
    ));
    assert!(is_float(&ok(negate(&f(0.0))), -0.0));
}

#[test]
fn strings_and_lists_concatenate_and_repeat() {
    assert_eq!(ok(bin(BinOp::Add, s("ab"), s("cd"))), s("abcd"));
    assert_eq!(
        ok(bin(BinOp::Add, l(vec![i(1)]), l(vec![s("a")]))),
        l(vec![i(1), s("a")])
    );
    assert_eq!(ok(bin(BinOp::Mul, s("ab"), i(3))), s("ababab"));
    assert_eq!(ok(bin(BinOp::Mul, i(2), s("é"))), s("éé"));
    assert_eq!(ok(bin(BinOp::Mul, s("ab"), i(-3))), s(""));
    assert_eq!(
        ok(bin(BinOp::Mul, l(vec![i(0)]), i(3))),
        l(vec![i(0), i(0), i(0)])
    );
    assert_eq!(
        ok(bin(BinOp::Mul, i(2), l(vec![i(1), i(2)]))),
        l(vec![i(1), i(2), i(1), i(2)])
    );
    assert_eq!(ok(bin(BinOp::Mul, l(vec![i(1)]), i(0))), l(vec![]));
    assert_eq!(
        kind(bin(BinOp::Mul, s("ab"), i(i64::MAX))),
        ErrorKind::OverflowError
    );
    assert_eq!(kind(bin(BinOp::Mul, s("ab"), f(2.0))), ErrorKind::TypeError);
    assert_eq!(kind(bin(BinOp::Mul, s("ab"), s("c"))), ErrorKind::TypeError);
}

#[test]
fn unsupported_operands_name_both_types() {
    let e = bin(BinOp::Add, s("a"), i(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert_eq!(
        e.message(),
        "unsupported operand types for +: 'string' and 'int'"
    );
    assert_eq!(
        kind(bin(BinOp::Add, Value::Bool(true), i(1))),
        ErrorKind::TypeError
    );
    assert_eq!(kind(bin(BinOp::Sub, s("a"), s("a"))), ErrorKind::TypeError);
    assert_eq!(
        kind(bin(BinOp::Add, l(vec![]), s("a"))),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(bin(BinOp::Div, Value::Nil, i(1))),
        ErrorKind::TypeError
    );
    assert_eq!(kind(negate(&s("x"))), ErrorKind::TypeError);
}

#[test]
fn equality_never_fails() {
    assert_eq!(ok(bin(BinOp::Eq, i(1), f(1.0))), Value::Bool(true));
    assert_eq!(ok(bin(BinOp::Eq, s("1"), i(1))), Value::Bool(false));
    assert_eq!(
        ok(bin(BinOp::Ne, Value::Nil, Value::Bool(false))),
        Value::Bool(true)
    );
    assert_eq!(
        ok(bin(
            BinOp::Eq,
            l(vec![i(1), s("a")]),
            l(vec![f(1.0), s("a")])
        )),
        Value::Bool(true)
    );
    assert_eq!(
        ok(bin(BinOp::Eq, f(f64::NAN), f(f64::NAN))),
        Value::Bool(false)
    );
    assert_eq!(
        ok(bin(BinOp::Ne, f(f64::NAN), f(f64::NAN))),
        Value::Bool(true)
    );
    // 2^53 + 1 is not equal to the float 2^53 even though `as f64` rounds it.
    assert_eq!(
        ok(bin(BinOp::Eq, i((1 << 53) + 1), f(9007199254740992.0))),
        Value::Bool(false)
    );
}

#[test]
fn ordering_compares_numbers_exactly() {
    let t = Value::Bool(true);
    let fa = Value::Bool(false);
    assert_eq!(ok(bin(BinOp::Lt, i(1), f(1.5))), t);
    assert_eq!(ok(bin(BinOp::Gt, f(1.5), i(1))), t);
    assert_eq!(ok(bin(BinOp::Le, i(2), f(2.0))), t);
    assert_eq!(ok(bin(BinOp::Lt, i(-1), f(-1.5))), fa);
    assert_eq!(
        ok(bin(BinOp::Gt, i((1 << 53) + 1), f(9007199254740992.0))),
        t
    );
    assert_eq!(
        ok(bin(BinOp::Lt, i(i64::MAX), f(9.223_372_036_854_776e18))),
        t
    );
    assert_eq!(ok(bin(BinOp::Gt, i(i64::MIN), f(-1e30))), t);
    assert_eq!(ok(bin(BinOp::Lt, i(i64::MAX), f(f64::INFINITY))), t);
    for op in [BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge] {
        assert_eq!(ok(bin(op, i(1), f(f64::NAN))), fa, "{op:?}");
        assert_eq!(ok(bin(op, f(f64::NAN), f(1.0))), fa, "{op:?}");
    }
}

#[test]
fn ordering_strings_and_lists() {
    let t = Value::Bool(true);
    assert_eq!(ok(bin(BinOp::Lt, s("apple"), s("banana"))), t);
    assert_eq!(ok(bin(BinOp::Lt, s("Z"), s("a"))), t);
    assert_eq!(ok(bin(BinOp::Lt, s("ab"), s("abc"))), t);
    assert_eq!(
        ok(bin(BinOp::Lt, l(vec![i(1), i(2)]), l(vec![i(1), i(3)]))),
        t
    );
    assert_eq!(ok(bin(BinOp::Lt, l(vec![i(1)]), l(vec![i(1), i(0)]))), t);
    assert_eq!(ok(bin(BinOp::Ge, l(vec![]), l(vec![]))), t);
    // Equal prefixes of any type are skipped, as in Python.
    assert_eq!(
        ok(bin(
            BinOp::Lt,
            l(vec![Value::Nil, i(1)]),
            l(vec![Value::Nil, i(2)])
        )),
        t
    );
    // The first differing pair decides; later unlike pairs are not looked at.
    assert_eq!(
        ok(bin(BinOp::Lt, l(vec![i(1), s("a")]), l(vec![i(2), i(5)]))),
        t
    );
    assert_eq!(
        kind(bin(BinOp::Lt, l(vec![i(1), s("a")]), l(vec![i(1), i(5)]))),
        ErrorKind::TypeError
    );
}

#[test]
fn ordering_unlike_types_is_a_type_error() {
    let e = bin(BinOp::Lt, s("a"), i(1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert_eq!(e.message(), "'<' not supported between 'string' and 'int'");
    assert_eq!(
        kind(bin(BinOp::Ge, Value::Nil, Value::Nil)),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(bin(BinOp::Lt, Value::Bool(false), Value::Bool(true))),
        ErrorKind::TypeError
    );
    assert!(compare(&Value::map(Map::default()), &i(1)).is_err());
}

#[test]
fn compare_is_total_with_nan_last() {
    assert_eq!(compare(&f(f64::NAN), &i(1)).unwrap(), Ordering::Greater);
    assert_eq!(compare(&i(1), &f(f64::NAN)).unwrap(), Ordering::Less);
    assert_eq!(
        compare(&f(f64::NAN), &f(f64::NAN)).unwrap(),
        Ordering::Equal
    );
    assert_eq!(
        compare(&f(f64::INFINITY), &f(f64::NAN)).unwrap(),
        Ordering::Less
    );
    assert_eq!(compare(&i(3), &f(2.5)).unwrap(), Ordering::Greater);
    assert_eq!(compare(&s("b"), &s("a")).unwrap(), Ordering::Greater);
    let e = compare(&s("b"), &i(1)).unwrap_err();
    assert!(
        e.message().contains("'string'") && e.message().contains("'int'"),
        "{}",
        e.message()
    );
}

#[test]
fn in_place_append_reuses_a_unique_buffer() {
    // The first append grows the string (capacity doubles); the next ones
    // fit and stay in the same allocation.
    let mut a = s("ab");
    binary_in_place(BinOp::Add, &mut a, &s("cd")).unwrap();
    let ptr = |v: &Value| match v {
        Value::Str(x) => (x.as_ptr(), x.spare_capacity()),
        _ => unreachable!(),
    };
    let (before, spare) = ptr(&a);
    assert!(spare >= 2, "{spare}");
    binary_in_place(BinOp::Add, &mut a, &s("ef")).unwrap();
    assert_eq!(a, s("abcdef"));
    assert_eq!(ptr(&a).0, before);

    let mut xs = l(vec![i(1)]);
    binary_in_place(BinOp::Add, &mut xs, &l(vec![i(2)])).unwrap();
    let lptr = |v: &Value| match v {
        Value::List(x) => (x.as_ptr(), x.capacity() - x.len()),
        _ => unreachable!(),
    };
    let (before, spare) = lptr(&xs);
    assert!(spare >= 1, "{spare}");
    binary_in_place(BinOp::Add, &mut xs, &l(vec![i(3)])).unwrap();
    assert_eq!(xs, l(vec![i(1), i(2), i(3)]));
    assert_eq!(lptr(&xs).0, before);
}

#[test]
fn in_place_append_copies_a_shared_value() {
    let original = l(vec![i(1)]);
    let mut xs = original.clone();
    binary_in_place(BinOp::Add, &mut xs, &l(vec![i(2)])).unwrap();
    assert_eq!(original, l(vec![i(1)]));
    assert_eq!(xs, l(vec![i(1), i(2)]));

    // xs += xs
    let mut ys = l(vec![i(1), i(2)]);
    let same = ys.clone();
    binary_in_place(BinOp::Add, &mut ys, &same).unwrap();
    assert_eq!(ys, l(vec![i(1), i(2), i(1), i(2)]));
    assert_eq!(same, l(vec![i(1), i(2)]));
}

#[test]
fn in_place_other_ops_and_errors_leave_target_unchanged() {
    let mut n = i(5);
    binary_in_place(BinOp::Mul, &mut n, &i(3)).unwrap();
    assert!(matches!(n, Value::Int(15)));
    binary_in_place(BinOp::Div, &mut n, &i(2)).unwrap();
    assert!(is_float(&n, 7.5));
    let mut m = i(i64::MAX);
    assert_eq!(
        binary_in_place(BinOp::Add, &mut m, &i(1))
            .unwrap_err()
            .kind(),
        ErrorKind::OverflowError
    );
    assert!(matches!(m, Value::Int(i64::MAX)));
    let mut t = s("a");
    assert_eq!(
        binary_in_place(BinOp::Add, &mut t, &i(1))
            .unwrap_err()
            .kind(),
        ErrorKind::TypeError
    );
    assert_eq!(t, s("a"));
    let mut u = s("ab");
    binary_in_place(BinOp::Mul, &mut u, &i(2)).unwrap();
    assert_eq!(u, s("abab"));
}

#[test]
fn index_get_on_sequences() {
    let xs = l(vec![i(10), i(20), i(30)]);
    assert_eq!(index_get(&xs, &i(0)).unwrap(), i(10));
    assert_eq!(index_get(&xs, &i(-1)).unwrap(), i(30));
    assert_eq!(index_get(&xs, &i(-3)).unwrap(), i(10));
    let e = index_get(&xs, &i(3)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IndexError);
    assert_eq!(e.message(), "list index 3 out of range (length 3)");
    assert_eq!(
        index_get(&xs, &i(-4)).unwrap_err().kind(),
        ErrorKind::IndexError
    );
    assert_eq!(
        index_get(&xs, &i(i64::MIN)).unwrap_err().kind(),
        ErrorKind::IndexError
    );
    assert_eq!(
        index_get(&xs, &f(1.0)).unwrap_err().kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        index_get(&xs, &s("0")).unwrap_err().kind(),
        ErrorKind::TypeError
    );

    let st = s("héllo");
    assert_eq!(index_get(&st, &i(1)).unwrap(), s("é"));
    assert_eq!(index_get(&st, &i(-1)).unwrap(), s("o"));
    assert_eq!(index_get(&s("abc"), &i(2)).unwrap(), s("c"));
    assert_eq!(
        index_get(&st, &i(5)).unwrap_err().kind(),
        ErrorKind::IndexError
    );
    assert_eq!(
        index_get(&s(""), &i(0)).unwrap_err().kind(),
        ErrorKind::IndexError
    );

    let r = Value::Range(std::sync::Arc::new(RangeVal {
        start: 10,
        stop: 0,
        step: -3,
    }));
    assert_eq!(index_get(&r, &i(0)).unwrap(), i(10));
    assert_eq!(index_get(&r, &i(-1)).unwrap(), i(1));
    assert_eq!(
        index_get(&r, &i(4)).unwrap_err().kind(),
        ErrorKind::IndexError
    );
    assert_eq!(
        index_get(&i(5), &i(0)).unwrap_err().kind(),
        ErrorKind::TypeError
    );
}

#[test]
fn index_on_maps() {
    let mut m = Map::default();
    m.insert(Key::str("a"), i(1));
    m.insert(Key::new(i(2)).unwrap(), s("two"));
    let mut mv = Value::map(m);
    assert_eq!(index_get(&mv, &s("a")).unwrap(), i(1));
    assert_eq!(index_get(&mv, &f(2.0)).unwrap(), s("two"));
    let e = index_get(&mv, &s("zz")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyError);
    assert!(e.message().contains("\"zz\""), "{}", e.message());
    assert_eq!(
        index_get(&mv, &l(vec![])).unwrap_err().kind(),
        ErrorKind::TypeError
    );

    let snapshot = mv.clone();
    index_set(&mut mv, &s("b"), i(5)).unwrap();
    assert_eq!(index_get(&mv, &s("b")).unwrap(), i(5));
    assert!(
        index_get(&snapshot, &s("b")).is_err(),
        "the copy is unaffected"
    );
    assert_eq!(
        index_set(&mut mv, &l(vec![]), i(1)).unwrap_err().kind(),
        ErrorKind::TypeError
    );
}

#[test]
fn index_set_on_lists() {
    let mut xs = l(vec![i(1), i(2)]);
    let shared = xs.clone();
    index_set(&mut xs, &i(-1), s("x")).unwrap();
    assert_eq!(xs, l(vec![i(1), s("x")]));
    assert_eq!(shared, l(vec![i(1), i(2)]));
    assert_eq!(
        index_set(&mut xs, &i(2), i(0)).unwrap_err().kind(),
        ErrorKind::IndexError
    );
    assert_eq!(
        index_set(&mut xs, &f(0.0), i(0)).unwrap_err().kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        index_set(&mut s("ab"), &i(0), s("x")).unwrap_err().kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        index_set(&mut i(1), &i(0), s("x")).unwrap_err().kind(),
        ErrorKind::TypeError
    );
}

#[test]
fn fields_of_maps_modules_and_errors() {
    let mut m = Value::map(Map::default());
    field_set(&mut m, "name", s("weft")).unwrap();
    assert_eq!(field_get(&m, "name").unwrap(), s("weft"));
    assert_eq!(index_get(&m, &s("name")).unwrap(), s("weft"));
    assert_eq!(
        field_get(&m, "nope").unwrap_err().kind(),
        ErrorKind::KeyError
    );

    let mut fields = Map::default();
    fields.insert(Key::str("pi"), f(3.0));
    let module = Value::Module(std::sync::Arc::new(crate::value::Module {
        name: "m".into(),
        fields,
    }));
    assert_eq!(field_get(&module, "pi").unwrap(), f(3.0));
    let e = field_get(&module, "tau").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyError);
    assert!(e.message().contains("tau"));
    let mut module2 = module.clone();
    assert_eq!(
        field_set(&mut module2, "pi", i(3)).unwrap_err().kind(),
        ErrorKind::TypeError
    );

    let mut err = Error::new(ErrorKind::ValueError, "bad");
    err.push_trace("at f (a.weft:1:2)".into());
    let ev = err.into_value();
    assert_eq!(field_get(&ev, "kind").unwrap(), s("ValueError"));
    assert_eq!(field_get(&ev, "message").unwrap(), s("bad"));
    assert_eq!(field_get(&ev, "value").unwrap(), s("bad"));
    assert_eq!(
        field_get(&ev, "trace").unwrap(),
        l(vec![s("at f (a.weft:1:2)")])
    );
    assert_eq!(
        field_get(&ev, "other").unwrap_err().kind(),
        ErrorKind::KeyError
    );

    assert_eq!(
        field_get(&i(1), "x").unwrap_err().kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        field_set(&mut s("a"), "x", i(1)).unwrap_err().kind(),
        ErrorKind::TypeError
    );
}

#[test]
fn len_of_everything() {
    assert_eq!(len(&s("héllo")).unwrap(), 5);
    assert_eq!(len(&s("")).unwrap(), 0);
    assert_eq!(len(&l(vec![i(1), i(2)])).unwrap(), 2);
    assert_eq!(len(&Value::map(Map::default())).unwrap(), 0);
    let r = Value::Range(std::sync::Arc::new(RangeVal {
        start: 0,
        stop: 10,
        step: 3,
    }));
    assert_eq!(len(&r).unwrap(), 4);
    let e = len(&i(3)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert!(e.message().contains("int"));
}

#[test]
fn str_key_finds_string_keys_only() {
    let mut m = Map::default();
    m.insert(Key::str("a"), i(1));
    m.insert(Key::new(i(7)).unwrap(), i(2));
    for n in 0..50 {
        m.insert(Key::str(&format!("k{n}")), i(n));
    }
    assert_eq!(m.get(&StrKey("a")), Some(&i(1)));
    assert_eq!(m.get(&StrKey("k42")), Some(&i(42)));
    assert_eq!(m.get(&StrKey("7")), None);
    assert_eq!(m.get(&StrKey("b")), None);
    let mut mv = Value::map(m);
    field_set(&mut mv, "a", i(5)).unwrap();
    field_set(&mut mv, "new", i(6)).unwrap();
    assert_eq!(field_get(&mv, "a").unwrap(), i(5));
    assert_eq!(field_get(&mv, "new").unwrap(), i(6));
    assert_eq!(len(&mv).unwrap(), 53);
}

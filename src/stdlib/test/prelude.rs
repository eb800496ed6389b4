use super::*;

#[test]
fn len_and_type() {
    assert_eq!(ok(call("len", &[s("héllo")])), i(5));
    assert_eq!(ok(call("len", &[l(vec![i(1)])])), i(1));
    assert_eq!(ok(call("len", &[range(0, 10, 2)])), i(5));
    assert_eq!(ok(call("len", &[map(vec![(i(1), i(2))])])), i(1));
    assert_eq!(kind(call("len", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(err(call("len", &[])).1, "len() takes 1 argument (0 given)");
    assert_eq!(
        err(call("len", &[i(1), i(2)])).1,
        "len() takes 1 argument (2 given)"
    );

    let cases = [
        (Value::Nil, "nil"),
        (Value::Bool(true), "bool"),
        (i(1), "int"),
        (f(1.0), "float"),
        (s(""), "string"),
        (l(vec![]), "list"),
        (map(vec![]), "map"),
        (range(0, 1, 1), "range"),
        (lookup_global("print").unwrap(), "function"),
        (builtin_module("math").unwrap(), "module"),
    ];
    for (v, want) in cases {
        assert_eq!(ok(call("type", &[v])), s(want));
    }
}

#[test]
fn str_uses_the_printed_form() {
    assert_eq!(ok(call("str", &[s("hi")])), s("hi"));
    assert_eq!(ok(call("str", &[f(3.0)])), s("3.0"));
    assert_eq!(ok(call("str", &[f(1e16)])), s("1e+16"));
    assert_eq!(ok(call("str", &[f(0.1 + 0.2)])), s("0.30000000000000004"));
    assert_eq!(ok(call("str", &[Value::Nil])), s("nil"));
    assert_eq!(
        ok(call("str", &[l(vec![s("a"), i(1), f(2.5)])])),
        s(r#"["a", 1, 2.5]"#)
    );
    assert_eq!(
        ok(call("str", &[map(vec![(s("a"), l(vec![]))])])),
        s(r#"{"a": []}"#)
    );
    assert_eq!(ok(call("str", &[range(0, 5, 1)])), s("range(0, 5)"));
    assert_eq!(
        ok(call("str", &[lookup_global("len").unwrap()])),
        s("<fn len>")
    );
}

#[test]
fn int_conversions() {
    assert_eq!(ok(call("int", &[f(3.9)])), i(3));
    assert_eq!(ok(call("int", &[f(-3.9)])), i(-3));
    assert_eq!(ok(call("int", &[i(7)])), i(7));
    assert_eq!(ok(call("int", &[Value::Bool(true)])), i(1));
    assert_eq!(ok(call("int", &[s("42")])), i(42));
    assert_eq!(ok(call("int", &[s("  -17\n")])), i(-17));
    assert_eq!(ok(call("int", &[s("+5")])), i(5));
    assert_eq!(ok(call("int", &[s("1_000_000")])), i(1_000_000));
    assert_eq!(ok(call("int", &[s("-9223372036854775808")])), i(i64::MIN));
    for bad in [
        "", " ", "abc", "1.5", "1e3", "0x10", "_1", "1_", "1__0", "--1", "- 1", "١",
    ] {
        let (k, msg) = err(call("int", &[s(bad)]));
        assert_eq!(k, ErrorKind::ValueError, "{bad:?}");
        assert!(msg.contains("invalid literal"), "{msg}");
    }
    assert_eq!(
        kind(call("int", &[s("9223372036854775808")])),
        ErrorKind::OverflowError
    );
    assert_eq!(kind(call("int", &[f(f64::NAN)])), ErrorKind::ValueError);
    assert_eq!(
        kind(call("int", &[f(f64::INFINITY)])),
        ErrorKind::OverflowError
    );
    assert_eq!(kind(call("int", &[f(1e19)])), ErrorKind::OverflowError);
    assert_eq!(ok(call("int", &[f(i64::MIN as f64)])), i(i64::MIN));
    assert_eq!(kind(call("int", &[Value::Nil])), ErrorKind::ValueError);
    assert_eq!(kind(call("int", &[l(vec![])])), ErrorKind::ValueError);
}

#[test]
fn float_conversions() {
    assert_eq!(ok(call("float", &[i(3)])), f(3.0));
    assert!(matches!(ok(call("float", &[i(3)])), Value::Float(_)));
    assert_eq!(ok(call("float", &[s(" 2.5 ")])), f(2.5));
    assert_eq!(ok(call("float", &[s("1e-9")])), f(1e-9));
    assert_eq!(ok(call("float", &[s("-inf")])), f(f64::NEG_INFINITY));
    assert_eq!(ok(call("float", &[s("1_000.5")])), f(1000.5));
    assert_eq!(ok(call("float", &[s("7")])), f(7.0));
    assert!(matches!(ok(call("float", &[s("nan")])), Value::Float(x) if x.is_nan()));
    for bad in ["", "abc", "1.2.3", "1_", "_1", "1__0", "1,5"] {
        assert_eq!(
            kind(call("float", &[s(bad)])),
            ErrorKind::ValueError,
            "{bad:?}"
        );
    }
    assert_eq!(kind(call("float", &[Value::Nil])), ErrorKind::TypeError);
}

#[test]
fn range_constructor() {
    assert_eq!(ok(call("range", &[i(5)])), range(0, 5, 1));
    assert_eq!(ok(call("range", &[i(2), i(5)])), range(2, 5, 1));
    let r = ok(call("range", &[i(10), i(0), i(-2)]));
    assert_eq!(r.to_string(), "range(10, 0, -2)");
    assert_eq!(crate::ops::len(&r).unwrap(), 5);
    let (k, msg) = err(call("range", &[i(0), i(5), i(0)]));
    assert_eq!(k, ErrorKind::ValueError);
    assert!(msg.contains("zero"));
    assert_eq!(kind(call("range", &[f(5.0)])), ErrorKind::TypeError);
    assert_eq!(kind(call("range", &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(call("range", &[i(1), i(2), i(3), i(4)])),
        ErrorKind::TypeError
    );
}

#[test]
fn list_of_iterables() {
    assert_eq!(ok(call("list", &[])), l(vec![]));
    assert_eq!(
        ok(call("list", &[range(0, 3, 1)])),
        l(vec![i(0), i(1), i(2)])
    );
    assert_eq!(
        ok(call("list", &[range(3, 0, -1)])),
        l(vec![i(3), i(2), i(1)])
    );
    assert_eq!(ok(call("list", &[s("hé")])), l(vec![s("h"), s("é")]));
    assert_eq!(
        ok(call("list", &[map(vec![(s("a"), i(1)), (i(2), i(2))])])),
        l(vec![s("a"), i(2)])
    );
    assert_eq!(ok(call("list", &[l(vec![i(1)])])), l(vec![i(1)]));
    // The largest representable range end does not overflow.
    assert_eq!(
        ok(call("list", &[range(i64::MAX - 2, i64::MAX, 1)])),
        l(vec![i(i64::MAX - 2), i(i64::MAX - 1)])
    );
    let (k, msg) = err(call("list", &[i(3)]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(msg.contains("int"), "{msg}");
}

#[test]
fn abs_of_numbers() {
    assert_eq!(ok(call("abs", &[i(-3)])), i(3));
    assert_eq!(ok(call("abs", &[f(-2.5)])), f(2.5));
    assert_eq!(kind(call("abs", &[i(i64::MIN)])), ErrorKind::OverflowError);
    assert_eq!(kind(call("abs", &[s("1")])), ErrorKind::TypeError);
}

#[test]
fn min_and_max() {
    assert_eq!(ok(call("min", &[l(vec![i(3), i(1), i(2)])])), i(1));
    assert_eq!(ok(call("max", &[l(vec![i(3), i(1), i(2)])])), i(3));
    assert_eq!(ok(call("min", &[i(3), f(1.5), i(2)])), f(1.5));
    assert_eq!(ok(call("max", &[s("b"), s("c"), s("a")])), s("c"));
    assert_eq!(ok(call("min", &[range(10, 0, -3)])), i(1));
    assert_eq!(ok(call("max", &[range(10, 0, -3)])), i(10));
    assert_eq!(ok(call("max", &[range(0, 10, 3)])), i(9));
    assert_eq!(ok(call("min", &[s("bca")])), s("a"));
    // The first of equal items wins.
    let m = ok(call("max", &[i(1), f(1.0)]));
    assert!(matches!(m, Value::Int(1)));
    let (k, msg) = err(call("min", &[l(vec![])]));
    assert_eq!(k, ErrorKind::ValueError);
    assert!(msg.contains("empty"), "{msg}");
    assert_eq!(kind(call("max", &[range(0, 0, 1)])), ErrorKind::ValueError);
    assert_eq!(kind(call("max", &[])), ErrorKind::TypeError);
    assert_eq!(kind(call("max", &[i(1), s("a")])), ErrorKind::TypeError);
    assert_eq!(kind(call("min", &[i(5)])), ErrorKind::TypeError);
}

#[test]
fn sum_of_numbers() {
    assert_eq!(ok(call("sum", &[l(vec![i(1), i(2), i(3)])])), i(6));
    assert_eq!(ok(call("sum", &[l(vec![i(1), f(0.5)])])), f(1.5));
    assert_eq!(ok(call("sum", &[i(1), i(2)])), i(3));
    assert_eq!(ok(call("sum", &[l(vec![])])), i(0));
    assert_eq!(ok(call("sum", &[range(0, 101, 1)])), i(5050));
    assert_eq!(ok(call("sum", &[range(10, 0, -3)])), i(10 + 7 + 4 + 1));
    assert_eq!(ok(call("sum", &[range(5, 0, 1)])), i(0));
    assert_eq!(
        kind(call("sum", &[range(0, i64::MAX, 1)])),
        ErrorKind::OverflowError
    );
    assert_eq!(
        kind(call("sum", &[l(vec![i(i64::MAX), i(1)])])),
        ErrorKind::OverflowError
    );
    assert_eq!(
        kind(call("sum", &[l(vec![s("a"), s("b")])])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(call("sum", &[i(3)])), ErrorKind::TypeError);
}

#[test]
fn sorted_is_stable_and_typed() {
    assert_eq!(
        ok(call("sorted", &[l(vec![i(3), i(1), i(2)])])),
        l(vec![i(1), i(2), i(3)])
    );
    assert_eq!(
        ok(call("sorted", &[s("cab")])),
        l(vec![s("a"), s("b"), s("c")])
    );
    assert_eq!(
        ok(call("sorted", &[range(3, 0, -1)])),
        l(vec![i(1), i(2), i(3)])
    );
    // Stability across equal numbers of different types.
    let xs = ok(call("sorted", &[l(vec![f(2.0), i(1), i(2), f(1.0)])]));
    let Value::List(xs) = xs else { panic!() };
    assert!(matches!(xs[0], Value::Int(1)) && matches!(xs[1], Value::Float(_)));
    assert!(matches!(xs[2], Value::Float(_)) && matches!(xs[3], Value::Int(2)));
    let nested = l(vec![
        l(vec![i(2), s("a")]),
        l(vec![i(1), s("z")]),
        l(vec![i(1), s("b")]),
    ]);
    assert_eq!(
        ok(call("sorted", &[nested])),
        l(vec![
            l(vec![i(1), s("b")]),
            l(vec![i(1), s("z")]),
            l(vec![i(2), s("a")])
        ])
    );
    let (k, msg) = err(call("sorted", &[l(vec![i(1), s("a")])]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(msg.contains("'string'") && msg.contains("'int'"), "{msg}");
    assert_eq!(kind(call("sorted", &[i(1)])), ErrorKind::TypeError);
}

#[test]
fn sorted_with_a_key() {
    let xs = l(vec![i(1), i(-3), i(2)]);
    assert_eq!(
        ok(call("sorted", &[xs.clone(), negate_fn()])),
        l(vec![i(2), i(1), i(-3)])
    );
    let abs = lookup_global("abs").unwrap();
    assert_eq!(
        ok(call("sorted", &[xs.clone(), abs])),
        l(vec![i(1), i(2), i(-3)])
    );
    // Stable: equal keys keep their order.
    let words = l(vec![s("bb"), s("a"), s("cc"), s("d")]);
    let len = lookup_global("len").unwrap();
    assert_eq!(
        ok(call("sorted", &[words, len])),
        l(vec![s("a"), s("d"), s("bb"), s("cc")])
    );
    assert_eq!(
        kind(call("sorted", &[xs.clone(), fail_fn()])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(call("sorted", &[xs.clone(), i(1)])),
        ErrorKind::TypeError
    );
    let mixed = l(vec![s("1"), i(2)]);
    let str_fn = lookup_global("str").unwrap();
    assert_eq!(
        ok(call("sorted", &[mixed.clone(), str_fn])),
        l(vec![s("1"), i(2)])
    );
    let type_fn = lookup_global("type").unwrap();
    assert_eq!(ok(call("sorted", &[mixed, type_fn])), l(vec![i(2), s("1")]));
}

#[test]
fn enumerate_and_zip() {
    assert_eq!(
        ok(call("enumerate", &[l(vec![s("a"), s("b")])])),
        l(vec![l(vec![i(0), s("a")]), l(vec![i(1), s("b")])])
    );
    assert_eq!(
        ok(call("enumerate", &[s("x"), i(5)])),
        l(vec![l(vec![i(5), s("x")])])
    );
    assert_eq!(ok(call("enumerate", &[l(vec![])])), l(vec![]));
    assert_eq!(kind(call("enumerate", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(
        ok(call("zip", &[l(vec![i(1), i(2), i(3)]), s("ab")])),
        l(vec![l(vec![i(1), s("a")]), l(vec![i(2), s("b")])])
    );
    assert_eq!(ok(call("zip", &[range(0, 2, 1), l(vec![])])), l(vec![]));
    assert_eq!(
        ok(call(
            "zip",
            &[range(0, 2, 1), range(5, 7, 1), range(9, 20, 1)]
        )),
        l(vec![l(vec![i(0), i(5), i(9)]), l(vec![i(1), i(6), i(10)])])
    );
    assert_eq!(kind(call("zip", &[])), ErrorKind::TypeError);
    assert_eq!(kind(call("zip", &[l(vec![]), i(1)])), ErrorKind::TypeError);
}

#[test]
fn assert_raises_assertion_error() {
    assert_eq!(ok(call("assert", &[Value::Bool(true)])), Value::Nil);
    assert_eq!(ok(call("assert", &[i(0), s("zero is truthy")])), Value::Nil);
    assert_eq!(
        err(call("assert", &[Value::Bool(false)])),
        (ErrorKind::AssertionError, "assertion failed".into())
    );
    assert_eq!(
        err(call("assert", &[Value::Nil, s("x must be set")])),
        (ErrorKind::AssertionError, "x must be set".into())
    );
    assert_eq!(err(call("assert", &[Value::Nil, i(42)])).1, "42");
    assert_eq!(kind(call("assert", &[])), ErrorKind::TypeError);
}

#[test]
fn random_numbers_stay_in_range() {
    for _ in 0..1000 {
        match ok(call("random", &[])) {
            Value::Float(x) => assert!((0.0..1.0).contains(&x)),
            other => panic!("{other:?}"),
        }
        match ok(call("random_int", &[i(-2), i(2)])) {
            Value::Int(x) => assert!((-2..=2).contains(&x)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(ok(call("random_int", &[i(7), i(7)])), i(7));
    let mut seen = [false; 3];
    for _ in 0..200 {
        if let Value::Int(x) = ok(call("random_int", &[i(0), i(2)])) {
            seen[x as usize] = true;
        }
    }
    assert_eq!(seen, [true; 3], "both ends are included");
    assert_eq!(
        ok(call("random_int", &[i(i64::MIN), i(i64::MAX)])).type_name(),
        "int"
    );
    assert_eq!(
        kind(call("random_int", &[i(3), i(2)])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(call("random_int", &[f(0.0), i(2)])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(call("random", &[i(1)])), ErrorKind::TypeError);
}

#[test]
fn time_is_monotonic_and_sleep_validates() {
    let Value::Float(a) = ok(call("time", &[])) else {
        panic!()
    };
    assert_eq!(ok(call("sleep", &[f(0.01)])), Value::Nil);
    assert_eq!(ok(call("sleep", &[i(0)])), Value::Nil);
    let Value::Float(b) = ok(call("time", &[])) else {
        panic!()
    };
    assert!(b >= a + 0.01, "{a} then {b}");
    assert_eq!(kind(call("time", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(call("sleep", &[f(-1.0)])), ErrorKind::ValueError);
    assert_eq!(kind(call("sleep", &[f(f64::NAN)])), ErrorKind::ValueError);
    assert_eq!(kind(call("sleep", &[f(1e30)])), ErrorKind::OverflowError);
    assert_eq!(kind(call("sleep", &[s("1")])), ErrorKind::TypeError);
    assert_eq!(kind(call("sleep", &[])), ErrorKind::TypeError);
}

#[test]
fn script_args_and_exit_validation() {
    set_script_args(vec!["a".into(), "b c".into()]);
    assert_eq!(ok(call("args", &[])), l(vec![s("a"), s("b c")]));
    assert_eq!(kind(call("args", &[i(1)])), ErrorKind::TypeError);
    use super::super::system::exit_status;
    assert_eq!(exit_status(&[]).unwrap(), (0, None));
    assert_eq!(exit_status(&[i(3)]).unwrap(), (3, None));
    assert_eq!(exit_status(&[Value::Nil]).unwrap(), (0, None));
    assert_eq!(
        exit_status(&[s("bye")]).unwrap(),
        (1, Some("bye".to_string()))
    );
    assert_eq!(
        exit_status(&[f(1.0)]).unwrap_err().kind(),
        ErrorKind::TypeError
    );
    assert_eq!(
        exit_status(&[i(1 << 40)]).unwrap_err().kind(),
        ErrorKind::ValueError
    );
    assert_eq!(
        exit_status(&[i(1), i(2)]).unwrap_err().kind(),
        ErrorKind::TypeError
    );
    // exit itself validates before ending the process.
    assert_eq!(kind(call("exit", &[f(1.0)])), ErrorKind::TypeError);
}

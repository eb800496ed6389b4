use super::*;
use crate::error::ErrorKind;
use crate::value::RangeVal;
use proptest::prelude::*;
use std::sync::Arc;

fn p(s: &str) -> Value {
    parse_str(s).unwrap_or_else(|e| panic!("parse {s:?}: {e}"))
}

fn map(entries: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(Key::str(k), v.clone());
    }
    Value::map(m)
}

#[test]
fn parses_every_kind_of_value() {
    assert_eq!(p("null"), Value::Nil);
    assert_eq!(p(" true "), Value::Bool(true));
    assert!(matches!(p("42"), Value::Int(42)));
    assert!(matches!(p("-7"), Value::Int(-7)));
    assert!(matches!(p("1.5"), Value::Float(x) if x == 1.5));
    assert!(matches!(p("1e3"), Value::Float(x) if x == 1000.0));
    assert_eq!(p(r#""a\nb\u00e9""#), Value::str("a\nbé"));
    assert_eq!(
        p(r#"[1, "x", [], {}]"#),
        Value::list(vec![
            Value::Int(1),
            Value::str("x"),
            Value::list(vec![]),
            Value::map(Map::new())
        ])
    );
}

#[test]
fn integers_beyond_64_bits_become_floats() {
    assert!(matches!(p("9223372036854775807"), Value::Int(i64::MAX)));
    assert!(matches!(p("-9223372036854775808"), Value::Int(i64::MIN)));
    assert!(matches!(p("9223372036854775808"), Value::Float(x) if x == 9223372036854775808.0));
    assert!(
        matches!(p("123456789012345678901234567890"), Value::Float(x) if x == 1.2345678901234568e29)
    );
}

#[test]
fn objects_keep_key_order_and_take_the_last_duplicate() {
    let v = p(r#"{"b": 1, "a": 2, "c": 3, "a": 4}"#);
    let Value::Map(m) = &v else { panic!("{v:?}") };
    let keys: Vec<String> = m.keys().map(|k| k.0.to_string()).collect();
    assert_eq!(keys, ["b", "a", "c"]);
    assert_eq!(m.get(&Key::str("a")), Some(&Value::Int(4)));
}

#[test]
fn equal_keys_share_one_string() {
    let v = p(r#"[{"name": 1}, {"name": 2}]"#);
    let Value::List(items) = &v else { panic!() };
    let key = |i: usize| match &items[i] {
        Value::Map(m) => m.keys().next().unwrap().0.clone(),
        _ => panic!(),
    };
    match (key(0), key(1)) {
        (Value::Str(a), Value::Str(b)) => assert!(crate::value::Str::ptr_eq(&a, &b)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_name_line_and_character_column() {
    // The bad token is character 8 of line 2 ("  \"é\": " is 7 characters,
    // 8 bytes).
    let e = parse_str("{\n  \"é\": @\n}").unwrap_err();
    assert_eq!(e, "expected value at line 2 column 8");
    assert!(parse_str("[1, 2").unwrap_err().contains("EOF"));
    assert!(parse_str("[1] x")
        .unwrap_err()
        .contains("trailing characters"));
    assert!(parse_str("").is_err());
    assert!(parse_str("NaN").is_err());
}

#[test]
fn deep_documents_parse_without_overflowing() {
    // Parsing and writing are safe on any stack (the small one below);
    // dropping a value nested this deep recurses (as every Weft value's
    // drop does), so the values are leaked rather than dropped there.
    let depth = 100_000;
    let text = "[".repeat(depth) + &"]".repeat(depth);
    let t = text.clone();
    let h = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let v = p(&t);
            let compact = to_string(&v, None);
            // Pretty output grows with the square of the depth: check it
            // on a shallower document.
            let shallow = p(&("[".repeat(2000) + &"]".repeat(2000)));
            let pretty = to_string(&shallow, Some(1)).map(|s| s.len());
            std::mem::forget(shallow);
            std::mem::forget(v);
            (compact, pretty)
        })
        .unwrap();
    let (compact, pretty) = h.join().unwrap();
    assert_eq!(compact.unwrap(), text);
    assert!(pretty.unwrap() > text.len());
}

#[test]
fn stringify_compact_and_pretty() {
    let v = map(&[
        ("a", Value::Int(1)),
        (
            "b",
            Value::list(vec![Value::Float(2.0), Value::Nil, Value::Bool(true)]),
        ),
        ("c", map(&[])),
        ("d", Value::list(vec![])),
        ("e", Value::str("q\"\n")),
    ]);
    assert_eq!(
        to_string(&v, None).unwrap(),
        r#"{"a":1,"b":[2.0,null,true],"c":{},"d":[],"e":"q\"\n"}"#
    );
    assert_eq!(
        to_string(&v, Some(2)).unwrap(),
        "{\n  \"a\": 1,\n  \"b\": [\n    2.0,\n    null,\n    true\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"e\": \"q\\\"\\n\"\n}"
    );
    assert_eq!(
        to_string(&Value::list(vec![Value::Int(1)]), Some(0)).unwrap(),
        "[\n1\n]"
    );
}

#[test]
fn stringify_keys_ranges_and_floats() {
    let mut m = Map::new();
    m.insert(Key(Value::Int(1)), Value::Int(1));
    m.insert(Key(Value::Float(1.5)), Value::Int(2));
    m.insert(Key(Value::Nil), Value::Int(3));
    m.insert(Key(Value::Bool(false)), Value::Int(4));
    assert_eq!(
        to_string(&Value::map(m), None).unwrap(),
        r#"{"1":1,"1.5":2,"null":3,"false":4}"#
    );
    let r = Value::Range(Arc::new(RangeVal {
        start: 0,
        stop: 6,
        step: 2,
    }));
    assert_eq!(to_string(&r, None).unwrap(), "[0,2,4]");
    assert_eq!(to_string(&Value::Float(1e300), None).unwrap(), "1e+300");
    assert_eq!(to_string(&Value::Float(-0.0), None).unwrap(), "-0.0");
}

#[test]
fn unwritable_values_name_their_path() {
    let bad = Value::Native(&FUNCTIONS[0]);
    let v = map(&[(
        "a",
        Value::list(vec![
            Value::Int(0),
            Value::Int(1),
            Value::Int(2),
            Value::Float(f64::NAN),
        ]),
    )]);
    assert_eq!(
        to_string(&v, None).unwrap_err(),
        "cannot write nan as JSON (at $.a[3])"
    );
    let v = map(&[("odd key", map(&[("x", bad.clone())]))]);
    assert_eq!(
        to_string(&v, Some(2)).unwrap_err(),
        "cannot write a function as JSON (at $[\"odd key\"].x)"
    );
    assert_eq!(
        to_string(&bad, None).unwrap_err(),
        "cannot write a function as JSON (at $)"
    );
    let mut m = Map::new();
    m.insert(Key(Value::Float(f64::INFINITY)), Value::Int(1));
    assert!(to_string(&Value::map(m), None)
        .unwrap_err()
        .contains("the key inf"));
}

#[test]
fn script_functions_check_their_arguments() {
    let mut vm = crate::vm::Vm::new();
    let e = parse(&mut vm, &[Value::Int(1)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = parse(&mut vm, &[Value::str("{")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueError);
    assert!(e.message().starts_with("json.parse(): "), "{}", e.message());
    let e = stringify(&mut vm, &[Value::Nil, Value::Int(-1)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueError);
    let e = stringify(&mut vm, &[Value::Nil, Value::str("  ")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = read(&mut vm, &[Value::str("/nonexistent/x.json")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::IOError);
    assert!(
        e.message().contains("/nonexistent/x.json"),
        "{}",
        e.message()
    );
}

/// Every JSON-representable value: nil, bools, ints, finite floats,
/// strings, and lists and string-keyed maps of them.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,12}".prop_map(Value::str),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::list),
            prop::collection::vec((".{0,6}", inner), 0..8).prop_map(|kvs| {
                let mut m = Map::new();
                for (k, v) in kvs {
                    m.insert(Key::str(&k), v);
                }
                Value::map(m)
            }),
        ]
    })
}

/// Structural equality that also tells ints from floats (`==` does not).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits() || x == y,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(v1, v2))
        }
        _ => a == b && a.type_name() == b.type_name(),
    }
}

proptest! {
    #[test]
    fn round_trip(v in json_value(), indent in prop::option::of(0usize..4)) {
        let text = to_string(&v, indent).unwrap();
        let back = parse_str(&text).unwrap();
        prop_assert!(same(&v, &back), "{:?} -> {} -> {:?}", v, text, back);
    }

    #[test]
    fn random_text_never_panics(s in "\\PC{0,40}") {
        let _ = parse_str(&s);
    }

    #[test]
    fn random_json_like_text_never_panics(s in "[\\[\\]{}:,\"0-9eE.+\\-a-z \\\\]{0,40}") {
        let _ = parse_str(&s);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse_str(&s);
    }
}

use super::*;

#[test]
fn set_get_has_and_value_semantics() {
    let mut m = map(vec![]);
    let before = m.clone();
    assert_eq!(ok(method(&mut m, "set", &[s("a"), i(1)])), Value::Nil);
    ok(method(&mut m, "set", &[i(2), s("two")]));
    assert_eq!(before, map(vec![]), "the copy is unaffected");
    assert_eq!(ok(method(&mut m, "get", &[s("a")])), i(1));
    assert_eq!(ok(method(&mut m, "get", &[f(2.0)])), s("two"));
    assert_eq!(ok(method(&mut m, "get", &[s("zz")])), Value::Nil);
    assert_eq!(ok(method(&mut m, "get", &[s("zz"), i(0)])), i(0));
    assert_eq!(ok(method(&mut m, "has", &[s("a")])), Value::Bool(true));
    assert_eq!(ok(method(&mut m, "has", &[s("b")])), Value::Bool(false));
    assert_eq!(ok(method(&mut m, "len", &[])), i(2));
    assert_eq!(
        kind(method(&mut m, "set", &[l(vec![]), i(1)])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(method(&mut m, "has", &[l(vec![])])),
        ErrorKind::TypeError
    );
    assert_eq!(kind(method(&mut m, "set", &[s("a")])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut m, "get", &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(method(&mut m, "get", &[i(1), i(2), i(3)])),
        ErrorKind::TypeError
    );
}

#[test]
fn remove_keeps_order_and_clear_empties() {
    let mut m = map(vec![(s("a"), i(1)), (s("b"), i(2)), (s("c"), i(3))]);
    assert_eq!(ok(method(&mut m, "remove", &[s("a")])), i(1));
    assert_eq!(ok(method(&mut m, "keys", &[])), l(vec![s("b"), s("c")]));
    let (k, msg) = err(method(&mut m, "remove", &[s("a")]));
    assert_eq!(k, ErrorKind::KeyError);
    assert!(msg.contains("\"a\""), "{msg}");
    let shared = m.clone();
    ok(method(&mut m, "clear", &[]));
    assert_eq!(ok(method(&mut m, "len", &[])), i(0));
    assert_eq!(crate::ops::len(&shared).unwrap(), 2);
    assert_eq!(kind(method(&mut m, "clear", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut m, "remove", &[])), ErrorKind::TypeError);
}

#[test]
fn keys_values_items_in_insertion_order() {
    let mut m = map(vec![
        (s("z"), i(1)),
        (i(5), s("five")),
        (Value::Nil, Value::Bool(true)),
    ]);
    assert_eq!(
        ok(method(&mut m, "keys", &[])),
        l(vec![s("z"), i(5), Value::Nil])
    );
    assert_eq!(
        ok(method(&mut m, "values", &[])),
        l(vec![i(1), s("five"), Value::Bool(true)])
    );
    assert_eq!(
        ok(method(&mut m, "items", &[])),
        l(vec![
            l(vec![s("z"), i(1)]),
            l(vec![i(5), s("five")]),
            l(vec![Value::Nil, Value::Bool(true)])
        ])
    );
    assert_eq!(ok(method(&mut m, "copy", &[])), m);
    assert_eq!(kind(method(&mut m, "keys", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut m, "push", &[i(1)])), ErrorKind::TypeError);
}

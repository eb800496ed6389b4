use super::*;
use crate::error::ErrorKind;
use proptest::prelude::*;

fn s(x: &str) -> Value {
    Value::str(x)
}

fn call(f: fn(&mut Vm, &[Value]) -> Result<Value>, args: &[Value]) -> Result<Value> {
    f(&mut Vm::new(), args)
}

#[test]
fn match_gives_character_offsets_groups_and_names() {
    let m = call(match_fn, &[s(r"(?<word>\w+)-(\d+)?"), s("éé abc- x")]).unwrap();
    assert_eq!(
        m.to_string(),
        r#"{"text": "abc-", "start": 3, "end": 7, "groups": ["abc", nil], "named": {"word": "abc"}}"#
    );
    let m = call(match_fn, &[s(r"b(c)"), s("ééabc")]).unwrap();
    assert_eq!(
        m.to_string(),
        r#"{"text": "bc", "start": 3, "end": 5, "groups": ["c"], "named": {}}"#
    );
    assert_eq!(call(match_fn, &[s("z"), s("abc")]).unwrap(), Value::Nil);
}

#[test]
fn find_all_texts_or_groups() {
    let v = call(find_all, &[s(r"\d+"), s("a1 b22 c333")]).unwrap();
    assert_eq!(v.to_string(), r#"["1", "22", "333"]"#);
    let v = call(find_all, &[s(r"(\w)=(\d)?"), s("a=1 b= c=3")]).unwrap();
    assert_eq!(v.to_string(), r#"[["a", "1"], ["b", nil], ["c", "3"]]"#);
    let v = call(find_all, &[s("x"), s("")]).unwrap();
    assert_eq!(v.to_string(), "[]");
}

#[test]
fn replace_with_string_and_native_function() {
    let v = call(replace, &[s(r"(\w+)@(\w+)"), s("a@b c@d"), s("$2 at ${1}")]).unwrap();
    assert_eq!(v, s("b at a d at c"));
    static UPPER: NativeFn = NativeFn {
        name: "upper",
        f: |_, args| match &args[0] {
            Value::Map(m) => Ok(Value::str(format!(
                "{}",
                m.get(&Key::str("start")).unwrap()
            ))),
            _ => unreachable!(),
        },
    };
    let v = call(replace, &[s("b+"), s("ébbxbb"), Value::Native(&UPPER)]).unwrap();
    assert_eq!(v, s("é1x4"));
    static BAD: NativeFn = NativeFn {
        name: "bad",
        f: |_, _| Ok(Value::Int(1)),
    };
    let e = call(replace, &[s("b"), s("abc"), Value::Native(&BAD)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = call(replace, &[s("b"), s("abc"), Value::Int(1)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn split_and_test() {
    let v = call(split, &[s(r"\s*,\s*"), s("a , b,,c")]).unwrap();
    assert_eq!(v.to_string(), r#"["a", "b", "", "c"]"#);
    assert_eq!(
        call(test_fn, &[s("^a"), s("abc")]).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        call(test_fn, &[s("^b"), s("abc")]).unwrap(),
        Value::Bool(false)
    );
}

#[test]
fn invalid_patterns_name_the_offset() {
    let e = call(test_fn, &[s("ab(c"), s("x")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueError);
    assert_eq!(
        e.message(),
        r#"re.test(): invalid pattern "ab(c" at offset 2: unclosed group"#
    );
    let e = call(test_fn, &[s("éé[z-a]"), s("x")]).unwrap_err();
    assert!(e.message().contains("at offset 3"), "{}", e.message());
    let e = call(test_fn, &[s(r"a\"), s("x")]).unwrap_err();
    assert!(e.message().contains("at offset 1"), "{}", e.message());
    // Backreferences are not supported (linear time).
    let e = call(test_fn, &[s(r"(a)\1"), s("x")]).unwrap_err();
    assert!(e.message().contains("at offset 3"), "{}", e.message());
    let e = call(test_fn, &[Value::Int(1), s("x")]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn the_cache_compiles_once_and_stays_bounded() {
    let (_, a) = shared("cache-test-[0-9]+").unwrap();
    let (_, b) = shared("cache-test-[0-9]+").unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    // From other threads too: the same compiled pattern.
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| shared("cache-test-[0-9]+").unwrap().1))
        .collect();
    for h in handles {
        assert!(Arc::ptr_eq(&a, &h.join().unwrap()));
    }
    for i in 0..CACHE_CAPACITY + 10 {
        compiled(&format!("bounded-{i}")).unwrap();
    }
    assert!(cached_patterns() <= CACHE_CAPACITY);
    // Each thread's copies are bounded too.
    assert!(local_patterns() <= LOCAL_CAPACITY, "{}", local_patterns());
    assert!(local_patterns() >= 1);
}

#[test]
fn each_thread_reuses_its_own_copy() {
    let p = "own-copy-[a-z]+";
    let a = compiled(p).unwrap();
    // Another pattern in between: the copy is found in the thread's map.
    compiled("own-copy-other").unwrap();
    let b = compiled(p).unwrap();
    assert!(Rc::ptr_eq(&a, &b), "the thread made a second copy");
    assert!(b.is_match("own-copy-abc"));
    assert!(!b.is_match("own-copy-123"));
    // Another thread has its own copy of the same compiled program (it
    // matches the same), not this thread's.
    let other = std::thread::spawn(move || {
        let c = compiled(p).unwrap();
        let d = compiled(p).unwrap();
        (
            Rc::ptr_eq(&c, &d),
            c.is_match("own-copy-xyz"),
            c.as_str().to_string(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(other, (true, true, p.to_string()));
    // An invalid pattern is an error on every thread, and is not cached.
    assert!(compiled("own-copy-(").is_err());
    assert!(std::thread::spawn(|| compiled("own-copy-(").is_err())
        .join()
        .unwrap());
}

#[test]
fn many_threads_share_the_cache() {
    let handles: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let p = format!("t{}-{}", t % 2, i % 50);
                    let re = compiled(&p).unwrap();
                    assert!(re.is_match(&p));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

proptest! {
    #[test]
    fn random_patterns_never_panic(p in "\\PC{0,16}", text in "\\PC{0,16}") {
        let _ = call(test_fn, &[s(&p), s(&text)]);
        let _ = call(match_fn, &[s(&p), s(&text)]);
        let _ = call(find_all, &[s(&p), s(&text)]);
        let _ = call(split, &[s(&p), s(&text)]);
        let _ = call(replace, &[s(&p), s(&text), s("$1")]);
    }

    #[test]
    fn random_regex_like_patterns_never_panic(p in "[()\\[\\]{}*+?|^$\\\\.a-c0-9,:<>P=!-]{0,16}") {
        match call(match_fn, &[s(&p), s("abc123")]) {
            Ok(_) => {}
            Err(e) => prop_assert_eq!(e.kind(), ErrorKind::ValueError),
        }
    }

    #[test]
    fn match_offsets_slice_back_to_the_text(text in "[aé b]{0,20}") {
        if let Value::Map(m) = call(match_fn, &[s("b+"), s(&text)]).unwrap() {
            let start = match m.get(&Key::str("start")) { Some(Value::Int(i)) => *i as usize, _ => unreachable!() };
            let end = match m.get(&Key::str("end")) { Some(Value::Int(i)) => *i as usize, _ => unreachable!() };
            let sliced: String = text.chars().skip(start).take(end - start).collect();
            prop_assert_eq!(Value::str(sliced), m.get(&Key::str("text")).unwrap().clone());
        }
    }
}

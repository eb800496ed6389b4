use super::*;
use proptest::prelude::*;

fn opts(header: bool) -> Settings {
    Settings {
        header: Some(header),
        delimiter: b',',
    }
}

fn parse_bytes(input: &[u8], header: bool) -> Result<Value> {
    let text = Value::str(String::from_utf8_lossy(input));
    RowReader::new(
        "csv.parse",
        String::new(),
        Rewind::Text(text),
        input,
        &opts(header),
    )
    .all()
}

fn p(s: &str, header: bool) -> String {
    parse_bytes(s.as_bytes(), header).unwrap().to_string()
}

#[test]
fn rows_as_lists_and_maps() {
    assert_eq!(p("a,b\n1,2\n", false), r#"[["a", "b"], ["1", "2"]]"#);
    assert_eq!(
        p("a,b\n1,2\n3,4", true),
        r#"[{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]"#
    );
    assert_eq!(p("", true), "[]");
    assert_eq!(p("a,b\n", true), "[]");
    assert_eq!(
        p("x,\"y,\"\"z\"\"\nw\"\r\n\n1\n", false),
        "[[\"x\", \"y,\\\"z\\\"\\nw\"], [\"1\"]]"
    );
}

#[test]
fn header_errors_name_line_and_column() {
    let e = parse_bytes(b"a,b\n1,2\n\n1,2,3\n", true).unwrap_err();
    assert_eq!(
        e.message(),
        "csv.parse(): line 4, column 3: 3 fields, but the header has 2"
    );
    let e = parse_bytes(b"a,b,a\n", true).unwrap_err();
    assert_eq!(
        e.message(),
        "csv.parse(): line 1, column 3: the header repeats the name \"a\""
    );
    let e = parse_bytes(b"a,b\nok,\xff\n", false).unwrap_err();
    assert_eq!(e.message(), "csv.parse(): line 2, column 2: invalid UTF-8");
}

#[test]
fn writing_quotes_as_rfc_4180() {
    let rows = Value::list(vec![
        Value::list(vec![
            Value::str("a,b"),
            Value::str("say \"hi\""),
            Value::str("x\ny"),
        ]),
        Value::list(vec![
            Value::Int(1),
            Value::Float(2.5),
            Value::Nil,
            Value::Bool(true),
        ]),
    ]);
    assert_eq!(
        to_csv("csv.stringify", &rows, None).unwrap(),
        "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\"\n1,2.5,,true\n"
    );
}

fn text_rows() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop::collection::vec(prop::collection::vec("[a-c,\"\n\r é]{0,5}", 1..4), 0..6)
}

proptest! {
    #[test]
    fn random_text_never_panics(s in "\\PC{0,60}", header in any::<bool>()) {
        let _ = parse_bytes(s.as_bytes(), header);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..80), header in any::<bool>()) {
        let _ = parse_bytes(&bytes, header);
    }

    #[test]
    fn written_rows_read_back(rows in text_rows()) {
        // A row of one empty field is written as `""` and reads back as
        // one empty field; every other row reads back as written.
        let v = Value::list(rows.iter().map(|r| Value::list(r.iter().map(|f| Value::str(f.as_str())).collect())).collect());
        let text = to_csv("csv.stringify", &v, None).unwrap();
        let back = parse_bytes(text.as_bytes(), false).unwrap();
        prop_assert_eq!(back, v);
    }
}

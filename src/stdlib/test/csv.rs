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

// ---------------------------------------------------------------------------
// csv.rows claimed by a parallel call: the reader sends records, the runners
// parse them. Whatever the input and wherever the switch happens, the rows
// and the error are those of the plain reader.

/// A file of its own holding `bytes` (removed when dropped).
struct TempCsv(std::path::PathBuf);

impl TempCsv {
    fn new(bytes: &[u8]) -> TempCsv {
        use std::sync::atomic::AtomicUsize;
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "weft_csv_raw_{}_{}.csv",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, bytes).unwrap();
        TempCsv(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempCsv {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What a consumer of `csv.rows` gets: the rows, then the error if any.
/// `switch`: after how many items the stream is claimed (`None`: never),
/// in record mode; the raw items then decoded in chunks of 3 as a runner
/// would.
fn consume(path: &str, header: bool, switch: Option<usize>) -> (Vec<Value>, Option<String>) {
    consume_as(path, header, switch, stream::CLAIMED_ITEMS)
}

/// As [`consume`], claimed in `mode` (`CLAIMED_ITEMS`, `CLAIMED_BLOCKS`).
/// The first error, from the reader or the decoder, ends the rows as the
/// parallel call ends them (the lowest index wins).
fn consume_as(
    path: &str,
    header: bool,
    switch: Option<usize>,
    mode: u8,
) -> (Vec<Value>, Option<String>) {
    let (mut producer, seekable) = rows_producer(path, &opts(header)).unwrap();
    assert!(seekable);
    let mut items = Vec::new();
    let mut error = None;
    loop {
        if switch == Some(items.len()) {
            producer.mode.store(mode, Ordering::SeqCst);
        }
        match producer.next() {
            Ok(Some(v)) => items.push(v),
            Ok(None) => break,
            Err(e) => {
                error = Some(e.message().to_string());
                break;
            }
        }
    }
    let decoder: &dyn stream::Decode = &*producer.decoder;
    let mut rows = Vec::new();
    for chunk in items.chunks(3) {
        let weight: usize = chunk.iter().map(|x| decoder.weight(x)).sum();
        assert!(chunk
            .iter()
            .all(|x| decoder.weight(x) <= decoder.max_weight()));
        let mut chunk = chunk.to_vec();
        match decoder.decode(&mut chunk) {
            Ok(()) => {
                assert_eq!(chunk.len(), weight, "a block's weight is its rows");
                rows.extend(chunk);
            }
            Err((k, e)) => {
                assert_eq!(chunk.len(), k);
                rows.extend(chunk);
                return (rows, Some(e.message().to_string()));
            }
        }
    }
    (rows, error)
}

#[test]
fn a_claimed_stream_gives_the_plain_readers_rows() {
    let text = "id,name\r\n1,\"a, \"\"b\"\"\nc\"\r\n\r\n2,x\"y\n\n3,\"\"\r4,last";
    let f = TempCsv::new(text.as_bytes());
    for header in [false, true] {
        let plain = consume(f.path(), header, None);
        assert_eq!(plain.1, None);
        assert_eq!(plain.0.len(), if header { 4 } else { 5 });
        for at in 0..6 {
            assert_eq!(consume(f.path(), header, Some(at)), plain, "switch at {at}");
        }
    }
    // The raw items really are records until decoded.
    let (mut producer, _) = rows_producer(f.path(), &opts(false)).unwrap();
    producer.mode.store(stream::CLAIMED_ITEMS, Ordering::SeqCst);
    let first = producer.next().unwrap().unwrap();
    assert_eq!(first, Value::str("id,name\r"));
}

#[test]
fn a_claimed_stream_reports_errors_in_place() {
    let f = TempCsv::new(b"a,b\n1,2\n\n3,4,5\n6,7\n");
    let plain = consume(f.path(), true, None);
    let msg = format!(
        "csv.rows(): {}: line 4, column 3: 3 fields, but the header has 2",
        Value::str(f.path()).repr()
    );
    assert_eq!(plain.1.as_deref(), Some(msg.as_str()));
    assert_eq!(plain.0.len(), 1);
    for at in 0..3 {
        assert_eq!(consume(f.path(), true, Some(at)), plain);
    }
    let f = TempCsv::new(b"a,b\nok,\"x\xffy\"\nz,w\n");
    let plain = consume(f.path(), false, None);
    let msg = format!(
        "csv.rows(): {}: line 2, column 2: invalid UTF-8",
        Value::str(f.path()).repr()
    );
    assert_eq!(plain.1.as_deref(), Some(msg.as_str()));
    for at in 0..2 {
        assert_eq!(consume(f.path(), false, Some(at)), plain);
    }
}

fn csv_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        Just(b'a'),
        Just(b'b'),
        Just(b','),
        Just(b','),
        Just(b'"'),
        Just(b'"'),
        Just(b'\n'),
        Just(b'\n'),
        Just(b'\r'),
        Just(b' '),
        Just(0xc3),
        Just(0xa9),
        Just(0xff),
    ];
    prop::collection::vec(byte, 0..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn claimed_or_not_any_input_reads_the_same(
        bytes in csv_bytes(),
        header in any::<bool>(),
        at in 0usize..6,
    ) {
        let f = TempCsv::new(&bytes);
        let plain = consume(f.path(), header, None);
        prop_assert_eq!(consume(f.path(), header, Some(at)), plain);
    }
}

// ---------------------------------------------------------------------------
// Claimed in blocks (parallel_map, _filter, _for_each): the reader cuts the
// file into blocks of records without parsing; the runners parse them.

/// `n` records of the benchmark's shape, with quoted fields holding
/// delimiters, doubled quotes and (every 7th) a line break, CRLF every 5th.
fn tricky_rows(n: usize) -> String {
    let mut s = String::from("id,name,note\n");
    for i in 0..n {
        let note = if i % 7 == 0 {
            format!("\"two\nlines, \"\"{i}\"\"\"")
        } else {
            format!("\"n, \"\"{i}\"\"\"")
        };
        let end = if i % 5 == 0 { "\r\n" } else { "\n" };
        s.push_str(&format!("{i},x\"y{i},{note}{end}"));
        if i % 11 == 0 {
            s.push('\n'); // a blank line
        }
    }
    s
}

fn blocks(path: &str, header: bool, at: usize) -> (Vec<Value>, Option<String>) {
    consume_as(path, header, Some(at), stream::CLAIMED_BLOCKS)
}

#[test]
fn a_stream_claimed_in_blocks_gives_the_plain_readers_rows() {
    // Many blocks (by rows and by bytes), records across every cut.
    let text = tricky_rows(5000);
    let f = TempCsv::new(text.as_bytes());
    for header in [false, true] {
        let plain = consume(f.path(), header, None);
        assert_eq!(plain.1, None);
        assert_eq!(plain.0.len(), if header { 5000 } else { 5001 });
        for at in [0, 1, 3] {
            assert_eq!(blocks(f.path(), header, at), plain, "switch at {at}");
        }
    }
    // The raw items are blocks of at most BLOCK_ROWS records.
    let (mut producer, _) = rows_producer(f.path(), &opts(true)).unwrap();
    producer
        .mode
        .store(stream::CLAIMED_BLOCKS, Ordering::SeqCst);
    // (The first call reads the header, and its first row.)
    let first = producer.next().unwrap().unwrap();
    assert!(as_block(&first).is_none());
    let second = producer.next().unwrap().unwrap();
    let (rows, offset, _) = as_block(&second).expect("a block");
    assert_eq!(rows, BLOCK_ROWS);
    assert!(offset > "id,name,note\n".len() as u64);
    // A long record (bigger than a block) on its own; no final line break.
    let long = format!("a,\"{}\"\nb,c\nd,\"e", "x\n".repeat(blocks::BLOCK_BYTES));
    let f = TempCsv::new(long.as_bytes());
    let plain = consume(f.path(), false, None);
    assert_eq!(plain.0.len(), 3);
    assert_eq!(blocks(f.path(), false, 0), plain);
}

#[test]
fn a_stream_claimed_in_blocks_reports_errors_in_place() {
    // A short row far into the file (found by a runner), an invalid byte
    // (found by the reader): whichever comes first in the file is the
    // error, after the rows before it, as from the plain reader.
    let good = tricky_rows(3000);
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    let cases: Vec<Vec<u8>> = vec![
        [
            lines[..2500].concat(),
            "9,short\n".into(),
            lines[2500..].concat(),
        ]
        .concat()
        .into_bytes(),
        [
            lines[..2600].concat().into_bytes(),
            b"1,\xff,\"z\"\n".to_vec(),
            lines[2600..].concat().into_bytes(),
        ]
        .concat(),
        [
            lines[..1200].concat().into_bytes(),
            b"9,short\n".to_vec(),
            lines[1200..2600].concat().into_bytes(),
            b"1,\"\xff\",z\n".to_vec(),
        ]
        .concat(),
        [
            lines[..2].concat().into_bytes(),
            b"1,\"a\nb\xff\",z\n".to_vec(),
        ]
        .concat(),
    ];
    for bytes in cases {
        let f = TempCsv::new(&bytes);
        let plain = consume(f.path(), true, None);
        assert!(plain.1.is_some());
        assert!(plain.1.as_ref().unwrap().contains(", column "));
        for at in [0, 2] {
            let got = blocks(f.path(), true, at);
            assert_eq!(got.1, plain.1, "switch at {at}");
            assert_eq!(got.0, plain.0, "switch at {at}");
        }
    }
}

#[test]
fn empty_and_header_only_files_claimed_in_blocks() {
    for text in ["", "a,b\n", "a,b", "\n\r\n", "a,b\r\n\r\n"] {
        let f = TempCsv::new(text.as_bytes());
        for header in [false, true] {
            let plain = consume(f.path(), header, None);
            assert_eq!(blocks(f.path(), header, 0), plain, "{text:?}");
        }
    }
}

/// The records `csv_core` finds in `b`, and where each ends.
fn core_record_ends(b: &[u8]) -> Vec<usize> {
    use csv_core::ReadRecordResult::*;
    let mut core = csv_core::Reader::new();
    let (mut out, mut ends) = (vec![0; 4096], vec![0; 4096]);
    let mut input = b;
    let mut found = Vec::new();
    loop {
        let (res, nin, _, _) = core.read_record(input, &mut out, &mut ends);
        input = &input[nin..];
        match res {
            Record => found.push(b.len() - input.len()),
            End => return found,
            InputEmpty | OutputFull | OutputEndsFull => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_block_scan_finds_csv_cores_records(bytes in csv_bytes()) {
        // csv_core ends a record when it sees the line break; at the end
        // of the input the last one ends there.
        let want = core_record_ends(&bytes);
        let got = blocks::record_ends(&bytes, b',');
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert!(g == w || *w == bytes.len(), "{:?} vs {:?}", got, want);
        }
    }

    #[test]
    fn claimed_in_blocks_any_input_reads_the_same(
        bytes in csv_bytes(),
        header in any::<bool>(),
        at in 0usize..4,
    ) {
        let f = TempCsv::new(&bytes);
        let plain = consume(f.path(), header, None);
        prop_assert_eq!(blocks(f.path(), header, at), plain);
    }
}

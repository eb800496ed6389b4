//! The built-in module `csv` (STDLIB.md): `parse read rows stringify
//! write` on the `csv` crate (RFC 4180 quoting; a DFA reader).
//!
//! A row is a list of strings, or with `{header: true}` a map from the
//! header's names to strings. `csv.rows(path)` is a stream (a channel)
//! filled by a reader thread as the consumer takes rows (see
//! `stream/README.md`).
//!
//! # Decisions (STDLIB.md is silent; Python's `csv` unless noted)
//! - Options: `header` (bool) and `delimiter` (a one-character ASCII
//!   string); any other key is a `ValueError` naming it.
//! - Rows may have different lengths (Python's reader allows it). With a
//!   header, a row whose length differs from the header's is a `ValueError`
//!   naming the line and column (Python's `DictReader` would silently pad
//!   or drop fields); so is a repeated header name.
//! - Blank lines are skipped. Quoted fields may span lines; a quote inside
//!   an unquoted field is kept as text (the reader is lenient, as Python's).
//! - Error positions: `line` is the line where the row starts, `column` the
//!   1-based field number (a CSV column), e.g. `csv.parse(): line 3,
//!   column 4: 4 fields, but the header has 3`. A field that is not UTF-8
//!   (from a file) is a `ValueError` naming the line and column.
//! - Writing: fields are quoted only when needed (a delimiter, a quote, a
//!   line break, or leading/trailing space is not a reason), quotes doubled,
//!   lines end with `\n`. Strings are written as they are, numbers and
//!   bools in their printed form, `nil` as an empty field; anything else is
//!   a `TypeError` naming the row and column. Rows of maps: the header is
//!   the first map's keys (written first, unless `{header: false}`); a later
//!   map missing a key gets an empty field, a key not in the header is a
//!   `ValueError` (Python's `DictWriter`). Rows must be all lists or all
//!   maps.

use super::args::{self, arity};
use super::data::{self, io_error, Options};
use super::stream;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::blocking;
use crate::value::{format_float, Key, Map, NativeFn, Value};
use crate::vm::Vm;
use std::io::{BufRead, Read, Seek};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

#[path = "csv/blocks.rs"]
mod blocks;
use blocks::{BlockReader, BLOCKS_AHEAD, BLOCK_ROWS};

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "parse",
        f: parse,
    },
    NativeFn {
        name: "read",
        f: read,
    },
    NativeFn {
        name: "rows",
        f: rows,
    },
    NativeFn {
        name: "stringify",
        f: stringify,
    },
    NativeFn {
        name: "write",
        f: write,
    },
];

/// The module value `csv`.
pub(crate) fn make_module() -> Value {
    data::module("csv", FUNCTIONS)
}

const READ_OPTIONS: &[&str] = &["header", "delimiter"];

/// The parsed options.
struct Settings {
    header: Option<bool>,
    delimiter: u8,
}

fn settings(func: &'static str, opts: Option<&Value>) -> Result<Settings> {
    let o = Options::new(func, opts, READ_OPTIONS)?;
    let header = o.get("header").map(|_| o.bool("header")).transpose()?;
    let delimiter = match o.string("delimiter")? {
        None => b',',
        Some(d) if d.len() == 1 && d.is_ascii() && d != "\n" && d != "\r" && d != "\"" => {
            d.as_bytes()[0]
        }
        Some(d) => {
            return Err(Error::value_error(format!(
                "{func}() delimiter must be one ASCII character other than a quote or a line break (got {})",
                Value::str(d).repr()
            )))
        }
    };
    Ok(Settings { header, delimiter })
}

// ---------------------------------------------------------------------------
// Reading

/// Reads rows from `R`, as lists or (with a header) maps.
struct RowReader<R: Read> {
    func: &'static str,
    /// What the messages call the input: `""` for a string, else `"path": `.
    source: String,
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    /// The header's names, once read.
    header: Option<Vec<Key>>,
    want_header: bool,
    /// Where the input can be read again from the start, to count the
    /// lines before an error (the crate's line numbers skip blank lines).
    rewind: Rewind,
}

/// How to read the input again from its start.
#[derive(Debug)]
enum Rewind {
    /// A string argument (a cheap handle on it).
    Text(Value),
    /// A file path.
    File(String),
}

impl Rewind {
    /// The 1-based line of the row the reader placed at byte offset
    /// `byte` (that position is before any blank lines the reader skipped
    /// to reach the row, so those are counted too).
    fn line_at(&self, byte: u64) -> Option<u64> {
        let mut input: Box<dyn Read> = match self {
            Rewind::Text(Value::Str(s)) => Box::new(std::io::Cursor::new(s.as_bytes().to_vec())),
            Rewind::Text(_) => return None,
            Rewind::File(path) => {
                Box::new(std::io::BufReader::new(std::fs::File::open(path).ok()?))
            }
        };
        let mut line = 1;
        let mut buf = [0u8; 8192];
        let mut left = byte;
        // The prefix, then the line breaks that follow it.
        loop {
            let want = if left > 0 {
                left.min(buf.len() as u64) as usize
            } else {
                1
            };
            let n = input.read(&mut buf[..want]).ok()?;
            if n == 0 {
                return Some(line);
            }
            if left > 0 {
                line += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                left -= n as u64;
            } else {
                match buf[0] {
                    b'\n' => line += 1,
                    b'\r' => {}
                    _ => return Some(line),
                }
            }
        }
    }
}

/// A record's fields as the map of the header's names to them, or the
/// column and reason when the record has more or fewer fields than the
/// header (both the plain reader and block mode check rows here).
fn header_row(header: &[Key], fields: Vec<Value>) -> std::result::Result<Value, (usize, String)> {
    if fields.len() != header.len() {
        let column = fields.len().min(header.len()) + 1;
        let why = format!(
            "{} fields, but the header has {}",
            fields.len(),
            header.len()
        );
        return Err((column, why));
    }
    let mut m = Map::with_capacity(header.len());
    for (k, v) in header.iter().zip(fields) {
        m.insert(k.clone(), v);
    }
    Ok(Value::map(m))
}

/// The error for the row at byte offset `at`: `line L, column C: what`.
#[cold]
fn bad_at(func: &str, source: &str, rewind: &Rewind, at: u64, column: usize, what: &str) -> Error {
    let line = rewind.line_at(at).unwrap_or(0);
    Error::value_error(format!(
        "{func}(): {source}line {line}, column {column}: {what}"
    ))
}

impl<R: Read> RowReader<R> {
    fn new(func: &'static str, source: String, rewind: Rewind, input: R, s: &Settings) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(s.delimiter)
            .buffer_capacity(64 * 1024)
            .from_reader(input);
        RowReader {
            func,
            source,
            reader,
            record: csv::ByteRecord::new(),
            header: None,
            want_header: s.header.unwrap_or(false),
            rewind,
        }
    }

    /// `at` is the byte offset where the row starts.
    #[cold]
    fn bad(&self, at: u64, column: usize, what: &str) -> Error {
        bad_at(self.func, &self.source, &self.rewind, at, column, what)
    }

    /// The next record as strings; `None` at the end.
    fn next_fields(&mut self) -> Result<Option<(u64, Vec<Value>)>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => return Err(self.csv_error(e)),
        }
        let line = self.record.position().map_or(0, |p| p.byte());
        let mut fields = Vec::with_capacity(self.record.len());
        for (i, f) in self.record.iter().enumerate() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(Value::str(s)),
                Err(_) => return Err(self.bad(line, i + 1, "invalid UTF-8")),
            }
        }
        Ok(Some((line, fields)))
    }

    #[cold]
    fn csv_error(&self, e: csv::Error) -> Error {
        match e.kind() {
            csv::ErrorKind::Io(io) => Error::new(
                ErrorKind::IOError,
                format!(
                    "{}(): {}{}",
                    self.func,
                    self.source,
                    super::io::os_reason(io)
                ),
            ),
            _ => Error::value_error(format!("{}(): {}{e}", self.func, self.source)),
        }
    }

    /// The next row; `None` at the end.
    fn next_row(&mut self) -> Result<Option<Value>> {
        if self.want_header && self.header.is_none() {
            let Some((at, names)) = self.next_fields()? else {
                return Ok(None);
            };
            let mut keys: Vec<Key> = Vec::with_capacity(names.len());
            for (i, n) in names.into_iter().enumerate() {
                let k = Key(n);
                if keys.contains(&k) {
                    return Err(self.bad(
                        at,
                        i + 1,
                        &format!("the header repeats the name {}", k.0.repr()),
                    ));
                }
                keys.push(k);
            }
            self.header = Some(keys);
        }
        let Some((at, fields)) = self.next_fields()? else {
            return Ok(None);
        };
        let Some(header) = &self.header else {
            return Ok(Some(Value::list(fields)));
        };
        match header_row(header, fields) {
            Ok(row) => Ok(Some(row)),
            Err((column, why)) => Err(self.bad(at, column, &why)),
        }
    }

    fn all(mut self) -> Result<Value> {
        let mut out = Vec::new();
        while let Some(row) = self.next_row()? {
            out.push(row);
        }
        Ok(Value::list(out))
    }
}

/// `csv.parse(s, opts?)`.
fn parse(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.parse", args, 1, 2)?;
    let text = args::string("csv.parse", "text", &args[0])?;
    let s = settings("csv.parse", args.get(1))?;
    let rewind = Rewind::Text(args[0].clone());
    RowReader::new("csv.parse", String::new(), rewind, text.as_bytes(), &s).all()
}

fn source(path: &str) -> String {
    format!("{}: ", Value::str(path).repr())
}

/// `csv.read(path, opts?)`.
fn read(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.read", args, 1, 2)?;
    let path = args::string("csv.read", "path", &args[0])?;
    let s = settings("csv.read", args.get(1))?;
    let file = super::fs::open_file("csv.read", path)?;
    let rewind = Rewind::File(path.to_string());
    blocking(|| RowReader::new("csv.read", source(path), rewind, file, &s).all())
}

/// `csv.rows(path, opts?)`: a stream of rows.
///
/// A plain consumer gets rows parsed by the reader thread. A parallel call
/// given the stream itself (`parallel_map(csv.rows(p), f)`, nobody else
/// holding it) claims it (`stream::claim`): from then on the reader only
/// finds where records end and sends their text, and the call's runners
/// parse the records into rows ([`RowDecoder`]), spreading the parsing
/// over the workers. Claimed in blocks (`parallel_map`, `_filter`,
/// `_for_each`), the reader sends blocks of up to [`BLOCK_ROWS`] records
/// (`blocks.rs`), checked for UTF-8, and the runners check the header's
/// length; claimed record by record (`parallel_reduce`, `_fold`), the
/// reader checks each record (UTF-8, the header's length). Either way the
/// rows and the first error (its line and column) are the plain reader's.
fn rows(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.rows", args, 1, 2)?;
    let path = args::string("csv.rows", "path", &args[0])?;
    let s = settings("csv.rows", args.get(1))?;
    let (mut producer, seekable) = rows_producer(path, &s)?;
    let mode = Arc::clone(&producer.mode);
    let decoder = Arc::clone(&producer.decoder);
    let ahead = Arc::clone(&producer.ahead);
    let chan = stream::spawn_limited("rows", ahead, move || producer.next())?;
    if seekable {
        stream::claimable(&chan, mode, decoder);
    }
    Ok(chan)
}

/// The reader of `csv.rows(path)`, and whether it may be claimed (only a
/// regular file can be read on from where the parser stopped).
fn rows_producer(path: &str, s: &Settings) -> Result<(RowsProducer, bool)> {
    let file = super::fs::open_file("csv.rows", path)?;
    let seekable = file.metadata().is_ok_and(|m| m.is_file());
    let rewind = Rewind::File(path.to_string());
    let reader = RowReader::new("csv.rows", source(path), rewind, file, s);
    let mode = Arc::new(AtomicU8::new(stream::UNCLAIMED));
    let producer = RowsProducer {
        rows: Some(reader),
        raw: None,
        mode: Arc::clone(&mode),
        ahead: Arc::new(AtomicUsize::new(stream::SLOW_START)),
        decoder: Arc::new(RowDecoder {
            delimiter: s.delimiter,
            header: OnceLock::new(),
            mode,
            func: "csv.rows",
            source: source(path),
            rewind: Rewind::File(path.to_string()),
        }),
        delimiter: s.delimiter,
    };
    Ok((producer, seekable))
}

/// What `csv.rows`' reader thread runs: rows parsed here, until the stream
/// is claimed; then the records' text, checked.
struct RowsProducer {
    /// Parsing rows (before the claim).
    rows: Option<RowReader<std::fs::File>>,
    /// Sending records or blocks (after it).
    raw: Option<RawMode>,
    /// Set by the claim (`stream::CLAIMED_ITEMS`, `CLAIMED_BLOCKS`).
    mode: Arc<AtomicU8>,
    /// The reader's read-ahead limit: lowered to [`BLOCKS_AHEAD`] once
    /// it sends blocks.
    ahead: Arc<AtomicUsize>,
    decoder: Arc<RowDecoder>,
    delimiter: u8,
}

/// What the raw mode reads.
enum RawSource {
    /// One record at a time, checked here.
    Records(Box<RawRecords>),
    /// Blocks of records (checked for UTF-8 here), and the error met in
    /// a block, to deliver after the records before it.
    Blocks(BlockReader, Option<Error>),
}

/// The raw mode's reader and what its errors name.
struct RawMode {
    records: RawSource,
    delimiter: u8,
    func: &'static str,
    source: String,
    rewind: Rewind,
    /// The header's length, if there is one.
    header_len: Option<usize>,
}

impl RowsProducer {
    fn next(&mut self) -> Result<Option<Value>> {
        if self.raw.is_none() && self.mode.load(Ordering::Relaxed) != stream::UNCLAIMED {
            self.switch()?;
        }
        match &mut self.raw {
            Some(raw) => raw.next(),
            None => self
                .rows
                .as_mut()
                .expect("parsing until the switch")
                .next_row(),
        }
    }

    /// Switches to raw mode, once the header (if any) is read: the file is
    /// read on from the byte after the last row parsed.
    fn switch(&mut self) -> Result<()> {
        let Some(rows) = &self.rows else {
            return Ok(());
        };
        if rows.want_header && rows.header.is_none() {
            return Ok(()); // the first call reads it
        }
        let RowReader {
            func,
            source,
            reader,
            header,
            rewind,
            ..
        } = self.rows.take().expect("checked");
        let at = reader.position().byte();
        let mut file = reader.into_inner();
        if let Err(e) = file.seek(std::io::SeekFrom::Start(at)) {
            return Err(Error::new(
                ErrorKind::IOError,
                format!("{func}(): {source}{}", super::io::os_reason(&e)),
            ));
        }
        let header_len = header.as_ref().map(Vec::len);
        if let Some(h) = header {
            let _ = self.decoder.header.set(h);
        }
        let records = if self.mode.load(Ordering::Relaxed) == stream::CLAIMED_BLOCKS {
            self.ahead.store(BLOCKS_AHEAD, Ordering::Relaxed);
            RawSource::Blocks(BlockReader::new(file, at, self.delimiter), None)
        } else {
            RawSource::Records(Box::new(RawRecords::new(file, at, self.delimiter)))
        };
        self.raw = Some(RawMode {
            records,
            delimiter: self.delimiter,
            func,
            source,
            rewind,
            header_len,
        });
        Ok(())
    }
}

impl RawMode {
    /// The next raw item.
    fn next(&mut self) -> Result<Option<Value>> {
        match &mut self.records {
            RawSource::Records(_) => self.next_record(),
            RawSource::Blocks(..) => self.next_block(),
        }
    }

    #[cold]
    fn io_error(&self, e: &std::io::Error) -> Error {
        Error::new(
            ErrorKind::IOError,
            format!(
                "{}(): {}{}",
                self.func,
                self.source,
                super::io::os_reason(e)
            ),
        )
    }

    /// The next block of records, `[rows, offset, text]` (see
    /// [`RowDecoder`]); invalid UTF-8 ends the stream with the plain
    /// reader's error, after a block of the records before it.
    fn next_block(&mut self) -> Result<Option<Value>> {
        let RawSource::Blocks(reader, pending) = &mut self.records else {
            unreachable!("called in block mode")
        };
        if let Some(e) = pending.take() {
            return Err(e);
        }
        let (rows, len) = match reader.next() {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.io_error(&e)),
        };
        let offset = reader.offset();
        let bytes = reader.bytes(len);
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let block = block_value(rows, offset, text);
                reader.consume(len);
                Ok(Some(block))
            }
            Err(e) => {
                // The record holding the first invalid byte, and the ones
                // before it.
                let ends = blocks::record_ends(bytes, self.delimiter);
                let good = ends.partition_point(|&end| end <= e.valid_up_to());
                let start = if good == 0 { 0 } else { ends[good - 1] };
                let end = ends.get(good).copied().unwrap_or(bytes.len());
                let column = first_invalid_field(&bytes[start..end], self.delimiter);
                let error = bad_at(
                    self.func,
                    &self.source,
                    &self.rewind,
                    offset + start as u64,
                    column,
                    "invalid UTF-8",
                );
                if good == 0 {
                    return Err(error);
                }
                let text = std::str::from_utf8(&bytes[..start]).expect("before the invalid byte");
                let block = block_value(good, offset, text);
                reader.consume_part(start);
                *pending = Some(error);
                Ok(Some(block))
            }
        }
    }

    /// The next record's text, after the checks the parser makes.
    fn next_record(&mut self) -> Result<Option<Value>> {
        let RawSource::Records(records) = &mut self.records else {
            unreachable!("called in record mode")
        };
        let at = records.pos;
        let fields = match records.next() {
            Ok(Some(n)) => n,
            Ok(None) => return Ok(None),
            Err(e) => return Err(self.io_error(&e)),
        };
        // The record is UTF-8 exactly when each of its fields is (the
        // quotes, delimiters and line breaks around them are ASCII).
        let Ok(text) = std::str::from_utf8(&records.raw) else {
            let column = records.first_invalid_field();
            return Err(bad_at(
                self.func,
                &self.source,
                &self.rewind,
                at,
                column,
                "invalid UTF-8",
            ));
        };
        if let Some(len) = self.header_len {
            if fields != len {
                return Err(bad_at(
                    self.func,
                    &self.source,
                    &self.rewind,
                    at,
                    fields.min(len) + 1,
                    &format!("{fields} fields, but the header has {len}"),
                ));
            }
        }
        Ok(Some(Value::str(text)))
    }
}

/// Records read with the `csv` crate's own DFA (`csv_core`), as
/// `csv::Reader` reads them, keeping each one's bytes as they are in the
/// file (with any blank lines before it).
struct RawRecords {
    input: std::io::BufReader<std::fs::File>,
    core: csv_core::Reader,
    /// The byte offset where the next record starts.
    pos: u64,
    /// The last record's bytes.
    raw: Vec<u8>,
    /// The last record's fields (unquoted), and where each ends.
    out: Vec<u8>,
    ends: Vec<usize>,
    fields: usize,
    done: bool,
}

impl RawRecords {
    fn new(file: std::fs::File, pos: u64, delimiter: u8) -> RawRecords {
        RawRecords {
            input: std::io::BufReader::with_capacity(64 * 1024, file),
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            pos,
            raw: Vec::new(),
            out: vec![0; 1024],
            ends: vec![0; 32],
            fields: 0,
            done: false,
        }
    }

    /// Reads the next record into `raw` (and `out`, `ends`): its number of
    /// fields, or `None` at the end.
    fn next(&mut self) -> std::io::Result<Option<usize>> {
        use csv_core::ReadRecordResult::*;
        self.raw.clear();
        if self.done {
            return Ok(None);
        }
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let input = self.input.fill_buf()?;
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[outlen..], &mut self.ends[endlen..]);
            self.raw.extend_from_slice(&input[..nin]);
            self.input.consume(nin);
            self.pos += nin as u64;
            outlen += nout;
            endlen += nend;
            match res {
                InputEmpty => {}
                OutputFull => self.out.resize(self.out.len() * 2, 0),
                OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                Record => {
                    self.fields = endlen;
                    return Ok(Some(endlen));
                }
                End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }

    /// The 1-based number of the last record's first field that is not
    /// UTF-8.
    #[cold]
    fn first_invalid_field(&self) -> usize {
        let mut start = 0;
        for (i, &end) in self.ends[..self.fields].iter().enumerate() {
            if std::str::from_utf8(&self.out[start..end]).is_err() {
                return i + 1;
            }
            start = end;
        }
        self.fields.max(1)
    }
}

/// The raw item of a block of `rows` records, `text`, read from byte
/// `offset` of the file: `[rows, offset, text]` (a row is never a list
/// whose first item is an integer; only [`RowDecoder`] sees these).
fn block_value(rows: usize, offset: u64, text: &str) -> Value {
    Value::list(vec![
        Value::Int(rows as i64),
        Value::Int(offset as i64),
        Value::str(text),
    ])
}

/// A block's parts, if `item` is one.
fn as_block(item: &Value) -> Option<(usize, u64, &Value)> {
    let Value::List(l) = item else { return None };
    match l.as_slice() {
        [Value::Int(rows), Value::Int(offset), text @ Value::Str(_)] => {
            Some((*rows as usize, *offset as u64, text))
        }
        _ => None,
    }
}

/// The 1-based number of the first field of `record` (one record's
/// bytes) that is not UTF-8.
#[cold]
fn first_invalid_field(mut record: &[u8], delimiter: u8) -> usize {
    use csv_core::ReadFieldResult::*;
    let mut core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut out = vec![0; record.len() + 1];
    let mut field = 0;
    loop {
        let (res, nin, nout) = core.read_field(record, &mut out);
        record = &record[nin..];
        match res {
            InputEmpty if !record.is_empty() => continue,
            InputEmpty | OutputFull => {}
            Field { record_end } => {
                field += 1;
                if std::str::from_utf8(&out[..nout]).is_err() {
                    return field;
                }
                if record_end {
                    return field;
                }
                continue;
            }
            End => return field.max(1),
        }
        // The end of the input: one more call ends the last field.
        if record.is_empty() {
            let (res, _, nout) = core.read_field(&[], &mut out);
            if let Field { .. } = res {
                field += 1;
                if std::str::from_utf8(&out[..nout]).is_err() {
                    return field;
                }
            }
            return field.max(1);
        }
    }
}

/// Parses a claimed `csv.rows` stream's records or blocks of records
/// (their text, checked for UTF-8 by the reader) into rows, on the
/// parallel call's runners.
struct RowDecoder {
    delimiter: u8,
    /// The header's names (set before the first record is sent).
    header: OnceLock<Vec<Key>>,
    /// How the stream was claimed (blocks: the header's length is checked
    /// here).
    mode: Arc<AtomicU8>,
    /// What errors name.
    func: &'static str,
    source: String,
    rewind: Rewind,
}

impl std::fmt::Debug for RowDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowDecoder")
            .field("delimiter", &self.delimiter)
            .field("mode", &self.mode)
            .field("source", &self.source)
            .finish()
    }
}

impl stream::Decode for RowDecoder {
    fn decode(&self, items: &mut Vec<Value>) -> std::result::Result<(), (usize, Error)> {
        // A parser and its buffers per thread, kept between chunks (building
        // the DFA costs microseconds; chunks may hold a few rows).
        thread_local! {
            static SCRATCH: std::cell::RefCell<Option<Scratch>> =
                const { std::cell::RefCell::new(None) };
        }
        SCRATCH.with(|cell| {
            let mut cell = cell.borrow_mut();
            let scratch = match &mut *cell {
                Some(s) if s.delimiter == self.delimiter => s,
                _ => cell.insert(Scratch {
                    delimiter: self.delimiter,
                    core: csv_core::ReaderBuilder::new()
                        .delimiter(self.delimiter)
                        .build(),
                    out: vec![0; 1024],
                    ends: vec![0; 32],
                }),
            };
            if self.max_weight() == 1 {
                for (k, item) in items.iter_mut().enumerate() {
                    // Rows parsed before the claim are not strings.
                    let Value::Str(text) = &*item else { continue };
                    let row = self.row(scratch, text.as_bytes()).map_err(|e| (k, e))?;
                    *item = row;
                }
                return Ok(());
            }
            let rows: usize = items.iter().map(|x| self.weight(x)).sum();
            let mut out = Vec::with_capacity(rows);
            for item in std::mem::take(items) {
                let Some((n, offset, Value::Str(text))) = as_block(&item) else {
                    out.push(item); // a row parsed before the claim
                    continue;
                };
                if let Err(e) = self.block(scratch, n, offset, text.as_bytes(), &mut out) {
                    let k = out.len();
                    *items = out;
                    return Err((k, e));
                }
            }
            *items = out;
            Ok(())
        })
    }

    fn weight(&self, item: &Value) -> usize {
        as_block(item).map_or(1, |(rows, ..)| rows)
    }

    fn max_weight(&self) -> usize {
        if self.mode.load(Ordering::Relaxed) == stream::CLAIMED_BLOCKS {
            BLOCK_ROWS
        } else {
            1
        }
    }
}

/// A runner thread's parser for [`RowDecoder`].
struct Scratch {
    delimiter: u8,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

impl RowDecoder {
    /// Parses the `rows` records of a block (`text`, read from byte
    /// `offset`), pushing their rows on `out`. A record whose length is
    /// not the header's is the plain reader's error; `out` then holds the
    /// rows before it.
    fn block(
        &self,
        scratch: &mut Scratch,
        rows: usize,
        offset: u64,
        text: &[u8],
        out: &mut Vec<Value>,
    ) -> Result<()> {
        use csv_core::ReadRecordResult::*;
        let Scratch {
            core,
            out: buf,
            ends,
            ..
        } = scratch;
        core.reset();
        let first = out.len();
        let mut input = text;
        // Where the record being read started (with the blank lines
        // before it: what the plain reader reports, see `Rewind`).
        let mut start = 0;
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            let (res, nin, nout, nend) =
                core.read_record(input, &mut buf[outlen..], &mut ends[endlen..]);
            input = &input[nin..];
            outlen += nout;
            endlen += nend;
            match res {
                // The last record of a file may have no line break: the
                // next call, with no input, ends it.
                InputEmpty => {}
                OutputFull => buf.resize(buf.len() * 2, 0),
                OutputEndsFull => ends.resize(ends.len() * 2, 0),
                Record => {
                    let at = offset + start as u64;
                    out.push(self.fields(&buf[..outlen], &ends[..endlen], at)?);
                    start = text.len() - input.len();
                    (outlen, endlen) = (0, 0);
                }
                End => break,
            }
        }
        core.reset();
        if out.len() - first != rows {
            return Err(Error::new(
                ErrorKind::Error,
                format!(
                    "internal error: csv.rows sent a block of {} rows counted as {rows}",
                    out.len() - first
                ),
            ));
        }
        Ok(())
    }

    /// The row of one record's fields (unquoted, `ends` where each ends),
    /// read at byte `at`: checked against the header in block mode.
    fn fields(&self, buf: &[u8], ends: &[usize], at: u64) -> Result<Value> {
        let mut fields = Vec::with_capacity(ends.len());
        let mut start = 0;
        for &end in ends {
            let text = std::str::from_utf8(&buf[start..end]).map_err(|_| {
                Error::new(
                    ErrorKind::Error,
                    "internal error: csv.rows sent a field that is not UTF-8",
                )
            })?;
            fields.push(Value::str(text));
            start = end;
        }
        let Some(header) = self.header.get() else {
            return Ok(Value::list(fields));
        };
        header_row(header, fields).map_err(|(column, why)| {
            bad_at(self.func, &self.source, &self.rewind, at, column, &why)
        })
    }

    /// The row of one record's text (record mode: the reader checked it).
    fn row(&self, scratch: &mut Scratch, mut input: &[u8]) -> Result<Value> {
        use csv_core::ReadRecordResult::*;
        let Scratch {
            core, out, ends, ..
        } = scratch;
        let (mut outlen, mut endlen) = (0, 0);
        let mut at_end = false;
        loop {
            let (res, nin, nout, nend) =
                core.read_record(input, &mut out[outlen..], &mut ends[endlen..]);
            input = &input[nin..];
            outlen += nout;
            endlen += nend;
            match res {
                // The last record of a file may have no line break: the
                // end of the input ends it.
                InputEmpty => at_end = true,
                OutputFull => out.resize(out.len() * 2, 0),
                OutputEndsFull => ends.resize(ends.len() * 2, 0),
                Record => break,
                End => {
                    core.reset();
                    return Err(Error::new(
                        ErrorKind::Error,
                        "internal error: csv.rows sent an empty record",
                    ));
                }
            }
        }
        if at_end {
            core.reset();
        }
        self.fields(&out[..outlen], &ends[..endlen], 0)
    }
}

// ---------------------------------------------------------------------------
// Writing

/// The CSV text of `rows`.
fn to_csv(func: &'static str, rows: &Value, opts: Option<&Value>) -> Result<String> {
    let s = settings(func, opts)?;
    let Value::List(rows) = rows else {
        return Err(args::type_error(func, "rows", "a list of rows", rows));
    };
    let mut w = csv::WriterBuilder::new()
        .delimiter(s.delimiter)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let io = |e: csv::Error| Error::value_error(format!("{func}(): {e}"));
    let mut field = String::new();
    match rows.first() {
        None => {}
        Some(Value::Map(first)) => {
            let header: Vec<Key> = first.keys().cloned().collect();
            if s.header.unwrap_or(true) {
                let names: Vec<String> = header.iter().map(|k| k.0.to_string()).collect();
                w.write_record(&names).map_err(io)?;
            }
            let mut record = csv::StringRecord::new();
            for (r, row) in rows.iter().enumerate() {
                let Value::Map(m) = row else {
                    return Err(mixed(func, r, row, "a map"));
                };
                for (k, _) in m.iter() {
                    if !first.contains_key(k) {
                        return Err(Error::value_error(format!(
                            "{func}() row {r} has the key {}, which is not in the header (the first row's keys)",
                            k.0.repr()
                        )));
                    }
                }
                record.clear();
                for (c, k) in header.iter().enumerate() {
                    let v = m.get(k).unwrap_or(&Value::Nil);
                    field_text(func, r, c, v, &mut field)?;
                    record.push_field(&field);
                }
                w.write_record(&record).map_err(io)?;
            }
        }
        Some(_) => {
            let mut record = csv::StringRecord::new();
            for (r, row) in rows.iter().enumerate() {
                let Value::List(items) = row else {
                    return Err(mixed(func, r, row, "a list"));
                };
                record.clear();
                for (c, v) in items.iter().enumerate() {
                    field_text(func, r, c, v, &mut field)?;
                    record.push_field(&field);
                }
                if items.is_empty() {
                    // An empty row is one empty field (a blank line reads
                    // back as nothing).
                    record.push_field("");
                }
                w.write_record(&record).map_err(io)?;
            }
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::value_error(format!("{func}(): {e}")))?;
    Ok(String::from_utf8(bytes).expect("CSV written from strings is UTF-8"))
}

#[cold]
fn mixed(func: &str, r: usize, row: &Value, want: &str) -> Error {
    Error::type_error(format!(
        "{func}() row {r} must be {want} like the first row, not {}",
        args::article(row.type_name())
    ))
}

/// The text of one field.
fn field_text(func: &str, r: usize, c: usize, v: &Value, out: &mut String) -> Result<()> {
    out.clear();
    match v {
        Value::Str(s) => out.push_str(s),
        Value::Nil => {}
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        other => {
            return Err(Error::type_error(format!(
                "{func}() row {r}, column {c} is {} (fields are strings, numbers, bools or nil)",
                args::article(other.type_name())
            )))
        }
    }
    Ok(())
}

/// `csv.stringify(rows, opts?)`.
fn stringify(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.stringify", args, 1, 2)?;
    Ok(Value::str(to_csv("csv.stringify", &args[0], args.get(1))?))
}

/// `csv.write(path, rows, opts?)`.
fn write(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.write", args, 2, 3)?;
    let path = args::string("csv.write", "path", &args[0])?;
    let text = to_csv("csv.write", &args[1], args.get(2))?;
    blocking(|| std::fs::write(path, text))
        .map_err(|e| io_error("csv.write", "write", path, &e))?;
    Ok(Value::Nil)
}

#[cfg(test)]
#[path = "test/csv.rs"]
mod test;

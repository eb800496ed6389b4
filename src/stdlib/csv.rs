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
use std::io::Read;

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

    /// `line` is the byte offset where the row starts.
    #[cold]
    fn bad(&self, at: u64, column: usize, what: &str) -> Error {
        let line = self.rewind.line_at(at).unwrap_or(0);
        Error::value_error(format!(
            "{}(): {}line {line}, column {column}: {what}",
            self.func, self.source
        ))
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
        if fields.len() != header.len() {
            let column = fields.len().min(header.len()) + 1;
            return Err(self.bad(
                at,
                column,
                &format!(
                    "{} fields, but the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let mut m = Map::with_capacity(header.len());
        for (k, v) in header.iter().zip(fields) {
            m.insert(k.clone(), v);
        }
        Ok(Some(Value::map(m)))
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
fn rows(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("csv.rows", args, 1, 2)?;
    let path = args::string("csv.rows", "path", &args[0])?;
    let s = settings("csv.rows", args.get(1))?;
    let file = super::fs::open_file("csv.rows", path)?;
    let rewind = Rewind::File(path.to_string());
    let mut reader = RowReader::new("csv.rows", source(path), rewind, file, &s);
    stream::spawn("rows", move || reader.next_row())
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

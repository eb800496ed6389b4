//! A claimed `csv.rows` stream's reader in blocks: it cuts the file into
//! blocks of whole records (at most [`BLOCK_ROWS`] records, about
//! [`BLOCK_BYTES`] bytes) without parsing them, and counts the records of
//! each; the parallel call's runners parse the blocks (`RowDecoder`).
//!
//! Where a record ends depends only on the quotes, the line breaks and the
//! delimiters, read as the `csv` crate's DFA (`csv_core`, RFC 4180 with
//! its lenient rules) reads them:
//! - a record starts after any number of line breaks (`\n`, `\r`: blank
//!   lines are skipped), and ends at the next line break outside quotes;
//! - a field starts at the record's start or after a delimiter; a quote
//!   there opens a quoted field, which runs to the next quote not doubled
//!   (`""` is an escaped quote); what follows the closing quote, up to the
//!   next delimiter or line break, is more of the same field;
//! - anywhere else a quote is text (`a"b` is one field, `a"b`).
//!
//! So [`Scan`] jumps with `memchr` from one quote or line break to the
//! next, and looks at a delimiter only as the byte before a quote (does the
//! quote open a field?). It is resumable at any byte, so a record longer
//! than what is read so far costs no rescan. The test module checks it
//! against `csv_core` on random input (record counts and cut points).

use std::fs::File;
use std::io::Read;

/// The most records in a block: the parallel call counts a block as this
/// many items against its output's room.
pub(crate) const BLOCK_ROWS: usize = 1024;
/// A block ends at the first record end at or past this many bytes.
pub(crate) const BLOCK_BYTES: usize = 64 * 1024;
/// How many blocks the reader keeps ready in the channel.
pub(crate) const BLOCKS_AHEAD: usize = 16;
/// How much is read from the file at a time.
const READ: usize = 64 * 1024;

/// Where the scan is in the CSV grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Between records: skipping line breaks.
    RecordStart,
    /// At a field's first byte.
    FieldStart,
    /// In an unquoted field (or after a quoted field's closing quote).
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote in a quoted field: a second quote escapes it,
    /// anything else closes the field.
    QuoteInQuoted,
}

/// A resumable scan for record ends over a growing buffer.
#[derive(Clone, Debug)]
pub(super) struct Scan {
    /// The next byte to look at.
    at: usize,
    st: St,
    /// Records ended so far.
    rows: usize,
    /// The byte after the last record's line break (0: none yet).
    cut: usize,
}

impl Scan {
    pub(super) fn new() -> Scan {
        Scan {
            at: 0,
            st: St::RecordStart,
            rows: 0,
            cut: 0,
        }
    }

    /// Scans `b` on from where it stopped, until its end, or until
    /// `max_rows` records have ended, or a record ends at or past
    /// `max_bytes`.
    pub(super) fn run(&mut self, b: &[u8], delimiter: u8, max_rows: usize, max_bytes: usize) {
        let n = b.len();
        while self.at < n {
            match self.st {
                St::RecordStart => {
                    match b[self.at..].iter().position(|&c| c != b'\n' && c != b'\r') {
                        Some(i) => {
                            self.at += i;
                            self.st = St::FieldStart;
                        }
                        None => self.at = n,
                    }
                }
                St::FieldStart => {
                    if b[self.at] == b'"' {
                        self.at += 1;
                        self.st = St::Quoted;
                    } else {
                        self.st = St::Unquoted;
                    }
                }
                St::Unquoted => match memchr::memchr3(b'"', b'\n', b'\r', &b[self.at..]) {
                    None => self.at = n,
                    Some(i) => {
                        let j = self.at + i;
                        self.at = j + 1;
                        if b[j] == b'"' {
                            // In an unquoted field the byte before is in
                            // the same record (a field never starts here).
                            if b[j - 1] == delimiter {
                                self.st = St::Quoted;
                            }
                        } else {
                            self.rows += 1;
                            self.cut = self.at;
                            self.st = St::RecordStart;
                            if self.rows >= max_rows || self.cut >= max_bytes {
                                return;
                            }
                        }
                    }
                },
                St::Quoted => match memchr::memchr(b'"', &b[self.at..]) {
                    None => self.at = n,
                    Some(i) => {
                        self.at += i + 1;
                        self.st = St::QuoteInQuoted;
                    }
                },
                St::QuoteInQuoted => {
                    if b[self.at] == b'"' {
                        self.at += 1;
                        self.st = St::Quoted;
                    } else {
                        // The field goes on unquoted; this byte may end it.
                        self.st = St::Unquoted;
                    }
                }
            }
        }
    }

    /// The input ends at `len` (where the scan stopped): a record begun
    /// and not ended by a line break ends here.
    pub(super) fn finish(&mut self, len: usize) {
        if self.at >= len && self.st != St::RecordStart {
            self.rows += 1;
            self.cut = len;
            self.st = St::RecordStart;
        }
    }

    /// Forgets the first `len` bytes (up to the last cut) and the records
    /// in them.
    fn rebase(&mut self, len: usize) {
        debug_assert!(len == self.cut && self.at >= len);
        self.at -= len;
        self.cut = 0;
        self.rows = 0;
    }

    /// Records ended so far, and where the last one ended.
    pub(super) fn records(&self) -> (usize, usize) {
        (self.rows, self.cut)
    }
}

/// The file, read on in blocks of whole records.
pub(super) struct BlockReader {
    file: File,
    /// Bytes read and not yet handed out; `buf[0]` is at offset `pos`.
    buf: Vec<u8>,
    pos: u64,
    eof: bool,
    /// A read error met after complete records (handed out first).
    failed: Option<std::io::Error>,
    delimiter: u8,
    scan: Scan,
}

impl BlockReader {
    /// Reads `file` on from its current offset `pos` (a record's start).
    pub(super) fn new(file: File, pos: u64, delimiter: u8) -> BlockReader {
        BlockReader {
            file,
            buf: Vec::with_capacity(BLOCK_BYTES + READ),
            pos,
            eof: false,
            failed: None,
            delimiter,
            scan: Scan::new(),
        }
    }

    /// The next block: its records and its length (its bytes are
    /// [`Self::bytes`] until [`Self::consume`]); `None` at the end.
    pub(super) fn next(&mut self) -> std::io::Result<Option<(usize, usize)>> {
        loop {
            self.scan
                .run(&self.buf, self.delimiter, BLOCK_ROWS, BLOCK_BYTES);
            let (rows, cut) = self.scan.records();
            let full = rows >= BLOCK_ROWS || cut >= BLOCK_BYTES;
            // A record longer than a block: hand out the records before it.
            let long = cut > 0 && self.buf.len() >= BLOCK_BYTES;
            if full || long || (cut > 0 && self.failed.is_some()) {
                return Ok(Some((rows, cut)));
            }
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.eof {
                self.scan.finish(self.buf.len());
                let (rows, cut) = self.scan.records();
                return Ok((rows > 0).then_some((rows, cut)));
            }
            match (&mut self.file)
                .take(READ as u64)
                .read_to_end(&mut self.buf)
            {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) => self.failed = Some(e),
            }
        }
    }

    /// The first `len` bytes not handed out yet.
    pub(super) fn bytes(&self, len: usize) -> &[u8] {
        &self.buf[..len]
    }

    /// The file offset of [`Self::bytes`].
    pub(super) fn offset(&self) -> u64 {
        self.pos
    }

    /// Hands out the block [`Self::next`] returned (of `len` bytes).
    pub(super) fn consume(&mut self, len: usize) {
        self.buf.drain(..len);
        self.pos += len as u64;
        self.scan.rebase(len);
    }

    /// Hands out the first `len` bytes of that block, and forgets the rest
    /// of what was scanned (the reader stops after it).
    pub(super) fn consume_part(&mut self, len: usize) {
        self.buf.drain(..len);
        self.pos += len as u64;
        self.scan = Scan::new();
    }
}

/// Where each record of `b` (a block) ends, as [`Scan`] finds them.
pub(super) fn record_ends(b: &[u8], delimiter: u8) -> Vec<usize> {
    let mut scan = Scan::new();
    let mut ends = Vec::new();
    loop {
        scan.run(b, delimiter, ends.len() + 1, usize::MAX);
        let (rows, cut) = scan.records();
        if rows == ends.len() {
            scan.finish(b.len());
            let (rows, cut) = scan.records();
            if rows > ends.len() {
                ends.push(cut);
            }
            return ends;
        }
        ends.push(cut);
    }
}

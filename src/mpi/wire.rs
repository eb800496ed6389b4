//! Byte-level encoding: the primitives every message is made of.
//!
//! - unsigned ints: LEB128 varints (7 bits a byte, low first);
//! - signed ints: zigzag, then a varint (small magnitudes stay small);
//! - floats: the 8 bytes of `f64::to_bits`, little-endian (exact: NaN
//!   payloads and `-0.0` survive);
//! - byte strings and UTF-8 strings: a varint length, then the bytes.
//!
//! A [`Reader`] never panics and never allocates more than the message
//! could hold: every read is bounds-checked and a length is checked
//! against the bytes left before anything is reserved for it.

use std::fmt;

/// Why a message could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed message: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// The result of a decoding step.
pub type WireResult<T> = Result<T, WireError>;

/// Appends primitives to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The bytes written, taken out.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Forgets everything written (keeps the allocation).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// An unsigned int as a varint.
    #[inline]
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A `usize` as a varint.
    #[inline]
    pub fn len_of(&mut self, n: usize) {
        self.varint(n as u64);
    }

    /// A signed int, zigzag-encoded.
    #[inline]
    pub fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A float's exact bits.
    #[inline]
    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    /// Eight raw bytes of a `u64` (fixed width: fingerprints).
    pub fn u64_fixed(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A length-prefixed byte string.
    pub fn bytes_field(&mut self, b: &[u8]) {
        self.len_of(b.len());
        self.buf.extend_from_slice(b);
    }

    /// A length-prefixed UTF-8 string.
    #[inline]
    pub fn str(&mut self, s: &str) {
        self.bytes_field(s.as_bytes());
    }
}

/// Reads primitives from a received message.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// The offset of the next byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> WireResult<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(WireError(format!(
                "{} unexpected bytes after the end",
                self.remaining()
            )))
        }
    }

    #[cold]
    fn truncated(&self) -> WireError {
        WireError(format!("truncated at byte {}", self.pos))
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> WireResult<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    /// A varint.
    #[inline]
    pub fn varint(&mut self) -> WireResult<u64> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.u8()?;
            if shift == 63 && b > 1 {
                return Err(WireError(format!("varint overflow at byte {}", self.pos)));
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
            if shift > 63 {
                return Err(WireError(format!("varint overflow at byte {}", self.pos)));
            }
        }
    }

    /// A varint that must fit `u32`.
    pub fn u32(&mut self) -> WireResult<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| WireError(format!("{v} does not fit 32 bits")))
    }

    /// A count of things that each take at least `min_bytes` bytes: checked
    /// against the bytes left, so a corrupt count cannot make the reader
    /// reserve more memory than the message holds.
    pub fn count(&mut self, min_bytes: usize) -> WireResult<usize> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.bad_count(n))?;
        if n.saturating_mul(min_bytes.max(1)) > self.remaining() {
            return Err(self.bad_count(n as u64));
        }
        Ok(n)
    }

    #[cold]
    fn bad_count(&self, n: u64) -> WireError {
        WireError(format!(
            "count {n} at byte {} exceeds the {} bytes left",
            self.pos,
            self.remaining()
        ))
    }

    /// A zigzag-encoded signed int.
    #[inline]
    pub fn zigzag(&mut self) -> WireResult<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Exactly `n` raw bytes.
    pub fn take(&mut self, n: usize) -> WireResult<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A float's exact bits.
    #[inline]
    pub fn f64(&mut self) -> WireResult<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_bits(u64::from_le_bytes(a)))
    }

    /// Eight raw bytes of a `u64`.
    pub fn u64_fixed(&mut self) -> WireResult<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length-prefixed byte string.
    pub fn bytes_field(&mut self) -> WireResult<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self) -> WireResult<&'a str> {
        let at = self.pos;
        let b = self.bytes_field()?;
        std::str::from_utf8(b).map_err(|_| WireError(format!("invalid UTF-8 at byte {at}")))
    }
}

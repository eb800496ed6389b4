//! The messages ranks exchange (see README.md for who sends what when).
//! Each is one MPI message of bytes: a type byte, then its fields in the
//! [`super::wire`] encoding, values in the [`super::codec`] encoding.

use super::codec::{Decoder, Encoder, Refusal};
use super::program::Program;
use super::wire::{Reader, WireError, WireResult, Writer};
use crate::value::Value;

/// Bumped whenever a message's layout changes; part of the program
/// fingerprint, so ranks of different versions refuse to start together.
pub const PROTOCOL_VERSION: u32 = 3;

/// The type byte that starts each message.
pub mod tags {
    /// [`super::Msg::Hello`].
    pub const HELLO: u8 = 1;
    /// [`super::Msg::Verdict`].
    pub const VERDICT: u8 = 2;
    /// [`super::Msg::Call`].
    pub const CALL: u8 = 3;
    /// [`super::Msg::Chunk`].
    pub const CHUNK: u8 = 4;
    /// [`super::Msg::Stop`].
    pub const STOP: u8 = 5;
    /// [`super::Msg::End`].
    pub const END: u8 = 6;
    /// [`super::Msg::Shutdown`].
    pub const SHUTDOWN: u8 = 7;
    /// [`super::Msg::Done`].
    pub const DONE: u8 = 8;
    /// [`super::Msg::Failed`].
    pub const FAILED: u8 = 9;
    /// [`super::Msg::Skipped`].
    pub const SKIPPED: u8 = 10;
    /// [`super::Msg::Bye`].
    pub const BYE: u8 = 11;
}

use tags::*;

/// Which parallel function a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `parallel_map`: one result per item.
    Map,
    /// `parallel_filter`: one keep flag per item.
    Filter,
    /// `parallel_for_each`: nothing per item.
    ForEach,
    /// `parallel_reduce`: one value per chunk (a whole subtree of the
    /// fixed reduction tree).
    Reduce,
    /// `parallel_fold`: as `Reduce`.
    Fold,
}

impl Kind {
    /// The script-visible name (for messages).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Map => "parallel_map",
            Kind::Filter => "parallel_filter",
            Kind::ForEach => "parallel_for_each",
            Kind::Reduce => "parallel_reduce",
            Kind::Fold => "parallel_fold",
        }
    }

    /// Whether chunks are whole subtrees of the fixed reduction tree.
    pub fn is_tree(self) -> bool {
        matches!(self, Kind::Reduce | Kind::Fold)
    }

    fn code(self) -> u8 {
        match self {
            Kind::Map => 0,
            Kind::Filter => 1,
            Kind::ForEach => 2,
            Kind::Reduce => 3,
            Kind::Fold => 4,
        }
    }

    fn from_code(c: u8) -> WireResult<Kind> {
        match c {
            0 => Ok(Kind::Map),
            1 => Ok(Kind::Filter),
            2 => Ok(Kind::ForEach),
            3 => Ok(Kind::Reduce),
            4 => Ok(Kind::Fold),
            other => Err(WireError(format!("unknown call kind {other}"))),
        }
    }
}

/// A rank's start-up report to rank 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// `Ok(fingerprint)` of its compiled program, or the compile error.
    pub program: Result<u64, String>,
    /// Its pool's worker count.
    pub workers: u32,
    /// Its host name.
    pub host: String,
}

/// What a chunk produced, per kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `parallel_map`: the results (a list value, one per item).
    Map(Value),
    /// `parallel_filter`: whether each item is kept.
    Filter(Vec<bool>),
    /// `parallel_for_each`: nothing.
    ForEach,
    /// `parallel_reduce` / `parallel_fold`: the chunk's subtree's value.
    Value(Value),
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// Rank k → 0 at start-up.
    Hello(Hello),
    /// 0 → every rank at start-up: 0 to go on, else the exit status.
    Verdict {
        /// Exit status (0: go on).
        code: i32,
    },
    /// 0 → every rank: a new call and its function.
    Call {
        /// The call's number.
        call: u64,
        /// Which function.
        kind: Kind,
        /// Call depth left to items (the caller's remaining budget).
        depth: u32,
        /// The function value.
        f: Value,
        /// The local call's arguments after `f`: `[identity]` for reduce,
        /// `[combine, identity]` for fold, none otherwise.
        extra: Vec<Value>,
        /// The options map of the local call on each rank (or nil).
        opts: Value,
        /// Module variables the function may read: (module, slot, value).
        snapshot: Vec<(u32, u16, Value)>,
    },
    /// 0 → rank k: items `start..start + len(items)` of `call`.
    Chunk {
        /// The call.
        call: u64,
        /// The chunk's number in the call.
        seq: u32,
        /// Index of its first item.
        start: u64,
        /// The items (a list, range or string).
        items: Value,
    },
    /// 0 → every rank: chunks of `call` starting at `from` or later need
    /// not run (skip them if queued, cancel them if running).
    Stop {
        /// The call.
        call: u64,
        /// The first index that need not run.
        from: u64,
    },
    /// 0 → every rank: the call is over (every chunk was answered); free it.
    End {
        /// The call.
        call: u64,
    },
    /// 0 → every rank: the script is over; answer [`Msg::Bye`] and stop.
    Shutdown {
        /// `weft --stats`: put this rank's statistics tables in the `Bye`.
        stats: bool,
    },
    /// Rank k → 0: a chunk ran.
    Done {
        /// The call.
        call: u64,
        /// The chunk.
        seq: u32,
        /// Wall time the chunk took on its rank.
        elapsed_ns: u64,
        /// How long it waited on its rank between arriving and starting.
        queued_ns: u64,
        /// Its results.
        result: Outcome,
        /// Per-item errors (offset in the chunk, error value): for
        /// `errors: "collect"`. Empty with the default `errors: "throw"`.
        errors: Vec<(u64, Value)>,
    },
    /// Rank k → 0: a chunk failed with the error of its first failing item.
    Failed {
        /// The call.
        call: u64,
        /// The chunk.
        seq: u32,
        /// The error value.
        error: Value,
    },
    /// Rank k → 0: a chunk did not run (stopped).
    Skipped {
        /// The call.
        call: u64,
        /// The chunk.
        seq: u32,
    },
    /// Rank k → 0: answer to [`Msg::Shutdown`]; nothing more will come.
    Bye {
        /// The rank's `--stats` tables (its pool, its local parallel
        /// calls), if the `Shutdown` asked for them; else empty.
        stats: String,
    },
}

/// What the receiving side must know of a message before it is queued:
/// stops and shutdowns act at once, on a chunk already running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peek {
    /// [`Msg::Stop`].
    Stop {
        /// The call.
        call: u64,
        /// The first index that need not run.
        from: u64,
    },
    /// [`Msg::Shutdown`].
    Shutdown,
    /// [`Msg::Bye`].
    Bye,
    /// Anything else.
    Other,
}

/// Reads just enough of `bytes` to classify it.
pub fn peek(bytes: &[u8]) -> Peek {
    let mut r = Reader::new(bytes);
    match r.u8() {
        Ok(STOP) => match (r.varint(), r.varint()) {
            (Ok(call), Ok(from)) => Peek::Stop { call, from },
            _ => Peek::Other,
        },
        Ok(SHUTDOWN) => Peek::Shutdown,
        Ok(BYE) => Peek::Bye,
        _ => Peek::Other,
    }
}

/// Encodes every message but [`Msg::Call`] (see [`begin_call`]). Fails
/// only when a value in it cannot cross ranks.
pub fn encode(prog: &Program, msg: &Msg) -> Result<Vec<u8>, Refusal> {
    let mut e = Encoder::new(prog);
    match msg {
        Msg::Hello(h) => {
            e.w.u8(HELLO);
            match &h.program {
                Ok(fp) => {
                    e.w.u8(0);
                    e.w.u64_fixed(*fp);
                }
                Err(why) => {
                    e.w.u8(1);
                    e.w.str(why);
                }
            }
            e.w.varint(u64::from(h.workers));
            e.w.str(&h.host);
        }
        Msg::Verdict { code } => {
            e.w.u8(VERDICT);
            e.w.zigzag(i64::from(*code));
        }
        Msg::Call {
            call,
            kind,
            depth,
            f,
            extra,
            opts,
            snapshot,
        } => {
            begin_call(&mut e.w, *call, *kind, *depth);
            e.value(f)?;
            call_args(&mut e, extra, opts)?;
            for (m, s, v) in snapshot {
                snapshot_entry(&mut e.w, *m, *s);
                e.value(v)?;
            }
            e.w.u8(0);
        }
        Msg::Chunk {
            call,
            seq,
            start,
            items,
        } => {
            begin_chunk(&mut e.w, *call, *seq, *start);
            e.value(items)?;
        }
        Msg::Stop { call, from } => {
            e.w.u8(STOP);
            e.w.varint(*call);
            e.w.varint(*from);
        }
        Msg::End { call } => {
            e.w.u8(END);
            e.w.varint(*call);
        }
        Msg::Shutdown { stats } => {
            e.w.u8(SHUTDOWN);
            e.w.u8(u8::from(*stats));
        }
        Msg::Done {
            call,
            seq,
            elapsed_ns,
            queued_ns,
            result,
            errors,
        } => {
            e.w.u8(DONE);
            e.w.varint(*call);
            e.w.varint(u64::from(*seq));
            e.w.varint(*elapsed_ns);
            e.w.varint(*queued_ns);
            match result {
                Outcome::Map(v) => {
                    e.w.u8(0);
                    e.value(v)?;
                }
                Outcome::Filter(flags) => {
                    e.w.u8(1);
                    e.w.len_of(flags.len());
                    let mut bits = vec![0u8; flags.len().div_ceil(8)];
                    for (i, k) in flags.iter().enumerate() {
                        if *k {
                            bits[i / 8] |= 1 << (i % 8);
                        }
                    }
                    e.w.bytes_field(&bits);
                }
                Outcome::ForEach => e.w.u8(2),
                Outcome::Value(v) => {
                    e.w.u8(3);
                    e.value(v)?;
                }
            }
            e.w.len_of(errors.len());
            for (offset, err) in errors {
                e.w.varint(*offset);
                e.value(err)?;
            }
        }
        Msg::Failed { call, seq, error } => {
            e.w.u8(FAILED);
            e.w.varint(*call);
            e.w.varint(u64::from(*seq));
            e.value(error)?;
        }
        Msg::Skipped { call, seq } => {
            e.w.u8(SKIPPED);
            e.w.varint(*call);
            e.w.varint(u64::from(*seq));
        }
        Msg::Bye { stats } => {
            e.w.u8(BYE);
            e.w.str(stats);
        }
    }
    Ok(e.into_bytes())
}

/// Writes the header of a [`Msg::Call`]; the function value follows, then
/// the snapshot entries (each [`snapshot_entry`] then its value), then a 0.
pub fn begin_call(w: &mut Writer, call: u64, kind: Kind, depth: u32) {
    w.u8(CALL);
    w.varint(call);
    w.u8(kind.code());
    w.varint(u64::from(depth));
}

/// Writes a [`Msg::Call`]'s arguments after its function: the extra
/// arguments (count, values) and the options value.
pub fn call_args(e: &mut Encoder<'_>, extra: &[Value], opts: &Value) -> Result<(), Refusal> {
    e.w.len_of(extra.len());
    for v in extra {
        e.value(v)?;
    }
    e.value(opts)
}

/// Writes the header of one snapshot entry (its value follows).
pub fn snapshot_entry(w: &mut Writer, module: u32, slot: u16) {
    w.u8(1);
    w.varint(u64::from(module));
    w.varint(u64::from(slot));
}

/// Writes the header of a [`Msg::Chunk`]; the items value follows.
pub fn begin_chunk(w: &mut Writer, call: u64, seq: u32, start: u64) {
    w.u8(CHUNK);
    w.varint(call);
    w.varint(u64::from(seq));
    w.varint(start);
}

/// Decodes a message (functions are looked up in `prog`).
pub fn decode(prog: &Program, bytes: &[u8]) -> WireResult<Msg> {
    let mut d = Decoder::new(prog, bytes);
    let msg = match d.r.u8()? {
        HELLO => {
            let program = match d.r.u8()? {
                0 => Ok(d.r.u64_fixed()?),
                1 => Err(d.r.str()?.to_string()),
                other => return Err(WireError(format!("bad hello status {other}"))),
            };
            let workers = d.r.u32()?;
            let host = d.r.str()?.to_string();
            Msg::Hello(Hello {
                program,
                workers,
                host,
            })
        }
        VERDICT => {
            let code = d.r.zigzag()?;
            Msg::Verdict {
                code: i32::try_from(code)
                    .map_err(|_| WireError(format!("exit status {code} out of range")))?,
            }
        }
        CALL => {
            let call = d.r.varint()?;
            let kind = Kind::from_code(d.r.u8()?)?;
            let depth = d.r.u32()?;
            let f = d.value()?;
            let n = d.r.count(1)?;
            let mut extra = Vec::with_capacity(n);
            for _ in 0..n {
                extra.push(d.value()?);
            }
            let opts = d.value()?;
            let mut snapshot = Vec::new();
            loop {
                match d.r.u8()? {
                    0 => break,
                    1 => {
                        let m = d.r.u32()?;
                        let s = d.r.u32()?;
                        let s = u16::try_from(s)
                            .map_err(|_| WireError(format!("slot {s} out of range")))?;
                        let v = d.value()?;
                        snapshot.push((m, s, v));
                    }
                    other => return Err(WireError(format!("bad snapshot marker {other}"))),
                }
            }
            Msg::Call {
                call,
                kind,
                depth,
                f,
                extra,
                opts,
                snapshot,
            }
        }
        CHUNK => Msg::Chunk {
            call: d.r.varint()?,
            seq: d.r.u32()?,
            start: d.r.varint()?,
            items: d.value()?,
        },
        STOP => Msg::Stop {
            call: d.r.varint()?,
            from: d.r.varint()?,
        },
        END => Msg::End {
            call: d.r.varint()?,
        },
        SHUTDOWN => Msg::Shutdown {
            stats: match d.r.u8()? {
                0 => false,
                1 => true,
                other => return Err(WireError(format!("bad stats flag {other}"))),
            },
        },
        DONE => {
            let call = d.r.varint()?;
            let seq = d.r.u32()?;
            let elapsed_ns = d.r.varint()?;
            let queued_ns = d.r.varint()?;
            let result = match d.r.u8()? {
                0 => Outcome::Map(d.value()?),
                1 => {
                    let n = d.r.varint()?;
                    let bits = d.r.bytes_field()?;
                    let n = usize::try_from(n)
                        .ok()
                        .filter(|n| n.div_ceil(8) == bits.len())
                        .ok_or_else(|| WireError(format!("{n} flags in {} bytes", bits.len())))?;
                    Outcome::Filter((0..n).map(|i| bits[i / 8] & (1 << (i % 8)) != 0).collect())
                }
                2 => Outcome::ForEach,
                3 => Outcome::Value(d.value()?),
                other => return Err(WireError(format!("bad outcome kind {other}"))),
            };
            let n = d.r.count(2)?;
            let mut errors = Vec::with_capacity(n);
            for _ in 0..n {
                let offset = d.r.varint()?;
                errors.push((offset, d.value()?));
            }
            Msg::Done {
                call,
                seq,
                elapsed_ns,
                queued_ns,
                result,
                errors,
            }
        }
        FAILED => Msg::Failed {
            call: d.r.varint()?,
            seq: d.r.u32()?,
            error: d.value()?,
        },
        SKIPPED => Msg::Skipped {
            call: d.r.varint()?,
            seq: d.r.u32()?,
        },
        BYE => Msg::Bye {
            stats: d.r.str()?.to_string(),
        },
        other => return Err(WireError(format!("unknown message type {other}"))),
    };
    d.r.finish()?;
    Ok(msg)
}

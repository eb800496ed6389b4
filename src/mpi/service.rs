//! What every rank but 0 does after start-up: serve chunks until rank 0
//! says `Shutdown`.
//!
//! The serving thread waits on its inbox (no CPU used), then handles each
//! message in the order rank 0 sent it: a `Call` decodes the function and
//! installs its snapshot of module variables; a `Chunk` runs on this
//! rank's own pool (the local `parallel_*` function on the chunk's items)
//! and is answered `Done`, `Failed` or `Skipped`; `End` frees the call;
//! `Shutdown` is answered `Bye` and ends the loop. Every chunk gets exactly
//! one answer, which is what lets rank 0 know when a call is over.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::codec::find_refusal;
use super::init::{lease, Lease};
use super::link::Link;
use super::message::{decode, encode, Kind, Msg, Outcome};
use super::program::{Natives, Program};
use super::snapshot::install;
use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;
use crate::vm::{with_vm, Vm};

/// What every chunk of a call runs: the local `parallel_*` function, the
/// arguments after the items, the options of the local call.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Which function.
    pub kind: Kind,
    /// The item function (`step` for fold).
    pub f: Value,
    /// The arguments after `f`: `[identity]` for reduce, `[combine,
    /// identity]` for fold, none otherwise.
    pub extra: Vec<Value>,
    /// The options map of the local call (nil for none).
    pub opts: Value,
}

impl Spec {
    /// Whether the options say `errors: "collect"`.
    pub fn collects(&self) -> bool {
        option(&self.opts, "errors")
            .is_some_and(|v| matches!(v, Value::Str(s) if s.as_str() == "collect"))
    }
}

/// The options of a rank's local calls: with one worker, map, filter and
/// for_each run each chunk on the calling thread (`chunk_size` as large as
/// any chunk), without handing it to the pool's only worker and back.
pub fn inline_opts(kind: Kind, opts: Value) -> Value {
    if kind.is_tree() || crate::runtime::config().resolved_worker_count() != 1 {
        return opts;
    }
    let mut m = match &opts {
        Value::Map(m) => (**m).clone(),
        _ => crate::map::Map::new(),
    };
    m.insert(
        crate::value::Key::str("chunk_size"),
        Value::Int(i64::from(u32::MAX)),
    );
    Value::map(m)
}

/// Option `key` of an options map.
pub fn option<'a>(opts: &'a Value, key: &str) -> Option<&'a Value> {
    match opts {
        Value::Map(m) => m.iter().find_map(|(k, v)| match &k.0 {
            Value::Str(s) if s.as_str() == key => Some(v),
            _ => None,
        }),
        _ => None,
    }
}

/// What a chunk produced: its outcome and, with `errors: "collect"`, its
/// failed items: (index in the whole input, the `{"index", "item",
/// "error"}` map, its index made absolute and its error's trace ending
/// with `frame`).
pub type Ran = (Outcome, Vec<(u64, Value)>);

/// Runs one chunk's items (the first at index `start` of the input)
/// locally: the local `parallel_*` function over them, on this rank's
/// pool. Used by every rank, rank 0 included. Filter runs as a map whose
/// results are the keep flags (a failed item, collected, is not kept).
pub fn run_local(vm: &mut Vm, spec: &Spec, items: &Value, start: u64, frame: &str) -> Result<Ran> {
    let natives = Natives::get();
    let name = match spec.kind {
        Kind::Map | Kind::Filter => "parallel_map",
        other => other.name(),
    };
    let native = natives
        .value(name)
        .ok_or_else(|| Error::type_error(format!("internal error: no builtin {name}")))?;
    let mut args = Vec::with_capacity(3 + spec.extra.len());
    args.push(items.clone());
    args.push(spec.f.clone());
    args.extend(spec.extra.iter().cloned());
    if !matches!(spec.opts, Value::Nil) {
        args.push(spec.opts.clone());
    }
    let r = vm.call(&native, &args)?;
    let (r, errors) = if spec.collects() {
        split_collected(&r, start, frame)?
    } else {
        (r, Vec::new())
    };
    let outcome = match spec.kind {
        Kind::Map => Outcome::Map(r),
        Kind::Filter => match &r {
            Value::List(xs) => {
                let xs: &[Value] = xs;
                Outcome::Filter(xs.iter().map(Value::truthy).collect())
            }
            _ => Outcome::Filter(Vec::new()),
        },
        Kind::ForEach => Outcome::ForEach,
        Kind::Reduce | Kind::Fold => Outcome::Value(r),
    };
    Ok((outcome, errors))
}

/// Splits a collecting call's `{"results"|"result": r, "errors": [...]}`.
fn split_collected(r: &Value, start: u64, frame: &str) -> Result<(Value, Vec<(u64, Value)>)> {
    let bad = || {
        Error::type_error(format!(
            "internal error: a collecting call returned {}",
            r.repr()
        ))
    };
    let Value::Map(m) = r else {
        return Err(bad());
    };
    let mut result = Value::Nil;
    let mut errors = Vec::new();
    for (k, v) in m.iter() {
        match (&k.0, v) {
            (Value::Str(k), Value::List(es)) if k.as_str() == "errors" => {
                let es: &[Value] = es;
                for e in es {
                    errors.push(absolute(e, start, frame).ok_or_else(bad)?);
                }
            }
            (Value::Str(_), v) => result = v.clone(),
            _ => return Err(bad()),
        }
    }
    Ok((result, errors))
}

/// One collected failure with its index made absolute and `frame` added to
/// its error's trace.
fn absolute(e: &Value, start: u64, frame: &str) -> Option<(u64, Value)> {
    let Value::Map(m) = e else { return None };
    let mut out = crate::map::Map::with_capacity(3);
    let mut index = None;
    for (k, v) in m.iter() {
        let v = match (&k.0, v) {
            (Value::Str(s), Value::Int(i)) if s.as_str() == "index" => {
                let at = start.checked_add(u64::try_from(*i).ok()?)?;
                index = Some(at);
                Value::Int(i64::try_from(at).ok()?)
            }
            (Value::Str(s), Value::Error(err)) if s.as_str() == "error" => {
                let mut err = Error(err.clone());
                err.push_trace(frame.to_string());
                err.into_value()
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Some((index?, Value::map(out)))
}

/// The trace frame naming where a chunk ran.
pub fn rank_frame(rank: usize, host: &str) -> String {
    format!("at <rank {rank} on {host}>")
}

/// The call being served.
enum Current {
    None,
    Ready {
        call: u64,
        depth: u32,
        spec: Spec,
        /// The call's `init` slot (states kept until the call ends).
        _lease: Option<Lease>,
    },
    /// Its `Call` could not be decoded: every chunk fails with this.
    Broken {
        call: u64,
        error: Error,
    },
}

/// Serves until `Shutdown` (answered with `Bye`) or until the link closes;
/// returns how many chunks this rank ran. An error message if rank 0 sent
/// something this rank cannot make sense of (other than a `Call`, which
/// fails its chunks instead).
pub fn serve(link: &Link, prog: &Program) -> std::result::Result<usize, String> {
    let mut current = Current::None;
    let mut ran = 0;
    while let Some(env) = link.recv() {
        let msg = match decode(prog, &env.bytes) {
            Ok(m) => m,
            Err(e) => match call_id(&env.bytes) {
                Some(call) => {
                    current = Current::Broken {
                        call,
                        error: Error::new(
                            ErrorKind::Error,
                            format!(
                                "rank {} could not read the function sent by rank 0 ({e})",
                                link.rank
                            ),
                        ),
                    };
                    continue;
                }
                None => return Err(format!("rank {}: {e}", link.rank)),
            },
        };
        match msg {
            Msg::Call {
                call,
                kind,
                depth,
                f,
                extra,
                opts,
                snapshot,
            } => {
                // Free the previous call's `init` states first.
                drop(std::mem::replace(&mut current, Current::None));
                current = match install(prog, snapshot) {
                    Ok(()) => {
                        let (opts, lease) = lease(&opts);
                        let opts = inline_opts(kind, opts);
                        Current::Ready {
                            call,
                            depth,
                            spec: Spec {
                                kind,
                                f,
                                extra,
                                opts,
                            },
                            _lease: lease,
                        }
                    }
                    Err(why) => Current::Broken {
                        call,
                        error: Error::new(ErrorKind::Error, format!("rank {}: {why}", link.rank)),
                    },
                };
            }
            Msg::Chunk {
                call,
                seq,
                start,
                items,
            } => {
                let reply = match &current {
                    Current::Ready {
                        call: c,
                        depth,
                        spec,
                        ..
                    } if *c == call => {
                        ran += 1;
                        let queued = env.at.elapsed();
                        run_chunk(link, call, seq, start, *depth, spec, &items, queued)
                    }
                    Current::Broken { call: c, error } if *c == call => Msg::Failed {
                        call,
                        seq,
                        error: error.clone().into_value(),
                    },
                    _ => Msg::Failed {
                        call,
                        seq,
                        error: Error::new(
                            ErrorKind::Error,
                            format!(
                                "internal error: rank {} got a chunk of an unknown call",
                                link.rank
                            ),
                        )
                        .into_value(),
                    },
                };
                send(link, prog, reply, start);
            }
            Msg::End { call } => {
                if matches!(current, Current::Ready { call: c, .. } | Current::Broken { call: c, .. } if c == call)
                {
                    current = Current::None;
                }
            }
            // Acted on when it arrived (the watch).
            Msg::Stop { .. } => {}
            Msg::Shutdown { stats } => {
                let stats = if stats { rank_report() } else { String::new() };
                send(link, prog, Msg::Bye { stats }, 0);
                return Ok(ran);
            }
            other => {
                return Err(format!(
                    "rank {}: unexpected message from rank {}: {other:?}",
                    link.rank, env.from
                ))
            }
        }
    }
    Ok(ran)
}

/// This rank's `weft --stats` tables, for rank 0 to print: its pool's
/// table and its parallel call sites (each chunk it ran is one local call).
pub fn rank_report() -> String {
    let s = crate::runtime::stats();
    let mut out = if s.started {
        crate::runtime::stats_table(&s)
    } else {
        "weft pool statistics: the thread pool was not started\n".to_string()
    };
    out += &crate::stdlib::parallel::stats_report();
    out
}

/// The call number of an (undecodable) `Call` message.
fn call_id(bytes: &[u8]) -> Option<u64> {
    let mut r = super::wire::Reader::new(bytes);
    (r.u8().ok()? == super::message::tags::CALL)
        .then(|| r.varint().ok())
        .flatten()
}

/// Sends `msg` to rank 0; a reply that cannot be encoded (a result holding
/// a handle, say) becomes a `Failed` saying why (`start`: the chunk's
/// first index, to name the item).
fn send(link: &Link, prog: &Program, msg: Msg, start: u64) {
    let bytes = match encode(prog, &msg) {
        Ok(b) => b,
        Err(_) => {
            let fallback = unsendable(link, prog, &msg, start);
            match encode(prog, &fallback) {
                Ok(b) => b,
                Err(_) => return,
            }
        }
    };
    link.send(0, bytes);
}

/// The `Failed` replacing a reply that cannot cross.
#[cold]
fn unsendable(link: &Link, prog: &Program, msg: &Msg, start: u64) -> Msg {
    match msg {
        Msg::Done {
            call,
            seq,
            result: Outcome::Map(Value::List(xs)),
            ..
        } => {
            let xs: &[Value] = xs;
            let mut message = String::from("a result cannot cross ranks");
            for (i, x) in xs.iter().enumerate() {
                let label = format!("the result of item {}", start + i as u64);
                if let Some((path, what)) = find_refusal(prog, x, &label) {
                    message = format!(
                        "parallel_map() under --mpi: {path} {}; \
                         tasks, channels and atoms cannot cross ranks",
                        what.describe()
                    );
                    break;
                }
            }
            let mut e = Error::type_error(message);
            e.push_trace(rank_frame(link.rank, &link.host));
            Msg::Failed {
                call: *call,
                seq: *seq,
                error: e.into_value(),
            }
        }
        Msg::Failed { call, seq, error } => {
            // The thrown value holds a handle: keep kind, message, trace.
            let e = match error {
                Value::Error(e) => {
                    let mut plain = Error::new(e.kind, e.message.clone());
                    for t in &e.trace {
                        plain.push_trace(t.clone());
                    }
                    plain
                }
                _ => Error::new(ErrorKind::Error, "an error that cannot cross ranks"),
            };
            Msg::Failed {
                call: *call,
                seq: *seq,
                error: e.into_value(),
            }
        }
        Msg::Done { call, seq, .. } => {
            let mut e = Error::type_error(
                "under --mpi: a result or a collected error holds a task, channel or atom; \
                 they cannot cross ranks",
            );
            e.push_trace(rank_frame(link.rank, &link.host));
            Msg::Failed {
                call: *call,
                seq: *seq,
                error: e.into_value(),
            }
        }
        other => Msg::Failed {
            call: 0,
            seq: 0,
            error: Error::new(
                ErrorKind::Error,
                format!("internal error: cannot encode {other:?}"),
            )
            .into_value(),
        },
    }
}

/// Runs one chunk and makes its reply.
#[allow(clippy::too_many_arguments)]
fn run_chunk(
    link: &Link,
    call: u64,
    seq: u32,
    start: u64,
    depth: u32,
    spec: &Spec,
    items: &Value,
    queued: std::time::Duration,
) -> Msg {
    let Some(flag) = link.watch.begin(call, start) else {
        return Msg::Skipped { call, seq };
    };
    let t0 = Instant::now();
    let frame = rank_frame(link.rank, &link.host);
    let r = with_vm(|vm| {
        let old_flag = vm.set_cancel_flag(Some(flag.clone()));
        let old_max = vm.max_depth();
        vm.set_max_depth(depth as usize);
        let r = run_local(vm, spec, items, start, &frame);
        vm.set_max_depth(old_max);
        vm.set_cancel_flag(old_flag);
        r
    });
    let elapsed_ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    link.watch.end();
    match r {
        Ok((result, errors)) => Msg::Done {
            call,
            seq,
            elapsed_ns,
            queued_ns: u64::try_from(queued.as_nanos()).unwrap_or(u64::MAX),
            result,
            errors,
        },
        Err(_) if flag.load(Ordering::Relaxed) => Msg::Skipped { call, seq },
        Err(mut e) => {
            e.push_trace(frame);
            Msg::Failed {
                call,
                seq,
                error: e.into_value(),
            }
        }
    }
}

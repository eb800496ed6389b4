//! The module variables a function may read, sent with it.
//!
//! Only rank 0 runs the script's top-level code; the other ranks only
//! compiled it, so their module variables are unset. A call therefore
//! carries a snapshot: the value of every module variable that the
//! function — or any function reachable from it, from the items, or from
//! the snapshot itself — may read ([`Program::reads`]). Functions cannot
//! assign module variables, and the top-level code that can is waiting in
//! the parallel call, so the snapshot is exact for the whole call.
//!
//! A variable written once (a `fn`, most `let`s: a write-once slot) never
//! changes after it is set, so it is sent in the first call that needs it
//! and skipped afterwards ([`SentOnce`]); the functions inside its value
//! are remembered, so the variables *they* read are still looked at in
//! every call. Variables the top-level code reassigns are sent every time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::codec::{find_refusal, scan, Encoder};
use super::message::{begin_call, call_args, snapshot_entry};
use super::program::Program;
use super::service::Spec;
use crate::bytecode::{Proto, Slot};
use crate::error::{Error, Result};
use crate::value::Value;

/// What rank 0 remembers between calls about write-once variables,
/// whose values never change once set: which were checked (and the
/// functions found in them), and which every rank already has.
#[derive(Debug, Default)]
pub struct Cache {
    checked: HashMap<(u32, u16), Arc<[&'static Proto]>>,
    sent: HashSet<(u32, u16)>,
}

/// The module variables a call carries, checked: (module, slot, value,
/// written once).
#[derive(Debug, Default)]
pub struct Plan {
    entries: Vec<(u32, u16, Value, bool)>,
}

impl Plan {
    /// How many variables the call carries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it carries none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn addr<T: ?Sized>(p: &T) -> usize {
    p as *const T as *const u8 as usize
}

/// The message-naming of module variable `slot` of module `m`.
pub fn variable_label(prog: &Program, m: u32, slot: u16) -> String {
    let module = &prog.modules()[m as usize];
    let name = module
        .env
        .names
        .get(slot as usize)
        .map_or("?", |n| n.as_ref());
    if m == 0 {
        format!("module variable '{name}'")
    } else {
        format!("module variable '{name}' of {}", module.name)
    }
}

/// The `TypeError` for a value that cannot cross ranks, found under
/// `label` inside `root`.
#[cold]
pub fn refused(prog: &Program, func: &str, root: &Value, label: &str) -> Error {
    let (path, what) = find_refusal(prog, root, label)
        .unwrap_or_else(|| (label.to_string(), super::codec::Refusal::Handle("handle")));
    Error::type_error(format!(
        "{func}() under --mpi: {path} {}; tasks, channels and atoms cannot cross ranks",
        what.describe()
    ))
}

/// The `TypeError` for a function that cannot be sent, naming the capture
/// that holds the handle (`captured 'cache'[2] is an atom`).
#[cold]
pub fn refused_function(prog: &Program, func: &str, f: &Value) -> Error {
    if let Value::Func(c) = f {
        if prog.id_of(c.proto).is_some() {
            for (i, x) in c.captures.iter().enumerate() {
                let name = c.proto.capture_names.get(i).map_or("?", |n| n);
                let label = format!("captured '{name}'");
                if find_refusal(prog, x, &label).is_some() {
                    return refused(prog, func, x, &label);
                }
            }
        }
    }
    refused(prog, func, f, "the function")
}

/// Finds and checks every module variable a call of a function may read,
/// starting from `seeds` (the functions in the function value and in the
/// items): a `TypeError` naming the variable and the path if one holds a
/// handle. Nothing is encoded.
pub fn plan(
    prog: &Program,
    cache: &mut Cache,
    func: &str,
    seeds: Vec<&'static Proto>,
) -> Result<Plan> {
    let mut pending = seeds;
    let mut visited: HashSet<usize> = HashSet::new();
    let mut included: HashSet<(u32, u16)> = HashSet::new();
    let mut plan = Plan::default();
    while let Some(p) = pending.pop() {
        if !visited.insert(addr(p)) {
            continue;
        }
        let Some(id) = prog.id_of(p) else { continue };
        let env = &prog.modules()[id.module as usize].env;
        for &slot in prog.reads(p).iter() {
            let key = (id.module, slot);
            if !included.insert(key) {
                continue;
            }
            let Some(cell) = env.slots.get(slot as usize) else {
                continue;
            };
            // Unset (its `let` has not run yet): left unset on the other
            // ranks too, so reading it is the same `NameError` there.
            let Some(v) = cell.get() else { continue };
            let once = matches!(**cell, Slot::Once(_));
            match cache.checked.get(&key).filter(|_| once) {
                Some(protos) => pending.extend(protos.iter().copied()),
                None => {
                    let mut inside = Vec::new();
                    if scan(prog, &v, &mut inside, &mut HashSet::new()).is_err() {
                        return Err(refused(
                            prog,
                            func,
                            &v,
                            &variable_label(prog, id.module, slot),
                        ));
                    }
                    pending.extend(inside.iter().copied());
                    if once {
                        cache.checked.insert(key, inside.into());
                    }
                }
            }
            plan.entries.push((id.module, slot, v, once));
        }
    }
    Ok(plan)
}

/// Encodes the `Call` message: header, function, the planned variables
/// (those written once only the first time), end marker. Records the
/// write-once ones as sent: the caller sends the message to every rank.
pub fn encode_call(
    prog: &Program,
    cache: &mut Cache,
    plan: &Plan,
    call: u64,
    depth: u32,
    spec: &Spec,
) -> Result<Vec<u8>> {
    let (kind, f, extra, opts) = (spec.kind, &spec.f, &spec.extra[..], &spec.opts);
    let func = kind.name();
    let mut e = Encoder::new(prog);
    begin_call(&mut e.w, call, kind, depth);
    if e.value(f).is_err() {
        return Err(refused_function(prog, func, f));
    }
    // Checked with the function before the call (`scan`): a refusal here
    // names the argument.
    if call_args(&mut e, extra, opts).is_err() {
        let args = Value::list(extra.iter().cloned().chain([opts.clone()]).collect());
        return Err(refused(prog, func, &args, "the arguments"));
    }
    let mut sent_now = Vec::new();
    for (m, slot, v, once) in &plan.entries {
        if *once && cache.sent.contains(&(*m, *slot)) {
            continue;
        }
        snapshot_entry(&mut e.w, *m, *slot);
        if e.value(v).is_err() {
            return Err(refused(prog, func, v, &variable_label(prog, *m, *slot)));
        }
        if *once {
            sent_now.push((*m, *slot));
        }
    }
    e.w.u8(0);
    let bytes = e.into_bytes();
    check_size(func, bytes.len())?;
    cache.sent.extend(sent_now);
    Ok(bytes)
}

/// MPI counts bytes in a C `int`: one message holds at most 2 GiB.
pub fn check_size(func: &str, len: usize) -> Result<()> {
    if len > i32::MAX as usize {
        return Err(Error::value_error(format!(
            "{func}() under --mpi: a message of {len} bytes is over MPI's 2 GiB limit \
             (use a smaller chunk_size, or send less data with the function)"
        )));
    }
    Ok(())
}

/// Sets the module variables of a received snapshot (on a rank that
/// serves).
pub fn install(
    prog: &Program,
    snapshot: Vec<(u32, u16, Value)>,
) -> std::result::Result<(), String> {
    for (m, s, v) in snapshot {
        let slot = prog
            .modules()
            .get(m as usize)
            .and_then(|module| module.env.slots.get(s as usize))
            .ok_or_else(|| {
                format!("snapshot names variable {s} of module {m}, which does not exist")
            })?;
        slot.set(v);
    }
    Ok(())
}

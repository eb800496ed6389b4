//! Start-up: every rank compiled the script; rank 0 checks that they all
//! compiled the same program before anything runs.
//!
//! Every other rank sends rank 0 a `Hello` (its program's fingerprint or
//! its compile error, its worker count, its host) and waits for the
//! `Verdict`. Rank 0 waits for every `Hello`, compares, and sends every
//! rank the same verdict: 0 to go on, else the status every rank exits
//! with — 2 when a rank runs a different program (the message names each
//! such rank), 1 when rank 0's own script does not compile (rank 0 prints
//! the compile error, as without MPI). Only rank 0 prints.

use super::executor::RankInfo;
use super::link::Link;
use super::message::{decode, encode, Hello, Msg};
use super::program::Program;
use crate::interp::{EXIT_FAILURE, EXIT_USAGE};

/// What rank 0 decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every rank runs the same program: go on. Each rank's details.
    Go(Vec<(u32, String)>),
    /// Every rank exits with `code`; `message` (if any) is for rank 0 to
    /// print.
    Stop {
        /// The exit status.
        code: i32,
        /// What went wrong, one line per rank at fault.
        message: Option<String>,
    },
}

impl Verdict {
    /// The ranks' details for the executor, when going on.
    pub fn ranks(&self) -> Vec<RankInfo> {
        match self {
            Verdict::Go(r) => r
                .iter()
                .map(|(workers, host)| RankInfo {
                    workers: *workers,
                    host: host.clone(),
                })
                .collect(),
            Verdict::Stop { .. } => Vec::new(),
        }
    }
}

fn send(link: &Link, to: usize, msg: &Msg) {
    // Start-up messages hold no values: encoding cannot be refused.
    if let Ok(bytes) = encode(&Program::empty(), msg) {
        link.send(to, bytes);
    }
}

/// Rank 0's side: gathers every `Hello`, compares with `own`, tells every
/// rank the verdict. `own_failure`: the status when rank 0's own script
/// could not be compiled (1; 2 when the file cannot be opened).
pub fn lead(link: &Link, own: &Hello, own_failure: i32) -> Verdict {
    let empty = Program::empty();
    let mut hellos: Vec<Option<Hello>> = vec![None; link.size];
    hellos[0] = Some(own.clone());
    let mut problems = Vec::new();
    let mut missing = link.size - 1;
    while missing > 0 {
        let Some(env) = link.recv() else {
            problems.push(
                "weft --mpi: the connection to the other ranks closed during start-up".to_string(),
            );
            break;
        };
        match decode(&empty, &env.bytes) {
            Ok(Msg::Hello(h)) if env.from < link.size && hellos[env.from].is_none() => {
                hellos[env.from] = Some(h);
                missing -= 1;
            }
            other => problems.push(format!(
                "weft --mpi: rank {} sent an unexpected start-up message: {other:?}",
                env.from
            )),
        }
    }
    let verdict = match &own.program {
        Err(_) => Verdict::Stop {
            code: own_failure,
            message: None,
        },
        Ok(fp) => {
            for (r, h) in hellos.iter().enumerate().skip(1) {
                let Some(h) = h else { continue };
                match &h.program {
                    Ok(theirs) if theirs == fp => {}
                    Ok(theirs) => problems.push(format!(
                        "weft --mpi: rank {r} (on {}) compiled a different program than rank 0 \
                         (fingerprint {theirs:016x}, rank 0 has {fp:016x}): every rank must run \
                         the same script, with the same imports and the same weft",
                        h.host
                    )),
                    Err(why) => problems.push(format!(
                        "weft --mpi: rank {r} (on {}) could not compile the script: {why}",
                        h.host
                    )),
                }
            }
            if problems.is_empty() {
                Verdict::Go(
                    hellos
                        .iter()
                        .map(|h| {
                            h.as_ref()
                                .map_or((1, String::new()), |h| (h.workers, h.host.clone()))
                        })
                        .collect(),
                )
            } else {
                Verdict::Stop {
                    code: EXIT_USAGE,
                    message: Some(problems.join("\n")),
                }
            }
        }
    };
    let code = match &verdict {
        Verdict::Go(_) => 0,
        Verdict::Stop { code, .. } => *code,
    };
    for r in 1..link.size {
        send(link, r, &Msg::Verdict { code });
    }
    verdict
}

/// Any other rank's side: says hello, returns the verdict's status (0: go
/// on).
pub fn follow(link: &Link, own: &Hello) -> i32 {
    send(link, 0, &Msg::Hello(own.clone()));
    let empty = Program::empty();
    loop {
        let Some(env) = link.recv() else {
            return EXIT_FAILURE;
        };
        if let Ok(Msg::Verdict { code }) = decode(&empty, &env.bytes) {
            return code;
        }
    }
}

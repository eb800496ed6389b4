//! What `weft --mpi` runs on every rank (the `mpi` feature).
//!
//! 1. [`start`]: MPI is initialised on its own thread ([`super::comm`]);
//!    the rank learns its number, the job's size, its host, and how many
//!    ranks on its host share its CPUs (to size its pool: [`Session::suggested_workers`]).
//! 2. [`Session::run`]: every rank compiles the script; the handshake
//!    ([`super::handshake`]) checks that all compiled the same program;
//!    then rank 0 runs the script, with its parallel calls distributed
//!    ([`super::install`]), while every other rank serves
//!    ([`super::service`]) until rank 0 says `Shutdown`.
//! 3. The end ([`at_exit`], also reached through `exit(n)`): rank 0 sends
//!    `Shutdown`, waits for every `Bye`, and every rank finalises MPI, so
//!    `mpirun` returns rank 0's status. `exit(n)` inside an item running
//!    on another rank ends the whole job with status `n` (`MPI_Abort`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::comm::{self, Comm, Info};
use super::executor::Context;
use super::handshake::{follow, lead, Verdict};
use super::link::Link;
use super::message::{decode, encode, Hello, Msg};
use super::program::Program;
use super::service::serve;
use crate::interp::{render_runtime_error, Script, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// How long rank 0 waits at the end for the other ranks' `Bye` before it
/// aborts the job (a rank stuck in a long native call, say).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Clone, Debug)]
pub enum Source {
    /// A script file.
    File(PathBuf),
    /// `-e CODE`.
    Eval(String),
}

/// The process-wide MPI state.
struct Global {
    comm: Mutex<Comm>,
    rank: usize,
    size: usize,
    /// A rank other than 0 is inside its serving loop.
    serving: AtomicBool,
    /// MPI was shut down.
    finished: AtomicBool,
}

static GLOBAL: OnceLock<Global> = OnceLock::new();

/// A rank of the job, MPI initialised.
#[derive(Debug)]
pub struct Session {
    info: Info,
    link: Link,
}

/// Initialises MPI (on its own thread).
pub fn start() -> Result<Session, String> {
    let (info, link, comm) = comm::start()?;
    let global = Global {
        comm: Mutex::new(comm),
        rank: info.rank,
        size: info.size,
        serving: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    };
    if GLOBAL.set(global).is_err() {
        return Err("MPI was started twice".into());
    }
    Ok(Session { info, link })
}

impl Session {
    /// This rank's number.
    pub fn rank(&self) -> usize {
        self.info.rank
    }

    /// How many ranks.
    pub fn size(&self) -> usize {
        self.info.size
    }

    /// The pool size for `worker_count = auto`: the CPUs this rank may
    /// use, divided among the ranks of this host that may use the same
    /// ones (under `mpirun --bind-to none` every rank may use every CPU).
    pub fn suggested_workers(&self) -> usize {
        (crate::pool::available_cpus() / self.info.sharing.max(1)).max(1)
    }

    /// Ends the job early with `code` on every rank (a configuration
    /// error, found by every rank before anything ran).
    pub fn abort(self, code: i32) -> ! {
        match GLOBAL.get() {
            Some(g) => g.comm.lock().abort(code),
            None => std::process::exit(code),
        }
    }

    /// Compiles `source`, checks that every rank has the same program,
    /// then runs it (rank 0) or serves (the others). Returns this rank's
    /// exit status; MPI is finalised on return.
    pub fn run(self, source: Source, args: Vec<String>) -> i32 {
        crate::stdlib::set_script_args(args);
        let (compiled, fail_code) = compile(&source);
        let hello = Hello {
            program: match &compiled {
                Ok((_, prog)) => Ok(prog.fingerprint()),
                Err(message) => Err(message.lines().next().unwrap_or("").to_string()),
            },
            workers: u32::try_from(crate::runtime::config().resolved_worker_count())
                .unwrap_or(u32::MAX),
            host: self.info.host.clone(),
        };
        if self.info.rank != 0 {
            return self.serve(compiled, &hello);
        }
        let verdict = lead(&self.link, &hello, fail_code);
        let ranks = verdict.ranks();
        let script = match (verdict, compiled) {
            (Verdict::Go(_), Ok((script, prog))) => {
                if self.info.size > 1 {
                    let _ = super::install(Context::new(Arc::new(prog), self.link, ranks));
                }
                script
            }
            (Verdict::Stop { code, message }, compiled) => {
                match (message, compiled) {
                    (Some(m), _) | (None, Err(m)) => eprintln!("{m}"),
                    (None, Ok(_)) => {}
                }
                // The other ranks got the verdict and are finishing too.
                finish_other();
                return code;
            }
            (Verdict::Go(_), Err(m)) => {
                // Not reached: rank 0's own compile error stops everyone.
                eprintln!("{m}");
                finish_other();
                return fail_code;
            }
        };
        let code = run_script(script);
        shutdown(code);
        code
    }

    /// A rank other than 0: handshake, then serve until `Shutdown`.
    fn serve(self, compiled: Result<(Script, Program), String>, hello: &Hello) -> i32 {
        let code = follow(&self.link, hello);
        let prog = match compiled {
            Ok((_, prog)) if code == 0 => prog,
            _ => {
                finish_other();
                return if code == 0 { EXIT_FAILURE } else { code };
            }
        };
        let g = GLOBAL.get().expect("MPI was started");
        g.serving.store(true, Ordering::SeqCst);
        let r = serve(&self.link, &prog);
        g.serving.store(false, Ordering::SeqCst);
        match r {
            Ok(_) => {
                finish_other();
                EXIT_OK
            }
            Err(why) => {
                eprintln!("weft --mpi: {why}");
                g.comm.lock().abort(EXIT_FAILURE)
            }
        }
    }
}

/// Compiles the script: the script and its program table, or the message
/// to print and the status to exit with.
fn compile(source: &Source) -> (Result<(Script, Program), String>, i32) {
    let compiled = match source {
        Source::File(path) => {
            match std::fs::metadata(path) {
                Ok(m) if !m.is_dir() => {}
                Ok(_) => {
                    return (
                        Err(format!(
                            "weft: cannot open '{}': is a directory",
                            path.display()
                        )),
                        EXIT_USAGE,
                    )
                }
                Err(e) => {
                    return (
                        Err(format!("weft: cannot open '{}': {e}", path.display())),
                        EXIT_USAGE,
                    )
                }
            }
            Script::compile_file(path)
        }
        Source::Eval(code) => Script::compile("<eval>", code),
    };
    match compiled {
        Ok(script) => {
            let prog = Program::new(script.main_proto());
            (Ok((script, prog)), EXIT_FAILURE)
        }
        Err(e) => (Err(e.render()), EXIT_FAILURE),
    }
}

/// Runs the script on rank 0, as `weft FILE` does.
fn run_script(mut script: Script) -> i32 {
    let r = script.run();
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    match r {
        Ok(_) => EXIT_OK,
        Err(e) => {
            eprintln!("{}", render_runtime_error(&e));
            EXIT_FAILURE
        }
    }
}

/// Rank 0: tells every rank to stop, waits for them, finalises MPI.
fn shutdown(code: i32) {
    let Some(g) = GLOBAL.get() else { return };
    if g.finished.swap(true, Ordering::SeqCst) {
        return;
    }
    let stats = crate::runtime::options().stats;
    let mut comm = g.comm.lock();
    if let Ok(bytes) = encode(&Program::empty(), &Msg::Shutdown { stats }) {
        for r in 1..g.size {
            comm.send(r, bytes.clone());
        }
    }
    comm.finish(Instant::now() + SHUTDOWN_GRACE, code);
    if stats {
        eprint!("{}", stats_report());
    }
}

/// Rank 0's `--stats` report, once every other rank said `Bye`: the
/// distributed calls' table, then each other rank's tables (sent in its
/// `Bye`) under a line naming the rank, then the line naming rank 0, whose
/// own tables [`crate::runtime::finish`] prints next.
fn stats_report() -> String {
    let Some(ctx) = super::context() else {
        return String::new();
    };
    let mut out = ctx.stats().table();
    let mut reports: Vec<(usize, String)> = Vec::new();
    while let Ok(env) = ctx.link().try_recv() {
        if let Ok(Msg::Bye { stats }) = decode(ctx.program(), &env.bytes) {
            reports.push((env.from, stats));
        }
    }
    reports.sort_by_key(|(r, _)| *r);
    for (r, report) in reports {
        out += &rank_label(ctx, r);
        out += &report;
    }
    out += &rank_label(ctx, 0);
    out
}

/// The line above a rank's `--stats` tables.
fn rank_label(ctx: &Context, rank: usize) -> String {
    let host = ctx.rank_info(rank).map_or("?", |i| i.host.as_str());
    format!("--- rank {rank} on {host} ---\n")
}

/// Another rank at its end, or rank 0 when the job stops at start-up (no
/// rank serves): finishes the sends in progress and finalises MPI.
fn finish_other() {
    let Some(g) = GLOBAL.get() else { return };
    if g.finished.swap(true, Ordering::SeqCst) {
        return;
    }
    g.comm
        .lock()
        .finish(Instant::now() + SHUTDOWN_GRACE, EXIT_FAILURE);
}

/// What a rank other than 0 does at the very end instead of
/// [`crate::runtime::finish`]: its `--stats` tables went to rank 0 in its
/// `Bye` (rank 0 prints them under the rank's number) and `--trace` is rank
/// 0's file; only the warnings for failed tasks nobody awaited are left.
pub fn finish_serving_rank() {
    for warning in crate::stdlib::task_registry::unawaited_report() {
        eprintln!("{warning}");
    }
}

/// The end of the process with status `code` (`exit(n)`, see
/// [`super::at_exit`]).
pub fn at_exit(code: i32) {
    let Some(g) = GLOBAL.get() else { return };
    if g.rank == 0 {
        shutdown(code);
    } else if g.serving.load(Ordering::SeqCst) {
        // `exit(n)` in an item on this rank: the job ends with `n`.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        g.comm.lock().abort(code);
    } else {
        finish_other();
    }
}

//! The built-in module `os` (STDLIB.md): `getenv env cwd run`.
//!
//! # `os.run(argv, opts?)`
//! Runs a program with `std::process::Command` (no shell) and waits for
//! it. The wait is one loop on the calling thread, inside
//! [`crate::pool::blocking`] (a worker waiting for a child is replaced by a
//! spare, so many `os.run` calls from tasks or `parallel_map` items run at
//! once without starving the pool), around `poll(2)` on:
//! - the child's stdout and stderr pipes (read as they fill, so a child
//!   writing more than a pipe holds never blocks);
//! - its stdin pipe, non-blocking, when `stdin` is given (written as the
//!   child reads; a child that exits without reading it is fine);
//! - a pidfd (`pidfd_open`), readable once the child exits (where the
//!   kernel has no pidfd, the loop wakes every 10 ms to ask `waitid` with
//!   `WNOHANG | WNOWAIT` instead);
//! - a wake pipe written by the task's cancel callback.
//!
//! The poll's timeout is the `timeout` option's deadline: when it passes,
//! the child is killed (SIGKILL), reaped, and `os.run` throws `Timeout`.
//! Cancelling the task (`t.cancel()`, a `within` deadline, Ctrl-C) runs
//! the callback registered with [`CancelToken::on_cancel`]: it kills the
//! child and writes the wake pipe; the loop reaps the child and throws
//! `Cancelled`.
//!
//! Killing by pid is safe from pid reuse: the child is reaped only by this
//! loop, after it has seen the exit (pidfd or `WNOWAIT`, which leave the
//! zombie in place), and only after setting `reaped` under the mutex the
//! killer takes; until then the pid still names our zombie or our child.
//!
//! # Decisions (STDLIB.md is silent; Python's `subprocess.run` unless noted)
//! - `status` is the exit code, or minus the signal number for a child
//!   killed by a signal (Python's `returncode`).
//! - stdout and stderr are decoded as UTF-8, with U+FFFD for invalid bytes.
//! - `stdin`: a string, written then closed; without it the child's stdin
//!   is empty (`/dev/null`, not the script's own input).
//! - `env`: a map of strings added to (overriding) the environment.
//!   `cwd`: the child's working directory.
//! - `timeout`: seconds (int or float, ≥ 0); `nil` means none. The output
//!   read so far is dropped with the killed child.
//! - A program that cannot be started (missing, not executable, bad `cwd`)
//!   is an `IOError` naming it: `os.run(): cannot run "nope": No such file
//!   or directory`. A non-zero status is not an error.
//! - After the child exits, its pipes are read to their end: a grandchild
//!   that keeps them open keeps `os.run` waiting (as Python and Go), within
//!   `timeout` if one is given.
//!
//! # Other functions
//! `getenv(name, default?)` (`default` defaults to `nil`), `env()` (a map
//! of every variable, sorted by name; variables that are not UTF-8 are
//! skipped), `cwd()` (`IOError` if it was removed).

use super::args::{self, arity};
use super::data::{self, Options};
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{self, CancelToken};
use crate::value::{Key, Map, NativeFn, Value};
use crate::vm::Vm;
use parking_lot::Mutex;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "getenv",
        f: getenv,
    },
    NativeFn {
        name: "env",
        f: env,
    },
    NativeFn {
        name: "cwd",
        f: cwd,
    },
    NativeFn {
        name: "run",
        f: run,
    },
];

/// The module value `os`.
pub(crate) fn make_module() -> Value {
    data::module("os", FUNCTIONS)
}

fn getenv(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("os.getenv", args, 1, 2)?;
    let name = args::string("os.getenv", "name", &args[0])?;
    Ok(match std::env::var_os(name) {
        Some(v) => Value::str(v.to_string_lossy()),
        None => args.get(1).cloned().unwrap_or(Value::Nil),
    })
}

fn env(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("os.env", args, 0, 0)?;
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    vars.sort();
    let mut m = Map::with_capacity(vars.len());
    for (k, v) in vars {
        m.insert(Key::str(&k), Value::str(v));
    }
    Ok(Value::map(m))
}

fn cwd(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("os.cwd", args, 0, 0)?;
    let dir = std::env::current_dir().map_err(|e| {
        Error::new(
            ErrorKind::IOError,
            format!(
                "os.cwd(): cannot get the working directory: {}",
                super::io::os_reason(&e)
            ),
        )
    })?;
    Ok(Value::str(dir.to_string_lossy()))
}

// ---------------------------------------------------------------------------
// os.run

/// What `os.run` was asked to do.
struct Job<'a> {
    argv: Vec<&'a str>,
    stdin: Option<&'a str>,
    cwd: Option<&'a str>,
    env: Vec<(&'a str, &'a str)>,
    timeout: Option<Duration>,
}

fn job<'a>(args: &'a [Value]) -> Result<Job<'a>> {
    const FUNC: &str = "os.run";
    let argv = data::string_list(FUNC, "argv", &args[0])?;
    if argv.is_empty() {
        return Err(Error::value_error(
            "os.run() argv must name a program (it is empty)",
        ));
    }
    let o = Options::new(FUNC, args.get(1), &["stdin", "cwd", "env", "timeout"])?;
    let mut env = Vec::new();
    match o.get("env") {
        None => {}
        Some(Value::Map(m)) => {
            for (k, v) in m.iter() {
                match (&k.0, v) {
                    (Value::Str(k), Value::Str(v)) => env.push((k.as_str(), v.as_str())),
                    _ => {
                        return Err(Error::type_error(format!(
                        "os.run() option 'env' must map strings to strings (the key {} holds {})",
                        k.0.repr(),
                        args::article(v.type_name())
                    )))
                    }
                }
            }
        }
        Some(other) => return Err(o.type_error("env", "a map", other)),
    }
    let timeout = match o.get("timeout") {
        None => None,
        Some(v @ (Value::Int(_) | Value::Float(_))) => Some(super::system::duration(FUNC, v)?),
        Some(other) => return Err(o.type_error("timeout", "a number", other)),
    };
    Ok(Job {
        argv,
        stdin: o.string("stdin")?,
        cwd: o.string("cwd")?,
        env,
        timeout,
    })
}

/// `os.run(argv, opts?)`.
fn run(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("os.run", args, 1, 2)?;
    let job = job(args)?;
    if pool::is_cancelled() {
        return Err(cancelled());
    }
    let mut cmd = Command::new(job.argv[0]);
    cmd.args(&job.argv[1..])
        .stdin(if job.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(job.env.iter().copied());
    if let Some(dir) = job.cwd {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().map_err(|e| {
        let place = match job.cwd {
            Some(dir) => format!(" in {}", Value::str(dir).repr()),
            None => String::new(),
        };
        Error::new(
            ErrorKind::IOError,
            format!(
                "os.run(): cannot run {}{place}: {}",
                Value::str(job.argv[0]).repr(),
                super::io::os_reason(&e)
            ),
        )
    })?;
    let deadline = job.timeout.and_then(|t| Instant::now().checked_add(t));
    let token = pool::current_cancel_token();
    // The runtime cannot see the child: while it runs, a script waiting
    // for the task that waits for it is not deadlocked.
    let pending = crate::runtime::outside_work();
    let out = pool::blocking(|| wait(child, job.stdin, deadline, token.as_ref()));
    drop(pending);
    let out = out.map_err(|e| io_failure(job.argv[0], &e))?;
    match out {
        Outcome::Done {
            status,
            stdout,
            stderr,
        } => {
            let mut m = Map::with_capacity(3);
            m.insert(Key::str("status"), Value::Int(status_code(status)));
            m.insert(
                Key::str("stdout"),
                Value::str(String::from_utf8_lossy(&stdout)),
            );
            m.insert(
                Key::str("stderr"),
                Value::str(String::from_utf8_lossy(&stderr)),
            );
            Ok(Value::map(m))
        }
        Outcome::TimedOut => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "os.run(): {} did not finish within {} s and was killed",
                Value::str(job.argv[0]).repr(),
                crate::value::format_float(job.timeout.unwrap_or_default().as_secs_f64())
            ),
        )),
        Outcome::Cancelled => Err(cancelled()),
    }
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
}

#[cold]
fn io_failure(program: &str, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::IOError,
        format!(
            "os.run(): waiting for {} failed: {}",
            Value::str(program).repr(),
            super::io::os_reason(e)
        ),
    )
}

fn status_code(s: ExitStatus) -> i64 {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => i64::from(c),
        (None, Some(sig)) => -i64::from(sig),
        (None, None) => -1,
    }
}

/// How the wait ended.
enum Outcome {
    Done {
        status: ExitStatus,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
    },
    TimedOut,
    Cancelled,
}

/// Kills the child from another thread (the cancel callback) without
/// racing with its reaping; wakes the wait loop.
struct Killer {
    pid: libc::pid_t,
    /// Set (under the lock) just before the child is reaped.
    reaped: Mutex<bool>,
    /// Written to wake the wait loop.
    wake: OwnedFd,
}

impl Killer {
    fn kill(&self) {
        let reaped = self.reaped.lock();
        if !*reaped {
            // SAFETY: kill(2) has no memory effects; `pid` is our child or
            // its unreaped zombie while `reaped` is false (see the module
            // docs), so no other process can be signalled.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        drop(reaped);
        let byte = 1u8;
        // SAFETY: writes one byte from a live local to a pipe fd we own;
        // the pipe is non-blocking, so this never waits (a full pipe
        // already holds a wake).
        unsafe {
            libc::write(self.wake.as_raw_fd(), (&byte as *const u8).cast(), 1);
        }
    }
}

/// A pipe whose both ends are close-on-exec and non-blocking.
fn wake_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both fds are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pidfd for `pid` (readable once it exits), if the kernel has them.
fn pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the syscall returned a new open fd that nothing else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether `pid` has exited, without reaping it.
fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: `info` is a zeroed siginfo_t for waitid to fill; WNOWAIT
    // leaves the child waitable.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on an fd we own, reading then setting its status flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How often the loop looks at the child when there is no pidfd.
const EXIT_POLL: Duration = Duration::from_millis(10);

/// Reads what is ready from `pipe` into `buf`; closes it at its end.
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let Some(p) = pipe else { return Ok(()) };
    let mut chunk = [0u8; 64 * 1024];
    match p.read(&mut chunk) {
        Ok(0) => *pipe = None,
        Ok(n) => buf.extend_from_slice(&chunk[..n]),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
            ) => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Waits for `child`: feeds its stdin, collects its output, and kills it
/// on timeout or cancellation.
fn wait(
    mut child: Child,
    input: Option<&str>,
    deadline: Option<Instant>,
    token: Option<&CancelToken>,
) -> std::io::Result<Outcome> {
    let pid = child.id() as libc::pid_t;
    let (wake_r, wake_w) = match wake_pipe() {
        Ok(p) => p,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
    };
    let killer = Arc::new(Killer {
        pid,
        reaped: Mutex::new(false),
        wake: wake_w,
    });
    let _registration = token.map(|t| {
        let k = Arc::clone(&killer);
        t.on_cancel(move || k.kill())
    });
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let mut stdin = child.stdin.take();
    let mut input = input.unwrap_or("").as_bytes();
    if let Some(s) = &stdin {
        set_nonblocking(s.as_raw_fd())?;
    }
    let mut exit_fd = pidfd(pid);
    let has_pidfd = exit_fd.is_some();
    let mut exited = false;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = loop {
        if token.is_some_and(CancelToken::is_cancelled) {
            break Outcome::Cancelled;
        }
        if exited && stdout.is_none() && stderr.is_none() {
            break Outcome::Done {
                status: ExitStatus::default(),
                stdout: std::mem::take(&mut out),
                stderr: std::mem::take(&mut err),
            };
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break Outcome::TimedOut;
        }
        // The fds to watch, and which is which.
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(5);
        let mut watch = |fd: RawFd, events: libc::c_short| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            fds.len() - 1
        };
        let i_wake = watch(wake_r.as_raw_fd(), libc::POLLIN);
        let i_out = stdout.as_ref().map(|p| watch(p.as_raw_fd(), libc::POLLIN));
        let i_err = stderr.as_ref().map(|p| watch(p.as_raw_fd(), libc::POLLIN));
        let i_in = stdin.as_ref().map(|p| watch(p.as_raw_fd(), libc::POLLOUT));
        let i_exit = exit_fd.as_ref().map(|p| watch(p.as_raw_fd(), libc::POLLIN));
        let mut wait_for = deadline.map(|d| d.saturating_duration_since(now));
        if !has_pidfd && !exited {
            wait_for = Some(wait_for.map_or(EXIT_POLL, |w| w.min(EXIT_POLL)));
        }
        let ms = wait_for.map_or(-1, |w| {
            // Round up, so the loop does not spin just before a deadline.
            i32::try_from(w.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
        });
        // SAFETY: `fds` is a valid, exclusively borrowed array of pollfd of
        // the given length, alive for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break_with_kill(&killer, &mut child);
            return Err(e);
        }
        let ready = |i: Option<usize>| i.is_some_and(|i| fds[i].revents != 0);
        if ready(Some(i_wake)) {
            // Only the cancel callback writes the wake pipe.
            break Outcome::Cancelled;
        }
        if ready(i_out) {
            drain(&mut stdout, &mut out)?;
        }
        if ready(i_err) {
            drain(&mut stderr, &mut err)?;
        }
        if ready(i_in) {
            if let Some(pipe) = &mut stdin {
                match pipe.write(input) {
                    Ok(n) => input = &input[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // The child closed its stdin (EPIPE) or cannot take it.
                    Err(_) => input = &[],
                }
            }
            if input.is_empty() {
                stdin = None;
            }
        }
        if ready(i_exit) {
            exited = true;
            exit_fd = None;
        }
        if !has_pidfd && !exited {
            exited = has_exited(pid);
        }
    };
    match result {
        Outcome::Done { stdout, stderr, .. } => {
            *killer.reaped.lock() = true;
            let status = child.wait()?;
            Ok(Outcome::Done {
                status,
                stdout,
                stderr,
            })
        }
        other => {
            break_with_kill(&killer, &mut child);
            Ok(other)
        }
    }
}

/// Kills and reaps the child (on timeout, cancellation or a failed poll).
fn break_with_kill(killer: &Killer, child: &mut Child) {
    let mut reaped = killer.reaped.lock();
    if !*reaped {
        let _ = child.kill();
        *reaped = true;
    }
    drop(reaped);
    let _ = child.wait();
}

#[cfg(test)]
#[path = "test/os.rs"]
mod test;

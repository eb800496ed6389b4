//! The interactive prompt. On a terminal it uses rustyline (line editing,
//! history in `~/.weft_history`); otherwise it reads lines from stdin (the
//! `weft` command runs a non-terminal stdin as a script instead). An input
//! that the parser finds unfinished (an open bracket, a trailing operator)
//! continues on the next line; a multi-line input is one history entry, so
//! Up recalls it whole. Inputs are numbered in messages and traces
//! (`<stdin#3>:2:5`). Non-nil values of expressions are printed in their
//! `repr` form; errors are printed and the session goes on.
//!
//! Ctrl-C at the prompt clears the line being typed (rustyline reads it as a
//! key). Ctrl-C while an entry runs is a SIGINT (`crate::signal`): it
//! cancels the entry's tasks and parallel calls and throws `Interrupted` in
//! the entry, which is printed as any uncaught error; the prompt comes back
//! with every definition of earlier entries kept. A second Ctrl-C during
//! the same entry ends weft (status 130) as it does for a script: the way
//! out of an entry stuck where the runtime cannot stop it (`input()`, a
//! long native call). The history is written on exit (Ctrl-D).

use crate::interp::{RunError, Session};
use crate::value::Value;
use std::io::{BufRead, IsTerminal, Write};

/// What to do with a line just read.
enum Step {
    /// The input so far is complete and was evaluated (it is given back,
    /// for the history; `None` for a blank line).
    Done(Option<String>),
    /// The input is unfinished: read another line.
    More,
}

fn feed(session: &mut Session, buf: &mut String, line: &str) -> Step {
    buf.push_str(line);
    buf.push('\n');
    if buf.trim().is_empty() {
        buf.clear();
        return Step::Done(None);
    }
    if Session::is_incomplete(buf) {
        return Step::More;
    }
    let input = std::mem::take(buf);
    let entry = input.trim_end_matches('\n').to_string();
    crate::signal::new_entry();
    match session.eval(&input) {
        Ok(Value::Nil) => {}
        Ok(v) => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", v.repr());
            let _ = out.flush();
        }
        Err(e) => {
            let _ = std::io::stdout().flush();
            let msg = match &e {
                RunError::Compile(_) | RunError::Runtime(_) => e.render(),
            };
            eprintln!("{msg}");
            if matches!(&e, RunError::Runtime(e) if e.kind() == crate::error::ErrorKind::Interrupted)
            {
                for line in crate::signal::running_tasks_report() {
                    eprintln!("{line}");
                }
            }
        }
    }
    Step::Done(Some(entry))
}

/// Runs the REPL until end of input; returns the exit code (0).
pub fn run() -> i32 {
    let mut session = Session::new();
    if std::io::stdin().is_terminal() {
        if let Ok(code) = run_terminal(&mut session) {
            return code;
        }
    }
    let stdin = std::io::stdin();
    let mut buf = String::new();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let _ = feed(&mut session, &mut buf, &line);
    }
    if !buf.trim().is_empty() {
        // Unfinished input at end of stream: evaluate it for its error.
        let input = std::mem::take(&mut buf);
        if let Err(e) = session.eval(&input) {
            eprintln!("{}", e.render());
        }
    }
    0
}

fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".weft_history"))
}

fn run_terminal(session: &mut Session) -> Result<i32, rustyline::error::ReadlineError> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Weft {} — Ctrl-D to exit", env!("CARGO_PKG_VERSION"));
    let mut buf = String::new();
    loop {
        let prompt = if buf.is_empty() { ">>> " } else { "... " };
        match editor.readline(prompt) {
            Ok(line) => {
                // A recalled multi-line entry arrives as one string with
                // its line breaks; `feed` handles it like typed lines.
                if let Step::Done(Some(entry)) = feed(session, &mut buf, &line) {
                    let _ = editor.add_history_entry(entry.as_str());
                }
            }
            Err(ReadlineError::Interrupted) => {
                buf.clear();
                println!("(interrupted)");
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(0)
}

//! The `weft` command: `weft [OPTIONS] FILE [ARGS...]`,
//! `weft [OPTIONS] -e CODE [ARGS...]`, or `weft [OPTIONS]` alone for the
//! REPL.
//!
//! Options come before the script name; everything after it is a script
//! argument (`args()`), even if it looks like an option. The thread pool's
//! configuration (CONFIG.md: defaults, config file, `WEFT_*` variables,
//! `--workers` / `--no-pin`) is loaded and checked before anything runs: a
//! mistake prints the error and exits with status 2. The pool itself starts
//! only when a script first needs it.
//!
//! Decisions where the spec is silent:
//! - An unknown option before the script is a usage error naming it and the
//!   closest known option (`unknown option '--worker' (did you mean
//!   '--workers'?)`), exit 2.
//! - `--trace FILE` is checked before the script runs: a file that cannot be
//!   created there is a usage error (exit 2), not a failure after the run.
//! - Without FILE and `-e`, a terminal stdin starts the REPL; any other
//!   stdin (a pipe, a file) is read whole and run as a script named
//!   `<stdin>`, as Python does: it stops at the first uncaught error (exit
//!   1) and echoes no values. `weft -` does the same explicitly.

use clap::Parser;
use std::path::PathBuf;
use weft::pool::{LoadOptions, ThreadPoolConfig, WorkerCount};
use weft::runtime::RuntimeOptions;

/// The binary allocates many small strings, lists and closures; mimalloc
/// serves those faster than the system allocator (see BENCHMARKS.md and
/// `weft::alloc`). The library leaves the choice to embedders.
#[global_allocator]
static GLOBAL: weft::alloc::Allocator = weft::alloc::Allocator;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(
    name = "weft",
    version,
    about = "Weft: a small scripting language built for parallel work",
    override_usage = "weft [OPTIONS] [FILE] [ARGS]...\n       weft [OPTIONS] -e CODE [ARGS]..."
)]
struct Cli {
    /// Run CODE instead of a file (source name `<eval>`).
    #[arg(short = 'e', value_name = "CODE")]
    eval: Option<String>,

    /// Pool workers: 1 to 1024, or `auto` (overrides the config file and
    /// WEFT_WORKERS).
    #[arg(long, value_name = "N")]
    workers: Option<String>,

    /// Read the pool configuration from FILE instead of $WEFT_CONFIG or
    /// ./weft.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Do not pin workers to cores (sets numa_aware = false).
    #[arg(long)]
    no_pin: bool,

    /// Write a Chrome trace-event JSON of the pool's activity to FILE at
    /// exit (open it in Perfetto or chrome://tracing).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,

    /// Print the pool's statistics as a table on stderr at exit.
    #[arg(long)]
    stats: bool,

    /// Run as one rank of an MPI job (`mpirun -np K weft --mpi FILE`):
    /// rank 0 runs the script, parallel_map/filter/for_each spread over
    /// every rank (docs/mpi.md). Needs a weft built with `--features mpi`.
    #[arg(long)]
    mpi: bool,

    /// The script to run (without FILE and -e, start the REPL), then the
    /// arguments passed to it (`args()`), even if they look like options.
    #[arg(
        value_name = "FILE [ARGS]",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    rest: Vec<String>,
}

/// Scripts run on a thread with a large stack: deeply nested data (dropping
/// or printing a list nested 100,000 deep) recurses on the Rust stack.
const MAIN_STACK: usize = 256 * 1024 * 1024;

/// The command line with `--` inserted where the options end: after
/// `-e CODE`, or before the first argument that is not an option (the
/// script). So everything after the code or the script name is a script
/// argument, even `--stats`.
fn split_options(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    const TAKES_VALUE: [&str; 4] = ["-e", "--workers", "--config", "--trace"];
    let mut out = Vec::with_capacity(argv.len() + 1);
    let mut it = argv.into_iter();
    out.extend(it.next()); // the program name
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "--" {
            out.push(arg);
            break;
        }
        if !text.starts_with('-') || text == "-" {
            out.push("--".into());
            out.push(arg);
            break;
        }
        if let Some(code) = text.strip_prefix("-e").filter(|c| !c.is_empty()) {
            // `-eCODE`: the same as `-e CODE`.
            out.push("-e".into());
            out.push(code.into());
            out.push("--".into());
            break;
        }
        out.push(arg);
        if TAKES_VALUE.contains(&text.as_str()) {
            out.extend(it.next());
        }
        if text == "-e" {
            out.push("--".into());
            break;
        }
    }
    out.extend(it);
    out
}

/// The options `weft` knows (before the script name).
const KNOWN_OPTIONS: [&str; 11] = [
    "-e",
    "--mpi",
    "--workers",
    "--config",
    "--no-pin",
    "--trace",
    "--stats",
    "--help",
    "-h",
    "--version",
    "-V",
];

/// The first unknown option before the script name (or `-e`), with the
/// closest known one: clap would take it for the script's name.
fn unknown_option(argv: &[std::ffi::OsString]) -> Option<(String, Option<&'static str>)> {
    const TAKES_VALUE: [&str; 4] = ["-e", "--workers", "--config", "--trace"];
    let mut it = argv.iter().skip(1);
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        if text == "--" || text == "-" || !text.starts_with('-') || text.starts_with("-e") {
            return None;
        }
        let name = text.split('=').next().unwrap_or(&text);
        if !KNOWN_OPTIONS.contains(&name) {
            let best = weft::diagnostic::closest(name, KNOWN_OPTIONS.iter().copied());
            return Some((name.to_string(), best));
        }
        if TAKES_VALUE.contains(&name) && !text.contains('=') {
            it.next();
        }
    }
    None
}

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some((name, best)) = unknown_option(&argv) {
        let hint = best
            .map(|b| format!(" (did you mean '{b}'?)"))
            .unwrap_or_default();
        eprintln!("weft: unknown option '{name}'{hint}\nrun 'weft --help' to see the options");
        std::process::exit(weft::interp::EXIT_USAGE);
    }
    let cli = Cli::parse_from(split_options(argv));
    weft::stdlib::start_clock();
    for warning in weft::envvars::unknown_var_warnings(std::env::vars_os().map(|(k, _)| k)) {
        eprintln!("{warning}");
    }
    if cli.mpi {
        let code = main_mpi(cli);
        weft::runtime::finish();
        std::process::exit(code);
    }
    if let Err(code) = configure(&cli, None) {
        std::process::exit(code);
    }
    // Ctrl-C: this thread listens for SIGINT while the script runs on its
    // own thread (weft::signal), until the script's thread drops `closer`.
    let listener = weft::signal::install()
        .map_err(|e| eprintln!("weft: warning: cannot handle Ctrl-C: {e}"))
        .ok();
    let closer = listener.as_ref().map(weft::signal::Listener::closer);
    let code = std::thread::Builder::new()
        .name("weft-main".into())
        .stack_size(MAIN_STACK)
        .spawn(move || {
            let _closer = closer;
            run(cli)
        })
        .map(|h| {
            if let Some(listener) = listener {
                listener.run();
            }
            h.join().unwrap_or(weft::interp::EXIT_FAILURE)
        })
        .unwrap_or_else(|e| {
            eprintln!("weft: cannot start the interpreter thread: {e}");
            weft::interp::EXIT_FAILURE
        });
    weft::runtime::finish();
    std::process::exit(code);
}

/// `weft --mpi` without MPI support built in: a usage error.
#[cfg(not(feature = "mpi"))]
fn main_mpi(_: Cli) -> i32 {
    eprintln!(
        "weft: --mpi needs a weft built with MPI support: \
         cargo build --release --features mpi (see docs/mpi.md)"
    );
    weft::interp::EXIT_USAGE
}

/// `weft --mpi`: this process is one rank of an MPI job (docs/mpi.md).
#[cfg(feature = "mpi")]
fn main_mpi(cli: Cli) -> i32 {
    use weft::mpi::launch::{self, Source};
    let mut rest = cli.rest.clone().into_iter();
    let source = match (&cli.eval, rest.next()) {
        (Some(code), first) => {
            // With -e, everything after the options is a script argument.
            let mut args: Vec<String> = first.into_iter().collect();
            args.extend(rest.by_ref());
            rest = args.into_iter();
            Source::Eval(code.clone())
        }
        (None, Some(file)) => Source::File(PathBuf::from(file)),
        (None, None) => {
            eprintln!("weft: --mpi needs a script: weft --mpi FILE [ARGS] or weft --mpi -e CODE");
            return weft::interp::EXIT_USAGE;
        }
    };
    let session = match launch::start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("weft: --mpi: {e}");
            return weft::interp::EXIT_USAGE;
        }
    };
    if let Err(code) = configure(&cli, Some(session.suggested_workers())) {
        // Every rank reads the same configuration; end the job at once.
        session.abort(code);
    }
    let args: Vec<String> = rest.collect();
    let rank = session.rank();
    let code = std::thread::Builder::new()
        .name("weft-main".into())
        .stack_size(MAIN_STACK)
        .spawn(move || session.run(source, args))
        .map(|h| h.join().unwrap_or(weft::interp::EXIT_FAILURE))
        .unwrap_or_else(|e| {
            eprintln!("weft: cannot start the interpreter thread: {e}");
            weft::interp::EXIT_FAILURE
        });
    if rank != 0 {
        // The other ranks' --stats tables went to rank 0 (printed there,
        // under their rank); their --trace would overwrite rank 0's file.
        launch::finish_serving_rank();
        std::process::exit(code);
    }
    code
}

/// Loads the layered pool configuration and hands it to the runtime; a
/// bad file, variable or flag is a usage error (status 2). `auto_workers`:
/// the worker count `auto` stands for (under `--mpi`, this rank's share of
/// its host's CPUs); `None`: the CPUs this process may use.
fn configure(cli: &Cli, auto_workers: Option<usize>) -> Result<(), i32> {
    let config = ThreadPoolConfig::load(LoadOptions {
        config_file: cli.config.clone(),
        workers: cli.workers.clone(),
        no_pin: cli.no_pin,
        cwd: None,
        env: None,
    })
    .map_err(|e| {
        eprintln!("{e}");
        weft::interp::EXIT_USAGE
    })?;
    let config = match auto_workers {
        Some(n) if config.worker_count() == WorkerCount::Auto => {
            config.with_worker_count(WorkerCount::Fixed(n))
        }
        _ => config,
    };
    if let Some(path) = &cli.trace {
        check_writable(path).map_err(|e| {
            eprintln!("weft: --trace: cannot write '{}': {e}", path.display());
            weft::interp::EXIT_USAGE
        })?;
    }
    let options = RuntimeOptions {
        config,
        trace: cli.trace.clone(),
        stats: cli.stats,
    };
    if weft::runtime::configure(options).is_err() {
        eprintln!("weft: internal error: the runtime was configured twice");
        return Err(weft::interp::EXIT_FAILURE);
    }
    Ok(())
}

/// Whether a file can be written at `path` (checked before the script
/// runs, so a bad `--trace` path does not waste the run). An existing file
/// is opened for appending (not truncated); a new one is created and
/// removed again.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a directory",
        ));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn run(cli: Cli) -> i32 {
    use std::io::IsTerminal;
    let mut rest = cli.rest.into_iter();
    match cli.eval {
        // With -e, everything after the options is a script argument.
        Some(code) => weft::interp::run_source("<eval>", &code, rest.collect()),
        None => match rest.next() {
            Some(file) if file == "-" => weft::interp::run_stdin(rest.collect()),
            Some(file) => weft::interp::run_file(&PathBuf::from(file), rest.collect()),
            None if std::io::stdin().is_terminal() => weft::repl::run(),
            None => weft::interp::run_stdin(Vec::new()),
        },
    }
}

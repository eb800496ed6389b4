//! The `weft` command: `weft FILE [ARGS...]`, `weft -e CODE [ARGS...]`, or
//! `weft` alone for the REPL.

use clap::Parser;
use std::ffi::OsString;
use std::path::PathBuf;

/// The binary allocates many small strings, lists and closures; mimalloc
/// serves those faster than the system allocator (see BENCHMARKS.md). The
/// library leaves the choice to embedders.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line options. (`--trace FILE` and `--stats` join this struct
/// with the async module.)
#[derive(Parser, Debug)]
#[command(
    name = "weft",
    version,
    about = "Weft: a small scripting language built for parallel work",
    override_usage = "weft [OPTIONS] [FILE] [ARGS]...\n       weft [OPTIONS] -e CODE [ARGS]..."
)]
struct Cli {
    /// Number of pool workers (1 to 1024, or `auto`); overrides the config
    /// file and WEFT_WORKERS.
    #[arg(long, value_name = "N")]
    workers: Option<String>,

    /// Read the pool configuration from FILE instead of ./weft.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Do not pin workers to cores (sets numa_aware = false).
    #[arg(long)]
    no_pin: bool,

    /// Run CODE instead of a file (source name `<eval>`).
    #[arg(short = 'e', value_name = "CODE")]
    eval: Option<String>,

    /// The script to run; without FILE (and without -e), start the REPL.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,

    /// Arguments passed to the script (`args()`), even if they look like flags.
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

/// Scripts run on a thread with a large stack: deeply nested data (dropping
/// or printing a list nested 100,000 deep) recurses on the Rust stack.
const MAIN_STACK: usize = 256 * 1024 * 1024;

/// Inserts `--` where the script's own arguments start (after `-e CODE`,
/// or before FILE), so that they reach the script even if they look like
/// flags.
fn split_script_args(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut it = args.into_iter();
    if let Some(program) = it.next() {
        out.push(program);
    }
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy().into_owned();
        match text.as_str() {
            "--" => {
                out.push(arg);
                break;
            }
            "-e" => {
                out.push(arg);
                if let Some(code) = it.next() {
                    out.push(code);
                }
                out.push("--".into());
                break;
            }
            "--workers" | "--config" => {
                out.push(arg);
                if let Some(value) = it.next() {
                    out.push(value);
                }
            }
            t if t.starts_with("-e") => {
                out.push(arg);
                out.push("--".into());
                break;
            }
            t if t.starts_with('-') && t.len() > 1 => out.push(arg),
            _ => {
                out.push("--".into());
                out.push(arg);
                break;
            }
        }
    }
    out.extend(it);
    out
}

fn main() {
    let cli = Cli::parse_from(split_script_args(std::env::args_os().collect()));
    weft::stdlib::start_clock();
    // A bad configuration is a usage error, reported before anything runs.
    let options = weft::pool::LoadOptions {
        config_file: cli.config.clone(),
        workers: cli.workers.clone(),
        no_pin: cli.no_pin,
        cwd: None,
        env: None,
    };
    match weft::pool::ThreadPoolConfig::load(options) {
        Ok(config) => weft::interp::set_pool_config(config),
        Err(e) => {
            eprintln!("weft: {e}");
            std::process::exit(weft::interp::EXIT_USAGE);
        }
    }
    let code = std::thread::Builder::new()
        .name("weft-main".into())
        .stack_size(MAIN_STACK)
        .spawn(move || run(cli))
        .map(|h| h.join().unwrap_or(weft::interp::EXIT_FAILURE))
        .unwrap_or_else(|e| {
            eprintln!("weft: cannot start the interpreter thread: {e}");
            weft::interp::EXIT_FAILURE
        });
    std::process::exit(code);
}

fn run(cli: Cli) -> i32 {
    match (cli.eval, cli.file) {
        (Some(code), file) => {
            // With -e, everything after the options is a script argument.
            let mut args: Vec<String> = file.map(|f| f.display().to_string()).into_iter().collect();
            args.extend(cli.args);
            weft::interp::run_source("<eval>", &code, args)
        }
        (None, Some(file)) => weft::interp::run_file(&file, cli.args),
        (None, None) => weft::repl::run(),
    }
}

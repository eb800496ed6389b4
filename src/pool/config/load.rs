//! `ThreadPoolConfig::load`: all four layers of CONFIG.md, in order.

use super::env::{process_env, CONFIG_VAR};
use super::error::{ConfigError, ConfigErrorKind, Origin};
use super::file::read_config_file;
use super::ThreadPoolConfig;
use std::path::PathBuf;

/// What the command line says about the pool, for
/// [`ThreadPoolConfig::load`]. `Default` is no flags, the process's current
/// directory and environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// `--config FILE`: this file must exist. Relative paths are relative to
    /// [`cwd`](Self::cwd).
    pub config_file: Option<PathBuf>,
    /// `--workers N`, as typed: an integer from 1 to 1,024 or `auto`. The
    /// text is checked here so that the message matches the other layers.
    pub workers: Option<String>,
    /// `--no-pin`: sets `numa_aware = false`.
    pub no_pin: bool,
    /// The directory to look for `weft.toml` in and resolve relative config
    /// paths against; `None` is the process's current directory.
    pub cwd: Option<PathBuf>,
    /// The environment as `(name, value)` pairs; `None` reads the process's
    /// environment.
    pub env: Option<Vec<(String, String)>>,
}

impl ThreadPoolConfig {
    /// The effective config, from the four layers of CONFIG.md; a later
    /// layer wins, key by key:
    ///
    /// 1. defaults (with the detected cache line size);
    /// 2. a TOML file: `--config FILE`, else `$WEFT_CONFIG`, else `weft.toml`
    ///    in the current directory if there is one (a missing `--config` or
    ///    `$WEFT_CONFIG` file is an error; a missing `weft.toml` is not);
    /// 3. the environment variables of [`with_env`](Self::with_env);
    /// 4. `--workers N` and `--no-pin`.
    ///
    /// The first mistake found is returned; the command line reports it as
    /// a usage error (exit status 2) before the script runs.
    pub fn load(options: LoadOptions) -> Result<ThreadPoolConfig, ConfigError> {
        let env = match options.env {
            Some(vars) => vars,
            None => process_env()?,
        };
        let config_var = env
            .iter()
            .rev()
            .find(|(name, _)| name == CONFIG_VAR)
            .map(|(_, v)| v);
        let (shown, via) = match (&options.config_file, config_var) {
            (Some(path), _) => (path.clone(), Some("--config")),
            (None, Some(value)) if value.is_empty() => {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidValue,
                    Origin::Env(CONFIG_VAR.to_string()),
                    None,
                    format!(
                    "environment variable {CONFIG_VAR}=\"\" is empty (unset it to use ./weft.toml)"
                ),
                ))
            }
            (None, Some(value)) => (PathBuf::from(value), Some(CONFIG_VAR)),
            (None, None) => (PathBuf::from("weft.toml"), None),
        };
        let read = match &options.cwd {
            Some(cwd) => cwd.join(&shown),
            None => shown.clone(),
        };

        let mut config = ThreadPoolConfig::default();
        if let Some(text) = read_config_file(&read, &shown, via.is_some(), via)? {
            config.apply_toml(&text, &shown)?;
        }
        let mut config = config.with_env_from(env)?;
        if let Some(text) = &options.workers {
            config.apply_workers_flag(text)?;
        }
        if options.no_pin {
            config.apply_no_pin_flag();
        }
        Ok(config)
    }
}

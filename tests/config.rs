//! `ThreadPoolConfig::load` end to end: real files in temporary directories,
//! the four layers of CONFIG.md and their precedence, and the errors a user
//! sees.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use weft::pool::{ConfigErrorKind, ConfigKey, LoadOptions, Source, ThreadPoolConfig, WorkerCount};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!(
            "weft-config-test-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` in this directory; returns the full path.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn env(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Options with `dir` as the current directory and an empty environment.
fn in_dir(dir: &TempDir) -> LoadOptions {
    LoadOptions {
        cwd: Some(dir.path().to_path_buf()),
        env: env(&[]),
        ..LoadOptions::default()
    }
}

const FILE: &str = "\
# all keys but one
[thread_pool]
worker_count = 2
numa_aware = true
work_stealing = false
max_batch_size = 10
spin_before_park_us = 7
stack_size = \"1MiB\"
max_spare_workers = 3
";

#[test]
fn no_file_no_env_no_flags_is_the_defaults() {
    let dir = TempDir::new();
    let c = ThreadPoolConfig::load(in_dir(&dir)).unwrap();
    assert_eq!(c, ThreadPoolConfig::default());
    assert_eq!(c.source(ConfigKey::WorkerCount), &Source::Default);
    assert_eq!(c.worker_count(), WorkerCount::Auto);
}

#[test]
fn each_layer_overrides_the_one_before_key_by_key() {
    let dir = TempDir::new();
    dir.write("weft.toml", FILE);

    // Layer 2: the file.
    let c = ThreadPoolConfig::load(in_dir(&dir)).unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(2));
    assert!(c.numa_aware());
    assert!(!c.work_stealing());
    assert_eq!(c.max_batch_size(), 10);
    assert_eq!(c.spin_before_park_us(), 7);
    assert_eq!(c.stack_size(), 1 << 20);
    assert_eq!(c.max_spare_workers(), 3);
    assert_eq!(
        c.source(ConfigKey::WorkerCount),
        &Source::File("weft.toml".into())
    );
    assert_eq!(
        c.cache_line_size(),
        ThreadPoolConfig::default().cache_line_size()
    );

    // Layer 3: the environment wins over the file for the keys it sets.
    let vars = [
        ("WEFT_WORKERS", "3"),
        ("WEFT_MAX_BATCH_SIZE", "20"),
        ("WEFT_CACHE_LINE_SIZE", "32"),
    ];
    let c = ThreadPoolConfig::load(LoadOptions {
        env: env(&vars),
        ..in_dir(&dir)
    })
    .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(3));
    assert_eq!(c.max_batch_size(), 20);
    assert_eq!(c.cache_line_size(), 32);
    assert!(c.numa_aware());
    assert_eq!(c.stack_size(), 1 << 20);
    assert_eq!(
        c.source(ConfigKey::WorkerCount),
        &Source::Env("WEFT_WORKERS")
    );
    assert_eq!(
        c.source(ConfigKey::NumaAware),
        &Source::File("weft.toml".into())
    );

    // Layer 4: the flags win over both.
    let c = ThreadPoolConfig::load(LoadOptions {
        env: env(&vars),
        workers: Some("4".into()),
        no_pin: true,
        ..in_dir(&dir)
    })
    .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(4));
    assert!(!c.numa_aware());
    assert_eq!(c.max_batch_size(), 20);
    assert!(!c.work_stealing());
    let sources: Vec<String> = c
        .entries()
        .iter()
        .map(|e| format!("{}: {}", e.name(), e.source))
        .collect();
    let cache = "cache_line_size: env WEFT_CACHE_LINE_SIZE";
    assert_eq!(
        sources,
        [
            "worker_count: flag --workers",
            "numa_aware: flag --no-pin",
            "work_stealing: file weft.toml",
            cache,
            "max_batch_size: env WEFT_MAX_BATCH_SIZE",
            "spin_before_park_us: file weft.toml",
            "stack_size: file weft.toml",
            "max_spare_workers: file weft.toml",
            "time_slice_ms: default",
        ]
    );
}

#[test]
fn env_and_flags_apply_without_a_file() {
    let dir = TempDir::new();
    let c = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_NUMA_AWARE", "true"), ("WEFT_WORK_STEALING", "0")]),
        workers: Some("auto".into()),
        ..in_dir(&dir)
    })
    .unwrap();
    assert!(c.numa_aware());
    assert!(!c.work_stealing());
    assert_eq!(c.worker_count(), WorkerCount::Auto);
    assert_eq!(c.source(ConfigKey::WorkerCount), &Source::Flag("--workers"));
    assert_eq!(
        c.resolved_worker_count(),
        weft::pool::available_cpus().min(1024)
    );
}

#[test]
fn config_flag_beats_weft_config_beats_weft_toml() {
    let dir = TempDir::new();
    dir.write("weft.toml", "[thread_pool]\nworker_count = 1\n");
    dir.write("from_env.toml", "[thread_pool]\nworker_count = 2\n");
    dir.write("conf/from_flag.toml", "[thread_pool]\nworker_count = 3\n");

    let c = ThreadPoolConfig::load(in_dir(&dir)).unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(1));

    let with_var = LoadOptions {
        env: env(&[("WEFT_CONFIG", "from_env.toml")]),
        ..in_dir(&dir)
    };
    let c = ThreadPoolConfig::load(with_var.clone()).unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(2));
    assert_eq!(
        c.source(ConfigKey::WorkerCount).to_string(),
        "file from_env.toml"
    );

    let c = ThreadPoolConfig::load(LoadOptions {
        config_file: Some("conf/from_flag.toml".into()),
        ..with_var
    })
    .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(3));
    assert_eq!(
        c.source(ConfigKey::WorkerCount).to_string(),
        "file conf/from_flag.toml"
    );

    // Only one file is read: keys the chosen file leaves out are defaults,
    // not values from weft.toml.
    dir.write(
        "weft.toml",
        "[thread_pool]\nworker_count = 1\nmax_batch_size = 9\n",
    );
    let c = ThreadPoolConfig::load(LoadOptions {
        config_file: Some("conf/from_flag.toml".into()),
        ..in_dir(&dir)
    })
    .unwrap();
    assert_eq!(c.max_batch_size(), 256);
}

#[test]
fn an_absolute_config_path_ignores_cwd() {
    let dir = TempDir::new();
    let other = TempDir::new();
    let path = other.write("abs.toml", "[thread_pool]\nmax_spare_workers = 0\n");
    let c = ThreadPoolConfig::load(LoadOptions {
        config_file: Some(path.clone()),
        ..in_dir(&dir)
    })
    .unwrap();
    assert_eq!(c.max_spare_workers(), 0);
    assert_eq!(c.source(ConfigKey::MaxSpareWorkers), &Source::File(path));
}

#[test]
fn a_missing_config_flag_file_is_an_error_naming_it() {
    let dir = TempDir::new();
    dir.write("weft.toml", "[thread_pool]\nworker_count = 1\n");
    let e = ThreadPoolConfig::load(LoadOptions {
        config_file: Some("nope.toml".into()),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    assert_eq!(e.path(), Some(Path::new("nope.toml")));
    assert_eq!(e.line(), None);
    let shown = e.to_string();
    assert!(
        shown.starts_with("nope.toml: error: cannot read config file (given by --config): "),
        "{shown}"
    );
}

#[test]
fn a_missing_weft_config_file_is_an_error_and_empty_is_too() {
    let dir = TempDir::new();
    let e = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_CONFIG", "gone.toml")]),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    assert!(
        e.to_string()
            .starts_with("gone.toml: error: cannot read config file (given by WEFT_CONFIG): "),
        "{e}"
    );

    let e = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_CONFIG", "")]),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(e.env_var(), Some("WEFT_CONFIG"));
    assert_eq!(e.kind(), ConfigErrorKind::InvalidValue);
}

#[test]
fn a_directory_named_weft_toml_is_an_error() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path().join("weft.toml")).unwrap();
    let e = ThreadPoolConfig::load(in_dir(&dir)).unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (ConfigErrorKind::Io, Some(Path::new("weft.toml")))
    );
}

#[test]
fn file_errors_name_the_file_line_and_key() {
    let dir = TempDir::new();
    dir.write(
        "weft.toml",
        "# tuning\n[thread_pool]\nworker_count = 8\nnuma_aware = true\nworker_cnt = 4\n",
    );
    let e = ThreadPoolConfig::load(in_dir(&dir)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "weft.toml:5:1: error: unknown key 'worker_cnt' in [thread_pool]; did you mean 'worker_count'?"
    );
    assert_eq!(
        (e.line(), e.column(), e.key()),
        (Some(5), Some(1), Some("worker_cnt"))
    );

    dir.write("bad.toml", "[thread_pool]\n\n\nstack_size = \"64KiB\"\n");
    let e = ThreadPoolConfig::load(LoadOptions {
        config_file: Some("bad.toml".into()),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad.toml:4:1: error: [thread_pool] stack_size = \"64KiB\" is out of range (256KiB to 1GiB)"
    );

    dir.write(
        "syntax.toml",
        "[thread_pool]\nworker_count = 4\nnuma_aware = tru\n",
    );
    let e = ThreadPoolConfig::load(LoadOptions {
        config_file: Some("syntax.toml".into()),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!((e.kind(), e.line()), (ConfigErrorKind::Syntax, Some(3)));
    assert!(e.to_string().starts_with("syntax.toml:3:"), "{e}");
}

#[test]
fn the_file_is_checked_before_the_environment() {
    let dir = TempDir::new();
    dir.write("weft.toml", "[thread_pool]\nworker_count = 0\n");
    let e = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_WORKERS", "4")]),
        ..in_dir(&dir)
    })
    .unwrap_err();
    // A bad file is an error even if a later layer would override the key.
    assert_eq!(
        (e.path(), e.line()),
        (Some(Path::new("weft.toml")), Some(2))
    );
}

#[test]
fn bad_env_and_flags_through_load() {
    let dir = TempDir::new();
    let e = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_WORKERS", "many")]),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "error: environment variable WEFT_WORKERS=\"many\" is not a worker count \
         (expected an integer from 1 to 1024 or \"auto\")"
    );
    // An env error stops the load even when a flag would override the key.
    let e = ThreadPoolConfig::load(LoadOptions {
        env: env(&[("WEFT_MAX_BATCH_SIZE", "0")]),
        workers: Some("2".into()),
        ..in_dir(&dir)
    })
    .unwrap_err();
    assert_eq!(e.env_var(), Some("WEFT_MAX_BATCH_SIZE"));

    for (text, shown) in [
        ("0", "error: --workers 0 is out of range (1 to 1024)"),
        ("1025", "error: --workers 1025 is out of range (1 to 1024)"),
        ("lots", "error: --workers lots is not a worker count (expected an integer from 1 to 1024 or \"auto\")"),
        ("", "error: --workers \"\" is empty (unset it to use the default)"),
    ] {
        let e = ThreadPoolConfig::load(LoadOptions { workers: Some(text.into()), ..in_dir(&dir) })
            .unwrap_err();
        assert_eq!(e.to_string(), shown);
        assert_eq!(e.flag(), Some("--workers"));
    }
}

#[test]
fn from_file_reads_and_names_the_file() {
    let dir = TempDir::new();
    let path = dir.write(
        "w.toml",
        "[thread_pool]\nworker_count = \"auto\"\nnuma_aware = true\n",
    );
    let c = ThreadPoolConfig::from_file(&path).unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Auto);
    assert!(c.numa_aware());
    assert_eq!(c.source(ConfigKey::NumaAware), &Source::File(path.clone()));
    assert_eq!(c.source(ConfigKey::WorkerCount), &Source::File(path));

    let missing = dir.path().join("missing.toml");
    let e = ThreadPoolConfig::from_file(&missing).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
    assert_eq!(e.path(), Some(missing.as_path()));
    assert!(
        e.to_string().contains(": error: cannot read config file: "),
        "{e}"
    );

    let bad = dir.write("bad.toml", "\n[thread_pool]\nwork_stealing = \"no\"\n");
    let e = ThreadPoolConfig::from_file(&bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3:1: error: [thread_pool] work_stealing = \"no\" has the wrong type: \
             expected a boolean (true or false), found a string",
            bad.display()
        )
    );
}

#[test]
fn a_file_that_is_not_utf8_is_an_io_error() {
    let dir = TempDir::new();
    let path = dir.path().join("weft.toml");
    std::fs::write(&path, b"[thread_pool]\nworker_count = \xff\n").unwrap();
    let e = ThreadPoolConfig::load(in_dir(&dir)).unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Io);
}

/// The one test that reads the real process environment (and so the only
/// one that changes it): `with_env` and `load` without injected variables.
#[test]
fn process_environment() {
    let dir = TempDir::new();
    let file = dir.write("proc.toml", "[thread_pool]\nmax_spare_workers = 5\n");
    std::env::set_var("WEFT_CONFIG", &file);
    std::env::set_var("WEFT_WORKERS", "6");
    std::env::set_var("WEFT_WORK_STEALING", "off");

    let c = ThreadPoolConfig::default().with_env().unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(6));
    assert!(!c.work_stealing());
    assert_eq!(c.max_spare_workers(), 64);

    let c = ThreadPoolConfig::load(LoadOptions::default()).unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(6));
    assert_eq!(c.max_spare_workers(), 5);
    assert_eq!(c.source(ConfigKey::MaxSpareWorkers), &Source::File(file));

    std::env::set_var("WEFT_WORKERS", "0");
    let e = ThreadPoolConfig::default().with_env().unwrap_err();
    assert_eq!(e.env_var(), Some("WEFT_WORKERS"));

    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        std::env::set_var("WEFT_WORKERS", std::ffi::OsStr::from_bytes(b"\xff"));
        let e = ThreadPoolConfig::default().with_env().unwrap_err();
        assert_eq!(e.env_var(), Some("WEFT_WORKERS"));
        assert!(e.message().ends_with("is not valid UTF-8"), "{e}");
    }

    for var in ["WEFT_CONFIG", "WEFT_WORKERS", "WEFT_WORK_STEALING"] {
        std::env::remove_var(var);
    }
}

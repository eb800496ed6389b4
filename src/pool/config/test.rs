//! Unit tests of the config: each key's checks, the size syntax, positions,
//! suggestions, the environment layer and `validate`.

use super::check::{format_size, parse_size, Problem};
use super::file::{line_col, suggest};
use super::*;

fn toml(text: &str) -> Result<ThreadPoolConfig, ConfigError> {
    ThreadPoolConfig::from_toml_str_named(text, "weft.toml")
}

/// The error for `[thread_pool]` + `line`, which is on line 2.
fn toml_err(line: &str) -> ConfigError {
    match toml(&format!("[thread_pool]\n{line}\n")) {
        Ok(config) => panic!("{line:?} was accepted: {config:?}"),
        Err(e) => e,
    }
}

fn env_err(var: &str, value: &str) -> ConfigError {
    match ThreadPoolConfig::default().with_env_from([(var, value)]) {
        Ok(config) => panic!("{var}={value:?} was accepted: {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn defaults_match_config_md() {
    let c = ThreadPoolConfig::default();
    assert_eq!(c.worker_count(), WorkerCount::Auto);
    assert!(!c.numa_aware());
    assert!(c.work_stealing());
    assert_eq!(c.max_batch_size(), 256);
    assert_eq!(c.spin_before_park_us(), 50);
    assert_eq!(c.spin_before_park(), std::time::Duration::from_micros(50));
    assert_eq!(c.stack_size(), 16 << 20);
    assert_eq!(c.max_spare_workers(), 64);
    match detect::cache_line_size() {
        Some(n) => {
            assert_eq!(c.cache_line_size(), n);
            assert_eq!(c.source(ConfigKey::CacheLineSize), &Source::Detected);
        }
        None => {
            assert_eq!(c.cache_line_size(), 64);
            assert_eq!(c.source(ConfigKey::CacheLineSize), &Source::Default);
        }
    }
    for key in ConfigKey::ALL
        .into_iter()
        .filter(|k| *k != ConfigKey::CacheLineSize)
    {
        assert_eq!(c.source(key), &Source::Default, "{key}");
    }
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn auto_resolves_to_the_cpus_this_process_may_use() {
    let cpus = available_cpus();
    assert!(cpus >= 1);
    let c = ThreadPoolConfig::default();
    assert_eq!(
        c.resolved_worker_count(),
        cpus.min(ThreadPoolConfig::MAX_WORKERS)
    );
    let c = c.with_worker_count(WorkerCount::Fixed(7));
    assert_eq!(c.resolved_worker_count(), 7);
}

#[test]
fn more_workers_than_cpus_is_kept() {
    let n = (available_cpus() * 8).min(1024);
    let c = toml(&format!("[thread_pool]\nworker_count = {n}\n")).unwrap();
    assert_eq!(c.resolved_worker_count(), n);
    let c = ThreadPoolConfig::default()
        .with_env_from([("WEFT_WORKERS", "1024")])
        .unwrap();
    assert_eq!(c.resolved_worker_count(), 1024);
}

#[test]
fn key_names_round_trip_in_config_md_order() {
    let names: Vec<_> = ConfigKey::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        [
            "worker_count",
            "numa_aware",
            "work_stealing",
            "cache_line_size",
            "max_batch_size",
            "spin_before_park_us",
            "stack_size",
            "max_spare_workers",
            "time_slice_ms"
        ]
    );
    for key in ConfigKey::ALL {
        assert_eq!(ConfigKey::from_name(key.name()), Some(key));
        assert_eq!(ConfigKey::ALL[key.index()], key);
    }
    assert_eq!(ConfigKey::from_name("workers"), None);
}

// ---- each key: success and failure -------------------------------------

#[test]
fn worker_count_accepts_1_to_1024_and_auto() {
    for (text, want) in [
        ("1", WorkerCount::Fixed(1)),
        ("1024", WorkerCount::Fixed(1024)),
        ("\"auto\"", WorkerCount::Auto),
    ] {
        let c = toml(&format!("[thread_pool]\nworker_count = {text}")).unwrap();
        assert_eq!(c.worker_count(), want, "{text}");
    }
    for bad in ["0", "1025", "-1"] {
        let e = toml_err(&format!("worker_count = {bad}"));
        assert_eq!(e.kind(), ConfigErrorKind::OutOfRange, "{bad}");
        assert!(e.message().ends_with("is out of range (1 to 1024)"), "{e}");
    }
    let e = toml_err("worker_count = \"AUTO\"");
    assert_eq!(e.kind(), ConfigErrorKind::InvalidValue);
    let e = toml_err("worker_count = true");
    assert_eq!(e.kind(), ConfigErrorKind::WrongType);
    assert!(e.message().contains("found a boolean"), "{e}");
}

#[test]
fn switches_accept_booleans_only() {
    for key in ["numa_aware", "work_stealing"] {
        for b in [true, false] {
            let c = toml(&format!("[thread_pool]\n{key} = {b}")).unwrap();
            let got = if key == "numa_aware" {
                c.numa_aware()
            } else {
                c.work_stealing()
            };
            assert_eq!(got, b);
        }
        for bad in ["1", "\"true\"", "[true]"] {
            let e = toml_err(&format!("{key} = {bad}"));
            assert_eq!(e.kind(), ConfigErrorKind::WrongType, "{key} = {bad}");
            assert_eq!(e.key(), Some(key));
            assert!(
                e.message().contains("expected a boolean (true or false)"),
                "{e}"
            );
        }
    }
}

#[test]
fn cache_line_size_is_a_power_of_two_from_16_to_1024() {
    for n in [16, 32, 64, 128, 256, 512, 1024] {
        let c = toml(&format!("[thread_pool]\ncache_line_size = {n}")).unwrap();
        assert_eq!(c.cache_line_size(), n);
    }
    for n in [0, 8, 2048, -64] {
        let e = toml_err(&format!("cache_line_size = {n}"));
        assert_eq!(e.kind(), ConfigErrorKind::OutOfRange, "{n}");
        assert!(
            e.message().contains("a power of two from 16 to 1024"),
            "{e}"
        );
    }
    for n in [48, 100, 1000] {
        let e = toml_err(&format!("cache_line_size = {n}"));
        assert_eq!(e.kind(), ConfigErrorKind::InvalidValue, "{n}");
        assert!(e.message().contains("is not a power of two"), "{e}");
    }
    assert_eq!(
        toml_err("cache_line_size = \"64\"").kind(),
        ConfigErrorKind::WrongType
    );
}

#[test]
fn max_batch_size_is_1_to_a_million() {
    for n in [1, 256, 1_000_000] {
        let c = toml(&format!("[thread_pool]\nmax_batch_size = {n}")).unwrap();
        assert_eq!(c.max_batch_size(), n);
    }
    let c = toml("[thread_pool]\nmax_batch_size = 1_000").unwrap();
    assert_eq!(c.max_batch_size(), 1000);
    for n in ["0", "1000001", "-5"] {
        let e = toml_err(&format!("max_batch_size = {n}"));
        assert_eq!(
            e.message(),
            format!("[thread_pool] max_batch_size = {n} is out of range (1 to 1000000)")
        );
    }
    assert_eq!(
        toml_err("max_batch_size = 2.0").kind(),
        ConfigErrorKind::WrongType
    );
}

#[test]
fn spin_before_park_us_is_0_to_10000() {
    for n in [0, 50, 10_000] {
        let c = toml(&format!("[thread_pool]\nspin_before_park_us = {n}")).unwrap();
        assert_eq!(c.spin_before_park_us(), n);
        assert_eq!(c.spin_before_park(), std::time::Duration::from_micros(n));
    }
    let e = toml_err("spin_before_park_us = 10001");
    assert!(e.message().ends_with("is out of range (0 to 10000)"), "{e}");
    assert_eq!(
        toml_err("spin_before_park_us = -1").kind(),
        ConfigErrorKind::OutOfRange
    );
    assert_eq!(
        toml_err("spin_before_park_us = \"50us\"").kind(),
        ConfigErrorKind::WrongType
    );
}

#[test]
fn stack_size_takes_sizes_and_bytes() {
    for (text, want) in [
        ("\"16MiB\"", 16 << 20),
        ("\"256KiB\"", 256 << 10),
        ("\"1GiB\"", 1 << 30),
        ("\"2 MiB\"", 2 << 20),
        ("\"4mib\"", 4 << 20),
        ("\"300000\"", 300_000),
        ("\"300000B\"", 300_000),
        ("1048576", 1 << 20),
    ] {
        let c = toml(&format!("[thread_pool]\nstack_size = {text}")).unwrap();
        assert_eq!(c.stack_size(), want, "{text}");
    }
    for bad in [
        "\"255KiB\"",
        "\"2GiB\"",
        "1",
        "-1",
        "\"99999999999999999999GiB\"",
    ] {
        let e = toml_err(&format!("stack_size = {bad}"));
        assert_eq!(e.kind(), ConfigErrorKind::OutOfRange, "{bad}");
        assert!(
            e.message().ends_with("is out of range (256KiB to 1GiB)"),
            "{e}"
        );
    }
    for bad in [
        "\"16MB\"",
        "\"16M\"",
        "\"1.5MiB\"",
        "\"MiB\"",
        "\"16 TiB\"",
        "\" 16MiB\"",
    ] {
        let e = toml_err(&format!("stack_size = {bad}"));
        assert_eq!(e.kind(), ConfigErrorKind::InvalidValue, "{bad}");
    }
    assert_eq!(
        toml_err("stack_size = true").kind(),
        ConfigErrorKind::WrongType
    );
}

#[test]
fn max_spare_workers_is_0_to_1024() {
    for n in [0, 64, 1024] {
        let c = toml(&format!("[thread_pool]\nmax_spare_workers = {n}")).unwrap();
        assert_eq!(c.max_spare_workers(), n);
    }
    let e = toml_err("max_spare_workers = 1025");
    assert!(e.message().ends_with("is out of range (0 to 1024)"), "{e}");
    assert_eq!(
        toml_err("max_spare_workers = false").kind(),
        ConfigErrorKind::WrongType
    );
}

#[test]
fn time_slice_ms_is_1_to_10000_and_defaults_to_10() {
    assert_eq!(ThreadPoolConfig::default().time_slice_ms(), 10);
    for n in [1, 10, 10_000] {
        let c = toml(&format!("[thread_pool]\ntime_slice_ms = {n}")).unwrap();
        assert_eq!(c.time_slice_ms(), n);
        assert_eq!(c.time_slice(), std::time::Duration::from_millis(n));
    }
    for bad in ["0", "10001", "-5"] {
        let e = toml_err(&format!("time_slice_ms = {bad}"));
        assert!(e.message().ends_with("is out of range (1 to 10000)"), "{e}");
    }
    assert_eq!(
        toml_err("time_slice_ms = \"10ms\"").kind(),
        ConfigErrorKind::WrongType
    );
    let c = ThreadPoolConfig::default()
        .with_env_from([("WEFT_TIME_SLICE_MS", "25")])
        .unwrap();
    assert_eq!(c.time_slice_ms(), 25);
    assert_eq!(
        c.source(ConfigKey::TimeSliceMs).to_string(),
        "env WEFT_TIME_SLICE_MS"
    );
    let e = env_err("WEFT_TIME_SLICE_MS", "0");
    assert_eq!(e.kind(), ConfigErrorKind::OutOfRange);
    let e = env_err("WEFT_TIME_SLICE_MS", "fast");
    assert_eq!(
        e.message(),
        "environment variable WEFT_TIME_SLICE_MS=\"fast\" is not an integer"
    );
    assert!(ThreadPoolConfig::default()
        .with_time_slice_ms(0)
        .validate()
        .is_err());
}

// ---- sizes ---------------------------------------------------------------

#[test]
fn parse_size_units() {
    assert_eq!(parse_size("0"), Ok(Some(0)));
    assert_eq!(parse_size("7B"), Ok(Some(7)));
    assert_eq!(parse_size("3KiB"), Ok(Some(3 << 10)));
    assert_eq!(parse_size("3 KIB"), Ok(Some(3 << 10)));
    assert_eq!(parse_size("5\tMiB"), Ok(Some(5 << 20)));
    assert_eq!(parse_size("2GiB"), Ok(Some(2 << 30)));
    assert_eq!(parse_size("18446744073709551615"), Ok(Some(u64::MAX)));
    assert_eq!(parse_size("18446744073709551616"), Ok(None));
    assert_eq!(parse_size("17179869184GiB"), Ok(None));
    let ambiguous = parse_size("16MB").unwrap_err();
    assert_eq!(
        ambiguous,
        Problem::Invalid(
            "is ambiguous: write \"16MiB\" (units are B, KiB, MiB and GiB, powers of 1024)"
                .to_string()
        )
    );
    for unit in ["k", "KB", "m", "g", "Gb"] {
        assert!(
            matches!(parse_size(&format!("1{unit}")), Err(Problem::Invalid(m)) if m.starts_with("is ambiguous")),
            "{unit}"
        );
    }
    for bad in [
        "", "MiB", "-1MiB", "1.5MiB", "1MiB ", " 1MiB", "1 0", "1TiB", "1é",
    ] {
        assert!(
            matches!(parse_size(bad), Err(Problem::Invalid(m)) if m.starts_with("is not a size")),
            "{bad:?}"
        );
    }
}

#[test]
fn format_size_uses_the_largest_exact_unit_and_reads_back() {
    for (bytes, text) in [
        (0, "0B"),
        (1, "1B"),
        (1024, "1KiB"),
        (1536, "1536B"),
        (3 << 19, "1536KiB"),
        (16 << 20, "16MiB"),
        (1 << 30, "1GiB"),
        (300_000, "300000B"),
    ] {
        assert_eq!(format_size(bytes), text);
        assert_eq!(parse_size(text), Ok(Some(bytes)));
    }
}

// ---- positions and suggestions ------------------------------------------

#[test]
fn line_col_counts_lines_and_characters() {
    let text = "ab\ncd\n\u{e9}\u{e9}x";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 1), (1, 2));
    assert_eq!(line_col(text, 3), (2, 1));
    assert_eq!(line_col(text, 6), (3, 1));
    // Two 2-byte characters before `x`: column 3, not 5.
    assert_eq!(line_col(text, 10), (3, 3));
    assert_eq!(line_col(text, 999), (3, 4));
}

#[test]
fn suggest_finds_typos_and_nothing_else() {
    let keys = ConfigKey::ALL.map(ConfigKey::name);
    assert_eq!(suggest("worker_cont", keys), Some("worker_count"));
    assert_eq!(suggest("Worker_Count", keys), Some("worker_count"));
    assert_eq!(suggest("numa", keys), Some("numa_aware"));
    assert_eq!(suggest("batch_size", keys), Some("max_batch_size"));
    assert_eq!(suggest("stacksize", keys), Some("stack_size"));
    assert_eq!(suggest("work_steal", keys), Some("work_stealing"));
    assert_eq!(suggest("zzz", keys), None);
    assert_eq!(suggest("threadpool", ["thread_pool"]), Some("thread_pool"));
    assert_eq!(suggest("server", ["thread_pool"]), None);
}

#[test]
fn unknown_keys_get_a_suggestion_or_the_list() {
    let e = toml_err("worker_cont = 4");
    assert_eq!(e.kind(), ConfigErrorKind::UnknownKey);
    assert_eq!(e.key(), Some("worker_cont"));
    assert_eq!(
        e.to_string(),
        "weft.toml:2:1: error: unknown key 'worker_cont' in [thread_pool]; did you mean 'worker_count'?"
    );
    let e = toml_err("threads = 4");
    assert!(e.message().ends_with("did you mean 'worker_count'?"), "{e}");
    let e = toml_err("color = \"red\"");
    assert!(
        e.message()
            .contains("(known keys: worker_count, numa_aware,"),
        "{e}"
    );
}

#[test]
fn unknown_tables_and_misplaced_keys() {
    let e = toml("[threadpool]\nworker_count = 2\n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::UnknownTable);
    assert_eq!(
        e.to_string(),
        "weft.toml:1:2: error: unknown table [threadpool]; did you mean [thread_pool]?"
    );
    let e = toml("[thread_pool]\n[server]\nport = 1\n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::UnknownTable);
    assert_eq!((e.line(), e.key()), (Some(2), Some("server")));
    assert!(
        e.message().ends_with("(the only table is [thread_pool])"),
        "{e}"
    );
    let e = toml("worker_count = 2\n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::UnknownKey);
    assert_eq!(
        e.message(),
        "key 'worker_count' must be inside the [thread_pool] table"
    );
    let e = toml("title = \"x\"\n").unwrap_err();
    assert_eq!(
        e.message(),
        "unknown key 'title' at top level (settings go in the [thread_pool] table)"
    );
    let e = toml("thread_pool = 3\n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::WrongType);
    let e = toml("[[thread_pool]]\nworker_count = 2\n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::WrongType);
    let e = toml("[thread_pool.inner]\nx = 1\n").unwrap_err();
    assert_eq!(
        (e.kind(), e.key()),
        (ConfigErrorKind::UnknownKey, Some("inner"))
    );
}

#[test]
fn the_first_mistake_in_the_file_wins() {
    // The top-level table comes last in the file but is checked first.
    let e = toml("[thread_pool]\nworker_count = 0\n\n[extra]\n").unwrap_err();
    assert_eq!((e.line(), e.key()), (Some(2), Some("worker_count")));
    let e = toml("[thread_pool]\nstack_size = 1\nnuma_aware = 2\n").unwrap_err();
    assert_eq!((e.line(), e.key()), (Some(2), Some("stack_size")));
}

#[test]
fn errors_point_at_the_key_on_its_line() {
    let text = "# weft.toml\n\n[thread_pool]\nnuma_aware = true\n  max_batch_size = 0\n";
    let e = toml(text).unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(5), Some(3)));
    assert_eq!(
        e.to_string(),
        "weft.toml:5:3: error: [thread_pool] max_batch_size = 0 is out of range (1 to 1000000)"
    );
    // Dotted and inline forms point at the key too.
    let e = toml("thread_pool.worker_count = 0\n").unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(1), Some(13)));
    let e = toml("\nthread_pool = { numa_aware = 1 }\n").unwrap_err();
    assert_eq!(
        (e.line(), e.column(), e.key()),
        (Some(2), Some(17), Some("numa_aware"))
    );
    // CRLF line ends.
    let e = toml("[thread_pool]\r\n\r\nworker_count = 0\r\n").unwrap_err();
    assert_eq!((e.line(), e.column()), (Some(3), Some(1)));
}

#[test]
fn syntax_errors_have_line_and_column() {
    let e = toml("[thread_pool]\nworker_count = 4\nnuma_aware = \n").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Syntax);
    assert_eq!(e.line(), Some(3));
    assert!(e.column().is_some());
    assert!(e.to_string().starts_with("weft.toml:3:"), "{e}");
    assert!(e.message().starts_with("invalid TOML: "), "{e}");
    assert!(!e.to_string().contains('\n'), "{e:?}");
    let e = toml("[thread_pool]\nworker_count = 1\nworker_count = 2\n").unwrap_err();
    assert_eq!((e.kind(), e.line()), (ConfigErrorKind::Syntax, Some(3)));
    assert!(e.message().contains("duplicate key"), "{e}");
    let e = toml("[thread_pool\n").unwrap_err();
    assert_eq!((e.kind(), e.line()), (ConfigErrorKind::Syntax, Some(1)));
}

#[test]
fn a_bad_file_changes_nothing_and_a_good_one_records_its_source() {
    assert!(toml("[thread_pool]\n").unwrap() == ThreadPoolConfig::default());
    assert!(toml("").unwrap() == ThreadPoolConfig::default());
    let c = toml("[thread_pool]\nworker_count = 3\nwork_stealing = false\n").unwrap();
    assert_eq!(
        c.source(ConfigKey::WorkerCount),
        &Source::File("weft.toml".into())
    );
    assert_eq!(
        c.source(ConfigKey::WorkStealing).to_string(),
        "file weft.toml"
    );
    assert_eq!(c.source(ConfigKey::NumaAware), &Source::Default);
    let c = ThreadPoolConfig::from_toml_str("[thread_pool]\nnuma_aware = true\n").unwrap();
    assert_eq!(c.source(ConfigKey::NumaAware).to_string(), "file <string>");
}

// ---- environment ---------------------------------------------------------

#[test]
fn env_sets_the_five_keys() {
    let c = ThreadPoolConfig::default()
        .with_env_from([
            ("WEFT_WORKERS", "5"),
            ("WEFT_NUMA_AWARE", "on"),
            ("WEFT_WORK_STEALING", "FALSE"),
            ("WEFT_CACHE_LINE_SIZE", "128"),
            ("WEFT_MAX_BATCH_SIZE", "1000"),
            ("WEFT_STACK_SIZE", "not a variable we read"),
            ("PATH", "/bin"),
        ])
        .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(5));
    assert!(c.numa_aware());
    assert!(!c.work_stealing());
    assert_eq!(c.cache_line_size(), 128);
    assert_eq!(c.max_batch_size(), 1000);
    assert_eq!(c.stack_size(), 16 << 20);
    assert_eq!(
        c.source(ConfigKey::WorkerCount),
        &Source::Env("WEFT_WORKERS")
    );
    assert_eq!(
        c.source(ConfigKey::MaxBatchSize).to_string(),
        "env WEFT_MAX_BATCH_SIZE"
    );
    assert_eq!(c.source(ConfigKey::StackSize), &Source::Default);
    let c = ThreadPoolConfig::default()
        .with_env_from([("WEFT_WORKERS", "auto")])
        .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Auto);
    assert_eq!(
        c.source(ConfigKey::WorkerCount),
        &Source::Env("WEFT_WORKERS")
    );
    // The last of a repeated name counts.
    let c = ThreadPoolConfig::default()
        .with_env_from([("WEFT_WORKERS", "0"), ("WEFT_WORKERS", "2")])
        .unwrap();
    assert_eq!(c.worker_count(), WorkerCount::Fixed(2));
}

#[test]
fn env_booleans_take_common_words() {
    for (text, want) in [
        ("true", true),
        ("1", true),
        ("Yes", true),
        ("ON", true),
        ("false", false),
        ("0", false),
        ("no", false),
        ("off", false),
    ] {
        let c = ThreadPoolConfig::default()
            .with_env_from([("WEFT_NUMA_AWARE", text)])
            .unwrap();
        assert_eq!(c.numa_aware(), want, "{text}");
    }
}

#[test]
fn bad_env_values_name_the_variable_and_value() {
    let e = env_err("WEFT_WORKERS", "0");
    assert_eq!(
        e.to_string(),
        "error: environment variable WEFT_WORKERS=\"0\" is out of range (1 to 1024)"
    );
    assert_eq!(
        (e.env_var(), e.key(), e.path()),
        (Some("WEFT_WORKERS"), Some("worker_count"), None)
    );
    assert_eq!(
        env_err("WEFT_WORKERS", "eight").kind(),
        ConfigErrorKind::InvalidValue
    );
    assert_eq!(
        env_err("WEFT_WORKERS", " 8").kind(),
        ConfigErrorKind::InvalidValue
    );
    let e = env_err("WEFT_NUMA_AWARE", "maybe");
    assert_eq!(
        e.to_string(),
        "error: environment variable WEFT_NUMA_AWARE=\"maybe\" is not a boolean \
         (expected true or false, 1 or 0, yes or no, on or off)"
    );
    assert_eq!(
        env_err("WEFT_WORK_STEALING", "2").env_var(),
        Some("WEFT_WORK_STEALING")
    );
    let e = env_err("WEFT_CACHE_LINE_SIZE", "96");
    assert!(
        e.to_string()
            .contains("WEFT_CACHE_LINE_SIZE=\"96\" is not a power of two"),
        "{e}"
    );
    let e = env_err("WEFT_CACHE_LINE_SIZE", "64B");
    assert_eq!(
        e.message(),
        "environment variable WEFT_CACHE_LINE_SIZE=\"64B\" is not an integer"
    );
    let e = env_err("WEFT_MAX_BATCH_SIZE", "99999999999999999999999");
    assert_eq!(e.kind(), ConfigErrorKind::OutOfRange);
    let e = env_err("WEFT_MAX_BATCH_SIZE", "");
    assert_eq!(
        e.message(),
        "environment variable WEFT_MAX_BATCH_SIZE=\"\" is empty (unset it to use the default)"
    );
}

// ---- setters, validate, equality, entries -----------------------------

#[test]
fn setters_record_api_and_validate_checks_them() {
    let c = ThreadPoolConfig::default()
        .with_worker_count(WorkerCount::Fixed(3))
        .with_numa_aware(true)
        .with_work_stealing(false)
        .with_cache_line_size(128)
        .with_max_batch_size(10)
        .with_spin_before_park_us(0)
        .with_stack_size(1 << 20)
        .with_max_spare_workers(0)
        .with_time_slice_ms(50);
    assert_eq!(c.validate(), Ok(()));
    for key in ConfigKey::ALL {
        assert_eq!(c.source(key), &Source::Api, "{key}");
    }
    let d = ThreadPoolConfig::default();
    let bad = [
        (d.clone().with_worker_count(WorkerCount::Fixed(0)), "error: worker_count = 0 is out of range (1 to 1024)"),
        (
            d.clone().with_worker_count(WorkerCount::Fixed(5000)),
            "error: worker_count = 5000 is out of range (1 to 1024)",
        ),
        (
            d.clone().with_cache_line_size(96),
            "error: cache_line_size = 96 is not a power of two (expected a power of two from 16 to 1024)",
        ),
        (d.clone().with_max_batch_size(0), "error: max_batch_size = 0 is out of range (1 to 1000000)"),
        (
            d.clone().with_spin_before_park_us(10_001),
            "error: spin_before_park_us = 10001 is out of range (0 to 10000)",
        ),
        (d.clone().with_stack_size(4096), "error: stack_size = 4096 is out of range (256KiB to 1GiB)"),
        (d.clone().with_max_spare_workers(2000), "error: max_spare_workers = 2000 is out of range (0 to 1024)"),
        (d.clone().with_time_slice_ms(0), "error: time_slice_ms = 0 is out of range (1 to 10000)"),
    ];
    for (config, message) in bad {
        let e = config.validate().unwrap_err();
        assert_eq!(e.to_string(), message);
        assert_eq!((e.path(), e.env_var(), e.flag()), (None, None, None));
    }
}

#[test]
fn equality_ignores_sources() {
    let from_file = toml("[thread_pool]\nworker_count = 3\n").unwrap();
    let from_api = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(3));
    assert_eq!(from_file, from_api);
    assert_ne!(from_file, from_api.with_worker_count(WorkerCount::Fixed(4)));
    assert_ne!(
        ThreadPoolConfig::default(),
        ThreadPoolConfig::default().with_numa_aware(true)
    );
}

#[test]
fn entries_list_every_key_with_value_and_source() {
    let c = toml("[thread_pool]\nworker_count = 6\nstack_size = 2097152\n")
        .unwrap()
        .with_env_from([("WEFT_NUMA_AWARE", "1")])
        .unwrap();
    let entries = c.entries();
    let keys: Vec<_> = entries.iter().map(|e| e.key).collect();
    assert_eq!(keys, ConfigKey::ALL);
    let shown: Vec<String> = entries
        .iter()
        .map(|e| format!("{} = {} ({})", e.name(), e.value, e.source))
        .collect();
    let cache = c.cache_line_size();
    let cache_source = c.source(ConfigKey::CacheLineSize).to_string();
    assert_eq!(
        shown,
        [
            "worker_count = 6 (file weft.toml)".to_string(),
            "numa_aware = true (env WEFT_NUMA_AWARE)".to_string(),
            "work_stealing = true (default)".to_string(),
            format!("cache_line_size = {cache} ({cache_source})"),
            "max_batch_size = 256 (default)".to_string(),
            "spin_before_park_us = 50 (default)".to_string(),
            "stack_size = \"2MiB\" (file weft.toml)".to_string(),
            "max_spare_workers = 64 (default)".to_string(),
            "time_slice_ms = 10 (default)".to_string(),
        ]
    );
    assert_eq!(
        ThreadPoolConfig::default().value(ConfigKey::WorkerCount),
        ConfigValue::Str("auto".into())
    );
    assert_eq!(c.value(ConfigKey::WorkerCount), ConfigValue::Int(6));
    assert_eq!(c.value(ConfigKey::NumaAware), ConfigValue::Bool(true));
}

#[test]
fn source_display() {
    assert_eq!(Source::Default.to_string(), "default");
    assert_eq!(Source::Detected.to_string(), "detected");
    assert_eq!(
        Source::File("conf/w.toml".into()).to_string(),
        "file conf/w.toml"
    );
    assert_eq!(Source::Env("WEFT_WORKERS").to_string(), "env WEFT_WORKERS");
    assert_eq!(Source::Flag("--workers").to_string(), "flag --workers");
    assert_eq!(Source::Api.to_string(), "api");
}

#[test]
fn cache_line_file_parsing() {
    assert_eq!(detect::parse_line_size("64\n"), Some(64));
    assert_eq!(detect::parse_line_size("128"), Some(128));
    for bad in ["", "0", "48", "2048", "x", "-64"] {
        assert_eq!(detect::parse_line_size(bad), None, "{bad:?}");
    }
}

//! The built-in module `date` (STDLIB.md): wall-clock time as seconds since
//! the Unix epoch (a float), on the `jiff` crate. `time()` stays the
//! monotonic clock.
//!
//! # Decisions (STDLIB.md is silent)
//! - `date.format(t)` writes ISO 8601 in UTC to the whole second, rounding
//!   down (`2026-12-06T20:39:37Z`); for fractions use a format with `%f`
//!   (nanoseconds) or `%.3f`. `date.format(t, fmt)` is strftime-style
//!   (jiff's `strtime`: `%Y %m %d %H %M %S %f %j %a %b %Z %z %s ...`), in
//!   UTC (`%Z` is `UTC`, `%z` is `+0000`).
//! - `date.parse(s)` reads ISO 8601 / RFC 3339: with an offset (`Z`,
//!   `+01:00`) the instant is exact; a date-time without an offset, or a
//!   date alone (midnight), is taken as UTC.
//!   `date.parse(s, fmt)` uses the same directives as `format`; without
//!   `%z` (or `%Z`/`%s`) in the format, the time is taken as UTC; a format
//!   that does not give a full date is a `ValueError`.
//! - Times are exact to the nanosecond inside jiff; a float of seconds near
//!   today's date carries about a quarter of a microsecond.
//! - Bad input (`date.parse("soon")`, an unknown `%` directive, a time
//!   outside years -9999..9999, NaN) is a `ValueError` saying what is
//!   wrong; a non-number time or a non-string format is a `TypeError`.

use super::args::{self, arity};
use super::data;
use crate::error::{Error, Result};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "now",
        f: now,
    },
    NativeFn {
        name: "format",
        f: format,
    },
    NativeFn {
        name: "parse",
        f: parse,
    },
];

/// The module value `date`.
pub(crate) fn make_module() -> Value {
    data::module("date", FUNCTIONS)
}

fn now(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("date.now", args, 0, 0)?;
    Ok(Value::Float(seconds(Timestamp::now())))
}

/// Seconds since the epoch as a float.
fn seconds(t: Timestamp) -> f64 {
    t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9
}

/// The timestamp `t` seconds after the epoch.
fn timestamp(func: &str, t: f64) -> Result<Timestamp> {
    if !t.is_finite() {
        return Err(Error::value_error(format!(
            "{func}() time must be finite, not {}",
            crate::value::format_float(t)
        )));
    }
    let secs = t.floor();
    let nanos = ((t - secs) * 1e9).round().min(999_999_999.0) as i32;
    let out_of_range = || {
        Error::value_error(format!(
            "{func}() time {} is outside the years -9999 to 9999",
            crate::value::format_float(t)
        ))
    };
    if secs.abs() > 1e15 {
        return Err(out_of_range());
    }
    Timestamp::new(secs as i64, nanos).map_err(|_| out_of_range())
}

fn format(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("date.format", args, 1, 2)?;
    let t = args::number("date.format", "time", &args[0])?;
    let ts = timestamp("date.format", t)?;
    match args.get(1) {
        None | Some(Value::Nil) => {
            let whole = Timestamp::from_second(ts.as_second())
                .map_err(|e| Error::value_error(format!("date.format(): {e}")))?;
            Ok(Value::str(whole.to_string()))
        }
        Some(f) => {
            let fmt = args::string("date.format", "format", f)?;
            let zoned = ts.to_zoned(TimeZone::UTC);
            jiff::fmt::strtime::format(fmt, &zoned)
                .map(Value::str)
                .map_err(|e| {
                    Error::value_error(format!(
                        "date.format(): bad format {}: {e}",
                        Value::str(fmt).repr()
                    ))
                })
        }
    }
}

fn parse(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("date.parse", args, 1, 2)?;
    let s = args::string("date.parse", "text", &args[0])?;
    let ts = match args.get(1) {
        None | Some(Value::Nil) => parse_iso(s),
        Some(f) => {
            let fmt = args::string("date.parse", "format", f)?;
            parse_with(s, fmt)
        }
    }?;
    Ok(Value::Float(seconds(ts)))
}

/// ISO 8601: an instant with an offset, else a civil date-time or date in
/// UTC.
fn parse_iso(s: &str) -> Result<Timestamp> {
    let err = match s.parse::<Timestamp>() {
        Ok(t) => return Ok(t),
        Err(e) => e,
    };
    let civil = s.parse::<DateTime>().or_else(|_| {
        s.parse::<Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    match civil {
        Ok(dt) => dt
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| Error::value_error(format!("date.parse(): {e}"))),
        Err(_) => Err(Error::value_error(format!(
            "date.parse(): cannot read {} as an ISO 8601 time: {err}",
            Value::str(s).repr()
        ))),
    }
}

/// `s` read with the strftime-style `fmt`; UTC unless it has an offset.
fn parse_with(s: &str, fmt: &str) -> Result<Timestamp> {
    let bad = |e: jiff::Error| {
        Error::value_error(format!(
            "date.parse(): cannot read {} with the format {}: {e}",
            Value::str(s).repr(),
            Value::str(fmt).repr()
        ))
    };
    let tm = jiff::fmt::strtime::parse(fmt, s).map_err(bad)?;
    if tm.offset().is_some() || tm.timestamp().is_some() {
        return tm.to_timestamp().map_err(bad);
    }
    let dt = tm.to_datetime().map_err(bad)?;
    dt.to_zoned(TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(bad)
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::error::ErrorKind;

    fn call(f: fn(&mut Vm, &[Value]) -> Result<Value>, args: &[Value]) -> Result<Value> {
        f(&mut Vm::new(), args)
    }

    fn float(v: Value) -> f64 {
        match v {
            Value::Float(x) => x,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_and_parse_round_trip() {
        let t = 1796589577.0; // 2026-12-06T20:39:37Z
        assert_eq!(
            call(format, &[Value::Float(t)]).unwrap(),
            Value::str("2026-12-06T20:39:37Z")
        );
        assert_eq!(
            call(format, &[Value::Float(t + 0.75)]).unwrap(),
            Value::str("2026-12-06T20:39:37Z")
        );
        let back = float(call(parse, &[Value::str("2026-12-06T20:39:37Z")]).unwrap());
        assert_eq!(back, t);
        let off = float(call(parse, &[Value::str("2026-12-06T21:39:37+01:00")]).unwrap());
        assert_eq!(off, t);
        let civil = float(call(parse, &[Value::str("2026-12-06T20:39:37")]).unwrap());
        assert_eq!(civil, t);
        let day = float(call(parse, &[Value::str("2026-12-06")]).unwrap());
        assert_eq!(day, t - (20.0 * 3600.0 + 39.0 * 60.0 + 37.0));
    }

    #[test]
    fn strftime_formats() {
        let t = Value::Float(1796589577.5);
        let f = |fmt: &str| {
            call(format, &[t.clone(), Value::str(fmt)])
                .unwrap()
                .to_string()
        };
        assert_eq!(f("%Y-%m-%d %H:%M"), "2026-12-06 20:39");
        assert_eq!(f("%a %b %e %Z %z"), "Sun Dec  6 UTC +0000");
        assert_eq!(f("%S.%3f"), "37.500");
        let p = |s: &str, fmt: &str| float(call(parse, &[Value::str(s), Value::str(fmt)]).unwrap());
        assert_eq!(p("06/12/2026 20:39:37", "%d/%m/%Y %H:%M:%S"), 1796589577.0);
        assert_eq!(
            p("2026-12-06 21:39 +0100", "%Y-%m-%d %H:%M %z"),
            1796589540.0
        );
    }

    #[test]
    fn bad_input_is_a_value_error() {
        for args in [
            vec![Value::str("soon")],
            vec![Value::str("2026-13-01")],
            vec![Value::str("20:39"), Value::str("%H:%M")],
            vec![Value::str("x"), Value::str("%Y")],
        ] {
            let e = call(parse, &args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ValueError, "{args:?}");
        }
        let e = call(format, &[Value::Float(0.0), Value::str("%K")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError);
        let e = call(format, &[Value::Float(f64::NAN)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError);
        let e = call(format, &[Value::Float(1e20)]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError);
        let e = call(format, &[Value::str("0")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeError);
    }

    #[test]
    fn now_is_near_the_system_clock() {
        let sys = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let t = float(call(now, &[]).unwrap());
        assert!((t - sys).abs() < 5.0);
    }
}

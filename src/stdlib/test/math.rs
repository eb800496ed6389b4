use super::*;

fn m(name: &str, args: &[Value]) -> Result<Value> {
    let mut module = builtin_module("math").unwrap();
    method(&mut module, name, args)
}

fn field(name: &str) -> Value {
    crate::ops::field_get(&builtin_module("math").unwrap(), name).unwrap()
}

fn close(v: Value, want: f64) {
    match v {
        Value::Float(x) => assert!((x - want).abs() < 1e-12, "{x} != {want}"),
        other => panic!("not a float: {other:?}"),
    }
}

#[test]
fn constants() {
    assert_eq!(field("pi"), f(std::f64::consts::PI));
    assert_eq!(field("e"), f(std::f64::consts::E));
    assert_eq!(field("tau"), f(std::f64::consts::TAU));
    assert_eq!(field("inf"), f(f64::INFINITY));
    assert!(matches!(field("nan"), Value::Float(x) if x.is_nan()));
}

#[test]
fn sqrt_and_domain_errors() {
    assert_eq!(ok(m("sqrt", &[i(16)])), f(4.0));
    assert_eq!(ok(m("sqrt", &[f(2.25)])), f(1.5));
    assert_eq!(ok(m("sqrt", &[f(f64::INFINITY)])), f(f64::INFINITY));
    assert_eq!(
        err(m("sqrt", &[i(-1)])),
        (ErrorKind::ValueError, "math domain error".into())
    );
    assert_eq!(kind(m("sqrt", &[s("4")])), ErrorKind::TypeError);
    assert_eq!(kind(m("sqrt", &[Value::Bool(true)])), ErrorKind::TypeError);
    assert_eq!(kind(m("sqrt", &[])), ErrorKind::TypeError);
}

#[test]
fn floor_ceil_trunc_return_ints() {
    assert!(matches!(ok(m("floor", &[f(2.7)])), Value::Int(2)));
    assert!(matches!(ok(m("floor", &[f(-2.1)])), Value::Int(-3)));
    assert!(matches!(ok(m("ceil", &[f(2.1)])), Value::Int(3)));
    assert!(matches!(ok(m("ceil", &[f(-2.7)])), Value::Int(-2)));
    assert!(matches!(ok(m("trunc", &[f(-2.7)])), Value::Int(-2)));
    assert!(matches!(ok(m("floor", &[i(5)])), Value::Int(5)));
    for func in ["floor", "ceil", "round", "trunc"] {
        assert_eq!(
            kind(m(func, &[f(f64::INFINITY)])),
            ErrorKind::OverflowError,
            "{func}"
        );
        assert_eq!(
            kind(m(func, &[f(f64::NEG_INFINITY)])),
            ErrorKind::OverflowError,
            "{func}"
        );
        assert_eq!(
            kind(m(func, &[f(f64::NAN)])),
            ErrorKind::ValueError,
            "{func}"
        );
        assert_eq!(
            kind(m(func, &[f(1e300)])),
            ErrorKind::OverflowError,
            "{func}"
        );
        assert_eq!(kind(m(func, &[s("1")])), ErrorKind::TypeError, "{func}");
    }
}

#[test]
fn round_halves_to_even() {
    let cases = [
        (0.5, 0),
        (1.5, 2),
        (2.5, 2),
        (-0.5, 0),
        (-1.5, -2),
        (2.4999, 2),
        (2.6, 3),
    ];
    for (x, want) in cases {
        assert!(
            matches!(ok(m("round", &[f(x)])), Value::Int(r) if r == want),
            "round({x})"
        );
    }
    assert_eq!(
        ok(m("round", &[f(2.675), i(2)])),
        f(2.67),
        "2.675 is below the half in binary"
    );
    assert_eq!(ok(m("round", &[f(0.125), i(2)])), f(0.12));
    assert_eq!(ok(m("round", &[f(0.375), i(2)])), f(0.38));
    assert_eq!(ok(m("round", &[f(1234.5), i(-2)])), f(1200.0));
    assert_eq!(ok(m("round", &[i(1250), i(-2)])), i(1200));
    assert_eq!(ok(m("round", &[i(1350), i(-2)])), i(1400));
    assert_eq!(ok(m("round", &[i(-1250), i(-2)])), i(-1200));
    assert_eq!(ok(m("round", &[i(7), i(3)])), i(7));
    assert_eq!(ok(m("round", &[i(7), i(-30)])), i(0));
    assert_eq!(kind(m("round", &[f(1.0), f(1.0)])), ErrorKind::TypeError);
}

#[test]
fn trigonometry_and_exponentials() {
    close(ok(m("sin", &[f(std::f64::consts::FRAC_PI_2)])), 1.0);
    close(ok(m("cos", &[i(0)])), 1.0);
    close(ok(m("tan", &[f(std::f64::consts::FRAC_PI_4)])), 1.0);
    close(ok(m("atan", &[i(1)])), std::f64::consts::FRAC_PI_4);
    close(
        ok(m("atan2", &[i(1), i(-1)])),
        3.0 * std::f64::consts::FRAC_PI_4,
    );
    assert_eq!(kind(m("sin", &[f(f64::INFINITY)])), ErrorKind::ValueError);
    close(ok(m("exp", &[i(1)])), std::f64::consts::E);
    assert_eq!(ok(m("exp", &[f(f64::NEG_INFINITY)])), f(0.0));
    assert_eq!(
        err(m("exp", &[i(1000)])),
        (ErrorKind::OverflowError, "math range error".into())
    );
}

#[test]
fn logarithms() {
    close(ok(m("log", &[f(std::f64::consts::E)])), 1.0);
    close(ok(m("log", &[i(8), i(2)])), 3.0);
    close(ok(m("log2", &[i(1024)])), 10.0);
    close(ok(m("log10", &[i(1000)])), 3.0);
    assert_eq!(ok(m("log", &[f(f64::INFINITY)])), f(f64::INFINITY));
    for bad in [i(0), i(-1), f(-0.5)] {
        assert_eq!(
            kind(m("log", std::slice::from_ref(&bad))),
            ErrorKind::ValueError
        );
        assert_eq!(
            kind(m("log2", std::slice::from_ref(&bad))),
            ErrorKind::ValueError
        );
        assert_eq!(kind(m("log10", &[bad])), ErrorKind::ValueError);
    }
    assert_eq!(kind(m("log", &[i(8), i(0)])), ErrorKind::ValueError);
    assert_eq!(kind(m("log", &[i(8), i(1)])), ErrorKind::ZeroDivisionError);
    assert_eq!(kind(m("log", &[i(8), s("2")])), ErrorKind::TypeError);
}

#[test]
fn pow_is_always_float() {
    assert!(matches!(ok(m("pow", &[i(2), i(10)])), Value::Float(x) if x == 1024.0));
    close(ok(m("pow", &[i(4), f(0.5)])), 2.0);
    assert_eq!(ok(m("pow", &[f(f64::NAN), i(0)])), f(1.0));
    assert_eq!(kind(m("pow", &[i(0), i(-1)])), ErrorKind::ValueError);
    assert_eq!(
        kind(m("pow", &[i(-8), f(1.0 / 3.0)])),
        ErrorKind::ValueError
    );
    assert_eq!(kind(m("pow", &[i(10), i(400)])), ErrorKind::OverflowError);
    assert_eq!(kind(m("pow", &[i(10)])), ErrorKind::TypeError);
}

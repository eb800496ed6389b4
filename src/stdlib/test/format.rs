use super::*;

fn fmt(template: &str, args: &[Value]) -> String {
    format_values(template, args).unwrap_or_else(|e| panic!("{template:?}: {e}"))
}

fn fmt_err(template: &str, args: &[Value]) -> ErrorKind {
    match format_values(template, args) {
        Ok(s) => panic!("{template:?} gave {s:?}"),
        Err(e) => e.kind(),
    }
}

#[test]
fn plain_placeholders_use_the_printed_form() {
    assert_eq!(fmt("{} of {}", &[i(3), s("ten")]), "3 of ten");
    assert_eq!(fmt("{}", &[f(2.0)]), "2.0");
    assert_eq!(fmt("[{}]", &[l(vec![s("a")])]), r#"[["a"]]"#);
    assert_eq!(fmt("no placeholders", &[]), "no placeholders");
    assert_eq!(fmt("{{}} {{{}}}", &[i(1)]), "{} {1}");
    assert_eq!(fmt("{1} {0} {1}", &[s("a"), s("b")]), "b a b");
    assert_eq!(
        fmt("{} {}", &[i(1), i(2), i(3)]),
        "1 2",
        "extra arguments are ignored"
    );
    assert_eq!(fmt("é{}é", &[s("ü")]), "éüé");
}

#[test]
fn template_errors() {
    assert_eq!(fmt_err("{} {}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("}", &[]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{name}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{} {0}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{0} {}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:q}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:.f}", &[i(1)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:d}", &[f(1.5)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:.2f}", &[s("x")]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:x}", &[s("x")]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:+}", &[s("x")]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:,}", &[s("x")]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:=5}", &[s("x")]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:.3}", &[i(5)]), ErrorKind::ValueError);
    assert_eq!(fmt_err("{:.3d}", &[i(5)]), ErrorKind::ValueError);
    let e = format_values("{} {}", &[i(1)]).unwrap_err();
    assert!(e.message().contains("1 was given"), "{}", e.message());
}

#[test]
fn fixed_point_and_scientific() {
    assert_eq!(fmt("{:.3f}", &[f(std::f64::consts::PI)]), "3.142");
    assert_eq!(fmt("{:.2f}", &[i(2)]), "2.00");
    assert_eq!(fmt("{:.0f}", &[f(2.5)]), "2");
    assert_eq!(fmt("{:.1f}", &[f(0.25)]), "0.2");
    assert_eq!(fmt("{:f}", &[f(1.5)]), "1.500000");
    assert_eq!(fmt("{:.2f}", &[f(-0.001)]), "-0.00");
    assert_eq!(fmt("{:.2f}", &[f(f64::INFINITY)]), "inf");
    assert_eq!(fmt("{:.2f}", &[f(f64::NEG_INFINITY)]), "-inf");
    assert_eq!(fmt("{:.2f}", &[f(f64::NAN)]), "nan");
    assert_eq!(fmt("{:.2e}", &[f(12345.678)]), "1.23e+04");
    assert_eq!(fmt("{:e}", &[f(0.00012)]), "1.200000e-04");
    assert_eq!(fmt("{:.1%}", &[f(0.256)]), "25.6%");
    assert_eq!(fmt("{:.3g}", &[f(1234.5)]), "1.23e+03");
    assert_eq!(fmt("{:g}", &[f(0.0001)]), "0.0001");
    assert_eq!(fmt("{:g}", &[f(100.0)]), "100");
    assert_eq!(fmt("{:.3}", &[f(1.23456)]), "1.23");
    assert_eq!(fmt("{:.3}", &[f(1.0)]), "1.0");
    assert_eq!(fmt("{:.2F}", &[f(f64::INFINITY)]), "INF");
    // Precision without a type: Python's switch to scientific one digit early.
    assert_eq!(fmt("{:.3}", &[f(99.995)]), "1e+02");
    assert_eq!(fmt("{:.1}", &[f(1.5)]), "2e+00");
    assert_eq!(fmt("{:.3}", &[f(0.0)]), "0.0");
    assert_eq!(fmt("{:.3}", &[f(12.0)]), "12.0");
    assert_eq!(fmt("{:g}", &[f(0.0)]), "0");
    assert_eq!(fmt("{:.3g}", &[f(99.995)]), "100");
    assert_eq!(fmt("{:g}", &[f(1.5e-7)]), "1.5e-07");
}

#[test]
fn ints_in_other_bases_and_grouping() {
    assert_eq!(fmt("{:d}", &[i(-42)]), "-42");
    assert_eq!(fmt("{:x}", &[i(255)]), "ff");
    assert_eq!(fmt("{:X}", &[i(-255)]), "-FF");
    assert_eq!(fmt("{:b}", &[i(5)]), "101");
    assert_eq!(fmt("{:o}", &[i(8)]), "10");
    assert_eq!(fmt("{:,}", &[i(1234567)]), "1,234,567");
    assert_eq!(fmt("{:_}", &[i(-1000)]), "-1_000");
    assert_eq!(fmt("{:,.2f}", &[f(1234567.891)]), "1,234,567.89");
    assert_eq!(fmt("{:d}", &[i(i64::MIN)]), "-9223372036854775808");
}

#[test]
fn width_alignment_and_signs() {
    assert_eq!(fmt("[{:5}]", &[i(42)]), "[   42]");
    assert_eq!(fmt("[{:5}]", &[s("ab")]), "[ab   ]");
    assert_eq!(fmt("[{:>5}]", &[s("ab")]), "[   ab]");
    assert_eq!(fmt("[{:^6}]", &[s("ab")]), "[  ab  ]");
    assert_eq!(fmt("[{:*^7}]", &[s("ab")]), "[**ab***]");
    assert_eq!(fmt("[{:<5}]", &[i(1)]), "[1    ]");
    assert_eq!(fmt("[{:05}]", &[i(-42)]), "[-0042]");
    assert_eq!(fmt("[{:08.3f}]", &[f(-1.23456)]), "[-001.235]");
    assert_eq!(fmt("[{:+}]", &[i(5)]), "[+5]");
    assert_eq!(fmt("[{: }]", &[i(5)]), "[ 5]");
    assert_eq!(fmt("[{:+.1f}]", &[f(-0.0)]), "[-0.0]");
    assert_eq!(fmt("[{:.2}]", &[s("abcdef")]), "[ab]");
    assert_eq!(fmt("[{:2}]", &[s("abcdef")]), "[abcdef]");
    assert_eq!(fmt("[{:>4}]", &[Value::Nil]), "[ nil]");
    assert_eq!(fmt("[{:s}]", &[i(3)]), "[3]");
    assert_eq!(fmt("[{:05}]", &[s("ab")]), "[ab000]");
    assert_eq!(fmt("[{:=+6}]", &[i(42)]), "[+   42]");
}

#[test]
fn the_format_builtin() {
    assert_eq!(
        ok(call("format", &[s("{} of {}"), i(1), i(2)])),
        s("1 of 2")
    );
    assert_eq!(ok(call("format", &[s("{:.1f}"), f(0.05)])), s("0.1"));
    assert_eq!(kind(call("format", &[])), ErrorKind::TypeError);
    assert_eq!(kind(call("format", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(call("format", &[s("{}")])), ErrorKind::ValueError);
}

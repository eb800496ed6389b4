//! `format(template, args...)`: Python's `str.format` for positional
//! arguments.
//!
//! A placeholder is `{}` (the next argument), `{N}` (argument N) and may
//! carry a spec after a colon, a subset of Python's mini-language:
//! `[[fill]align][sign][0][width][,|_][.precision][type]` with align one of
//! `< > ^ =`, sign one of `+ - space`, type one of `s d f F e E g G % x X o
//! b`. `{{` and `}}` are literal braces. Too few arguments is a `ValueError`
//! (extra arguments are ignored, as in Python); so is a spec that does not
//! fit the argument (`{:d}` of a float, `{:f}` of a string).
//!
//! Width and precision have no limit of their own (as in Python): a float
//! formatted with 70,000 decimals gets its exact digits. A width or
//! precision too large to be a number is a `ValueError` naming it; one
//! whose text would not fit in memory is a `MemoryError`, raised before the
//! text is built.

use super::args::{self, arity};
use crate::error::{Error, Result};
use crate::ops::memory;
use crate::value::{format_float, NativeFn, Value};
use crate::vm::Vm;

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[NativeFn {
    name: "format",
    f: format,
}];

fn format(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("format", args, 1, usize::MAX)?;
    let template = args::string("format", "template", &args[0])?;
    format_values(template, &args[1..]).map(Value::str)
}

#[cold]
fn bad(msg: impl Into<String>) -> Error {
    Error::value_error(format!("format(): {}", msg.into()))
}

/// Fills the placeholders of `template` with `args` (see the module docs).
pub fn format_values(template: &str, args: &[Value]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 8 * args.len());
    let mut rest = template;
    let mut next_auto = 0usize;
    let mut numbering: Option<bool> = None; // Some(true) = automatic
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let brace = rest.as_bytes()[pos];
        rest = &rest[pos + 1..];
        if brace == b'}' {
            match rest.strip_prefix('}') {
                Some(r) => {
                    out.push('}');
                    rest = r;
                    continue;
                }
                None => return Err(bad("single '}' in the template (write '}}' for a brace)")),
            }
        }
        if let Some(r) = rest.strip_prefix('{') {
            out.push('{');
            rest = r;
            continue;
        }
        let Some(end) = rest.find('}') else {
            return Err(bad("unclosed '{' in the template (write '{{' for a brace)"));
        };
        let field = &rest[..end];
        rest = &rest[end + 1..];
        if field.contains('{') {
            return Err(bad("placeholders cannot be nested"));
        }
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        let index = if name.is_empty() {
            if numbering == Some(false) {
                return Err(bad("cannot mix '{}' and '{N}' placeholders"));
            }
            numbering = Some(true);
            next_auto += 1;
            next_auto - 1
        } else {
            let n: usize = name
                .parse()
                .map_err(|_| bad(format!("unsupported placeholder {{{name}}}")))?;
            if numbering == Some(true) {
                return Err(bad("cannot mix '{}' and '{N}' placeholders"));
            }
            numbering = Some(false);
            n
        };
        let Some(v) = args.get(index) else {
            return Err(bad(format!(
                "placeholder {} needs argument {} but {} {} given",
                if name.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{{name}}}")
                },
                index + 1,
                args.len(),
                if args.len() == 1 { "was" } else { "were" }
            )));
        };
        if spec.is_empty() {
            match v {
                Value::Str(s) => out.push_str(s),
                other => {
                    use std::fmt::Write as _;
                    let _ = write!(out, "{other}");
                }
            }
        } else {
            let spec = Spec::parse(spec)?;
            out.push_str(&spec.render(v)?);
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A parsed format spec.
#[derive(Debug, Default)]
struct Spec {
    fill: Option<char>,
    align: Option<char>,
    sign: Option<char>,
    zero: bool,
    width: usize,
    grouping: Option<char>,
    precision: Option<usize>,
    ty: Option<char>,
}

impl Spec {
    fn parse(text: &str) -> Result<Spec> {
        let invalid = || bad(format!("invalid spec '{text}'"));
        let cs: Vec<char> = text.chars().collect();
        let mut s = Spec::default();
        let mut i = 0;
        let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
        if cs.len() >= 2 && is_align(cs[1]) {
            s.fill = Some(cs[0]);
            s.align = Some(cs[1]);
            i = 2;
        } else if !cs.is_empty() && is_align(cs[0]) {
            s.align = Some(cs[0]);
            i = 1;
        }
        if i < cs.len() && matches!(cs[i], '+' | '-' | ' ') {
            s.sign = Some(cs[i]);
            i += 1;
        }
        if i < cs.len() && cs[i] == '0' {
            s.zero = true;
            i += 1;
        }
        // A number too big for the address space is an error naming it;
        // any other width or precision is honoured (a huge one may then be
        // a MemoryError when the text is built).
        let digits = |i: &mut usize, what: &str| -> Result<Option<usize>> {
            let start = *i;
            while *i < cs.len() && cs[*i].is_ascii_digit() {
                *i += 1;
            }
            if *i == start {
                return Ok(None);
            }
            let text: String = cs[start..*i].iter().collect();
            text.parse()
                .map(Some)
                .map_err(|_| bad(format!("{what} {text} is too large")))
        };
        if let Some(w) = digits(&mut i, "width")? {
            s.width = w;
        }
        if i < cs.len() && matches!(cs[i], ',' | '_') {
            s.grouping = Some(cs[i]);
            i += 1;
        }
        if i < cs.len() && cs[i] == '.' {
            i += 1;
            s.precision = Some(digits(&mut i, "precision")?.ok_or_else(invalid)?);
        }
        if i < cs.len() && "sdfFeEgG%xXob".contains(cs[i]) {
            s.ty = Some(cs[i]);
            i += 1;
        }
        if i != cs.len() {
            return Err(invalid());
        }
        Ok(s)
    }

    fn render(&self, v: &Value) -> Result<String> {
        let mismatch = || {
            bad(format!(
                "spec '{}' cannot format {}",
                self.ty.map_or_else(|| "".to_string(), |c| c.to_string()),
                args::article(v.type_name())
            ))
        };
        let number = |v: &Value| -> Result<f64> {
            match v {
                Value::Int(i) => Ok(*i as f64),
                Value::Float(f) => Ok(*f),
                _ => Err(mismatch()),
            }
        };
        let numeric = matches!(v, Value::Int(_) | Value::Float(_));
        self.check_size(numeric)?;
        if !numeric && (self.sign.is_some() || self.grouping.is_some() || self.align == Some('=')) {
            return Err(bad(format!(
                "sign, grouping and '=' alignment need a number, not {}",
                args::article(v.type_name())
            )));
        }
        let (negative, body) = match (self.ty, v) {
            (None | Some('s'), Value::Str(s)) => return Ok(self.pad_text(s)),
            (Some('s'), other) => return Ok(self.pad_text(&other.to_string())),
            (None | Some('d'), Value::Int(_)) if self.precision.is_some() => {
                return Err(bad("an int takes no precision (use {:.2f} for decimals)"))
            }
            (None, Value::Int(i)) | (Some('d'), Value::Int(i)) => {
                (*i < 0, self.group(i.unsigned_abs().to_string()))
            }
            (Some(c @ ('x' | 'X' | 'o' | 'b')), Value::Int(i)) => {
                let n = i.unsigned_abs();
                let body = match c {
                    'x' => format!("{n:x}"),
                    'X' => format!("{n:X}"),
                    'o' => format!("{n:o}"),
                    _ => format!("{n:b}"),
                };
                (*i < 0, body)
            }
            (None, Value::Float(f)) => {
                let body = match self.precision {
                    None => format_float(f.abs()),
                    Some(p) => general(f.abs(), p, true),
                };
                (f.is_sign_negative() && !f.is_nan(), self.group(body))
            }
            (Some(c @ ('f' | 'F' | 'e' | 'E' | 'g' | 'G' | '%')), v) => {
                let f = number(v)?;
                let p = self.precision.unwrap_or(6);
                let a = f.abs();
                let body = match c {
                    'f' | 'F' => fixed(a, p),
                    'e' | 'E' => sci(a, p),
                    'g' | 'G' => general(a, p, false),
                    _ => {
                        let pct = fixed(a * 100.0, p);
                        format!("{pct}%")
                    }
                };
                let body = if c.is_ascii_uppercase() {
                    body.to_uppercase()
                } else {
                    body
                };
                (f.is_sign_negative() && !f.is_nan(), self.group(body))
            }
            (None, other) => return Ok(self.pad_text(&other.to_string())),
            _ => return Err(mismatch()),
        };
        Ok(self.pad_number(negative, body))
    }

    /// Checks that the text this spec asks for fits in memory: `width` fill
    /// characters, or `precision` digits of a number.
    fn check_size(&self, numeric: bool) -> Result<()> {
        let fill = self.fill.map_or(1, char::len_utf8);
        let width = self.width.saturating_mul(fill);
        memory::check(width, || format!("a field {} characters wide", self.width))?;
        if let (true, Some(p)) = (numeric, self.precision) {
            // Digits, plus the integer part of the largest float.
            memory::check(p.saturating_add(320), || format!("{p} digits"))?;
        }
        Ok(())
    }

    /// Inserts the grouping separator every 3 digits of the integer part.
    fn group(&self, body: String) -> String {
        let Some(sep) = self.grouping else {
            return body;
        };
        let int_end = body
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(body.len());
        let (int_part, tail) = body.split_at(int_end);
        let mut out = String::with_capacity(body.len() + body.len() / 3);
        for (i, c) in int_part.chars().enumerate() {
            if i > 0 && (int_part.len() - i) % 3 == 0 {
                out.push(sep);
            }
            out.push(c);
        }
        out.push_str(tail);
        out
    }

    fn pad_text(&self, s: &str) -> String {
        let s: String = match self.precision {
            Some(p) => s.chars().take(p).collect(),
            None => s.to_string(),
        };
        self.pad(s, '<')
    }

    fn pad_number(&self, negative: bool, body: String) -> String {
        let sign = if negative {
            "-"
        } else {
            match self.sign {
                Some('+') => "+",
                Some(' ') => " ",
                _ => "",
            }
        };
        let zero_pad = self.align == Some('=') || (self.zero && self.align.is_none());
        if zero_pad {
            let fill = if self.align == Some('=') {
                self.fill.unwrap_or(' ')
            } else {
                '0'
            };
            let len = sign.chars().count() + body.chars().count();
            let pad: String = std::iter::repeat(fill)
                .take(self.width.saturating_sub(len))
                .collect();
            return format!("{sign}{pad}{body}");
        }
        self.pad(format!("{sign}{body}"), '>')
    }

    fn pad(&self, s: String, default_align: char) -> String {
        let len = s.chars().count();
        if len >= self.width {
            return s;
        }
        let fill = self.fill.unwrap_or(if self.zero { '0' } else { ' ' });
        let n = self.width - len;
        let rep = |k: usize| std::iter::repeat(fill).take(k).collect::<String>();
        match self.align.unwrap_or(default_align) {
            '<' => format!("{s}{}", rep(n)),
            '^' => format!("{}{s}{}", rep(n / 2), rep(n - n / 2)),
            _ => format!("{}{s}", rep(n)),
        }
    }
}

/// Every finite float's exact decimal expansion has at most this many
/// digits after the point (2^-1074 has 1074), and at most this many
/// significant digits (767): past them, every digit is 0. Rust formats at
/// most 65,535 digits, so a longer precision is formatted at this one and
/// padded with zeros, which gives the exact digits Python prints.
const EXACT_DECIMALS: usize = 1100;

/// `f` (not negative) with `p` decimals; `inf`/`nan` spelled as Python does.
fn fixed(f: f64, p: usize) -> String {
    if !f.is_finite() {
        return nonfinite(f);
    }
    if p > EXACT_DECIMALS {
        let mut s = format!("{f:.EXACT_DECIMALS$}");
        s.extend(std::iter::repeat('0').take(p - EXACT_DECIMALS));
        return s;
    }
    format!("{f:.p$}")
}

fn nonfinite(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else {
        "inf".into()
    }
}

/// `f` (not negative) as `d.ddde±XX` with `p` decimals.
fn sci(f: f64, p: usize) -> String {
    if !f.is_finite() {
        return nonfinite(f);
    }
    let exact = p.min(EXACT_DECIMALS);
    let s = format!("{f:.exact$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let zeros = "0".repeat(p - exact);
    format!(
        "{mantissa}{zeros}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// Python's `g`: `p` significant digits, fixed or scientific by exponent,
/// trailing zeros removed. With `add_dot_0` (a float formatted with a
/// precision but no type), a fixed result keeps a `.0` and switches to
/// scientific one digit earlier, as Python does.
fn general(f: f64, p: usize, add_dot_0: bool) -> String {
    if !f.is_finite() {
        return nonfinite(f);
    }
    let p = p.max(1);
    // Past the exact digits, more precision cannot change the exponent.
    let s = format!("{f:.0$e}", (p - 1).min(EXACT_DECIMALS));
    let exp: i64 = s
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let strip = |s: String| -> String {
        if !s.contains('.') {
            s
        } else {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    };
    let limit = if add_dot_0 { p as i64 - 1 } else { p as i64 };
    if -4 <= exp && exp < limit {
        let fixed = strip(fixed(f, (p as i64 - 1 - exp) as usize));
        if add_dot_0 && !fixed.contains('.') {
            format!("{fixed}.0")
        } else {
            fixed
        }
    } else {
        let sci = sci(f, p - 1);
        let (m, e) = sci.split_once('e').unwrap_or((&sci, "+00"));
        format!("{}e{e}", strip(m.to_string()))
    }
}

//! The `WEFT_*` environment variables weft reads, and the warning for any
//! other `WEFT_`-prefixed variable (CONFIG.md, layer 3): a typo such as
//! `WEFT_WORKRES=4` must never be silently ignored.
//!
//! The `weft` command calls [`unknown_var_warnings`] on its environment
//! before it loads the configuration and prints each warning on stderr; the
//! run goes on. A bad *value* of a known variable is not a warning but a
//! usage error (the config layer reports it, exit status 2).
//!
//! Decisions where CONFIG.md is silent:
//! - The known names are the config variables (`ConfigKey::env_var`),
//!   `WEFT_CONFIG` (the config file) and `WEFT_PATH` (the module search
//!   path, LANGUAGE.md).
//! - The warning always names a known variable: the closest by the same
//!   "did you mean" measure as unknown config keys and options
//!   ([`crate::diagnostic::closest`]); when nothing is that close, the
//!   most similar one anyway, so the user sees what the names look like.
//! - Names are compared as written: `weft_workers` (lower case) is not a
//!   `WEFT_` variable, as the shell treats them as different names.

use crate::pool::ConfigKey;
use std::ffi::OsStr;

/// Variables weft reads that are not config keys.
const OTHER_VARS: [&str; 2] = ["WEFT_CONFIG", "WEFT_PATH"];

/// Every `WEFT_*` variable weft reads.
pub fn known_vars() -> Vec<&'static str> {
    ConfigKey::ALL
        .into_iter()
        .filter_map(ConfigKey::env_var)
        .chain(OTHER_VARS)
        .collect()
}

/// The known variable closest to `name`: a likely typo target if there is
/// one, else the most similar name.
fn closest_known(name: &str, known: &[&'static str]) -> &'static str {
    if let Some(best) = crate::diagnostic::closest(name, known.iter().copied()) {
        return best;
    }
    let mut best = known[0];
    let mut score = -1.0;
    for &k in known {
        let s = strsim::jaro_winkler(name, k);
        if s > score {
            (best, score) = (k, s);
        }
    }
    best
}

/// One warning line (without the trailing newline) for each variable among
/// `vars` whose name starts with `WEFT_` and that weft does not read, in
/// the order given:
/// `weft: warning: unknown environment variable WEFT_WORKRES (did you mean WEFT_WORKERS?)`.
pub fn unknown_var_warnings<I, K>(vars: I) -> Vec<String>
where
    I: IntoIterator<Item = K>,
    K: AsRef<OsStr>,
{
    let known = known_vars();
    let mut out = Vec::new();
    for name in vars {
        let name = name.as_ref().to_string_lossy();
        if !name.starts_with("WEFT_") || known.contains(&name.as_ref()) {
            continue;
        }
        let best = closest_known(&name, &known);
        out.push(format!(
            "weft: warning: unknown environment variable {name} (did you mean {best}?)"
        ));
    }
    out
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn known_variables_get_no_warning() {
        let vars: Vec<&str> = known_vars();
        assert!(vars.contains(&"WEFT_WORKERS"));
        assert!(vars.contains(&"WEFT_PATH"));
        assert!(unknown_var_warnings(vars).is_empty());
        assert!(unknown_var_warnings(["PATH", "HOME", "weft_workers", "WEFT"]).is_empty());
    }

    #[test]
    fn a_typo_names_the_closest_known_variable() {
        let w = unknown_var_warnings(["WEFT_WORKRES"]);
        assert_eq!(
            w,
            ["weft: warning: unknown environment variable WEFT_WORKRES (did you mean WEFT_WORKERS?)"]
        );
        let w = unknown_var_warnings(["WEFT_NUMA", "HOME", "WEFT_CONFG"]);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].contains("WEFT_NUMA (did you mean WEFT_NUMA_AWARE?)"),
            "{w:?}"
        );
        assert!(
            w[1].contains("WEFT_CONFG (did you mean WEFT_CONFIG?)"),
            "{w:?}"
        );
    }

    #[test]
    fn a_name_like_nothing_still_names_a_known_variable() {
        let w = unknown_var_warnings(["WEFT_ZZZZZZZZZZZZZZZZ"]);
        assert_eq!(w.len(), 1);
        let named = w[0]
            .split("(did you mean ")
            .nth(1)
            .and_then(|s| s.strip_suffix("?)"))
            .expect("a suggestion");
        assert!(known_vars().contains(&named), "{w:?}");
    }
}

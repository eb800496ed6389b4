//! Interned string constants: every string literal and field name the
//! compiler meets is stored once per process, immortal (so reading it from
//! any number of threads touches no reference count, see [`super::rc`]) and
//! with its hash computed. Map keys written from a constant are then the
//! same allocation as the constant that looks them up later, so the lookup
//! compares pointers before it would compare bytes.

use super::Str;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn table() -> &'static Mutex<HashSet<Str>> {
    static TABLE: OnceLock<Mutex<HashSet<Str>>> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The process-wide immortal copy of `s`.
pub fn intern(s: &str) -> Str {
    let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = t.get(s) {
        return found.clone();
    }
    let fresh = Str::new(s);
    fresh.make_immortal();
    fresh.hash_code();
    t.insert(fresh.clone());
    fresh
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn same_text_same_allocation() {
        let a = intern("interned key");
        let b = intern(&String::from("interned key"));
        assert!(Str::ptr_eq(&a, &b));
        assert!(!Str::ptr_eq(&a, &intern("other key")));
        assert!(!a.is_unique());
        let mut c = a.clone();
        c.make_mut().push_str("!");
        assert_eq!((a.as_str(), c.as_str()), ("interned key", "interned key!"));
    }
}

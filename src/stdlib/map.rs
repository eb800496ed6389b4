//! Map methods: `set(k, v) remove(k) clear()` mutate; `len() has(k)
//! get(k, default?) keys() values() items()` do not. Maps keep insertion
//! order, also across `remove`.

use super::args::{self, arity};
use super::Method;
use crate::error::Result;
use crate::ops::key_error;
use crate::value::{MapRef, Value};
use crate::vm::Vm;

/// Calls map method `m` on `map`; `Ok(None)` when `m` is not a map method
/// (the caller then looks for a key holding a function).
pub(crate) fn call(
    _vm: &mut Vm,
    map: &mut MapRef,
    m: Method,
    args: &[Value],
) -> Result<Option<Value>> {
    let v = match m {
        Method::Set => {
            arity("map.set", args, 2, 2)?;
            let k = args::key(&args[0])?;
            map.make_mut().insert(k, args[1].clone());
            Value::Nil
        }
        Method::Remove => {
            arity("map.remove", args, 1, 1)?;
            let k = args::key(&args[0])?;
            if !map.contains_key(&k) {
                return Err(key_error(&args[0]));
            }
            map.make_mut().remove(&k).unwrap_or_default()
        }
        Method::Clear => {
            arity("map.clear", args, 0, 0)?;
            match map.get_mut() {
                Some(m) => m.clear(),
                None => *map = MapRef::empty(),
            }
            Value::Nil
        }
        Method::Len => {
            arity("map.len", args, 0, 0)?;
            Value::Int(map.len() as i64)
        }
        Method::Has => {
            arity("map.has", args, 1, 1)?;
            Value::Bool(map.contains_key(&args::key(&args[0])?))
        }
        Method::Get => {
            arity("map.get", args, 1, 2)?;
            match map.get(&args::key(&args[0])?) {
                Some(v) => v.clone(),
                None => args.get(1).cloned().unwrap_or_default(),
            }
        }
        Method::Keys => {
            arity("map.keys", args, 0, 0)?;
            Value::list(map.keys().map(|k| k.0.clone()).collect())
        }
        Method::Values => {
            arity("map.values", args, 0, 0)?;
            Value::list(map.values().cloned().collect())
        }
        Method::Items => {
            arity("map.items", args, 0, 0)?;
            Value::list(
                map.iter()
                    .map(|(k, v)| Value::list(vec![k.0.clone(), v.clone()]))
                    .collect(),
            )
        }
        Method::Copy => {
            arity("map.copy", args, 0, 0)?;
            Value::Map(map.clone())
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

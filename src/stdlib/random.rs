//! Pseudo-random numbers: `random random_int random_seed`.
//!
//! Unseeded, each thread draws from its own `fastrand` generator, seeded
//! from the OS. After `random_seed(n)`, the calling task (or the main
//! script) draws from a [`Stream`] kept in its VM, and every task it spawns
//! afterwards gets its own stream derived from its parent's and from how
//! many tasks the parent had spawned before it; a `parallel_*` call counts
//! as one spawn, and each of its items draws from a stream derived from
//! the call's and the item's index. None of that depends on which thread
//! runs what, so a seeded script prints the same for any `--workers`.
//!
//! Decisions where LANGUAGE.md is silent:
//! - The generator is SplitMix64 (as Java's `SplittableRandom`): small,
//!   fast, and splittable by construction. It is not cryptographic.
//! - `random_seed` takes an int (any int); seeding affects the calling task
//!   and what it spawns afterwards, not tasks already running.
//! - A `parallel_reduce` combining function (run in an order that depends
//!   on scheduling) draws unseeded numbers.

use super::args::{self, arity};
use crate::error::{Error, Result};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "random",
        f: random,
    },
    NativeFn {
        name: "random_int",
        f: random_int,
    },
    NativeFn {
        name: "random_seed",
        f: random_seed,
    },
];

/// SplitMix64's increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (Stafford's mix13).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seeded stream of random numbers, and the count of streams derived
/// from it so far.
#[derive(Clone, Debug)]
pub struct Stream {
    /// Identifies the stream; children are derived from it.
    key: u64,
    state: u64,
    /// How many child streams were derived (tasks spawned, parallel calls).
    spawned: u64,
}

impl Stream {
    fn with_key(key: u64) -> Stream {
        Stream {
            key,
            state: key,
            spawned: 0,
        }
    }

    /// The stream `random_seed(seed)` starts.
    pub fn seeded(seed: i64) -> Stream {
        Stream::with_key(mix(seed as u64 ^ 0x5745_4654_5345_4544))
    }

    /// The stream of the `index`-th child of the stream with key `key`.
    pub fn derived(key: u64, index: u64) -> Stream {
        Stream::with_key(mix(key ^ mix(index.wrapping_add(1).wrapping_mul(GAMMA))))
    }

    /// The key of the next child stream (counts it).
    pub fn fork_key(&mut self) -> u64 {
        let n = self.spawned;
        self.spawned += 1;
        Stream::derived(self.key, n).key
    }

    /// The stream of the next task this one spawns (counts it).
    pub fn fork(&mut self) -> Stream {
        Stream::with_key(self.fork_key())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A float in `[0, 1)` with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An int in `lo..=hi` (`lo <= hi`), without modulo bias.
    fn next_in(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        if span > u64::MAX as u128 {
            return self.next_u64() as i64; // the whole i64 range
        }
        let span = span as u64;
        // Reject the top partial block so every value is equally likely.
        let zone = u64::MAX - (u64::MAX - span + 1) % span;
        loop {
            let r = self.next_u64();
            if r <= zone {
                return (lo as i128 + (r % span) as i128) as i64;
            }
        }
    }
}

/// `random()`: a float in `[0, 1)`.
fn random(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("random", args, 0, 0)?;
    Ok(Value::Float(match vm.rng_mut() {
        Some(s) => s.next_f64(),
        None => fastrand::f64(),
    }))
}

/// `random_int(lo, hi)`: an int in `[lo, hi]` (both ends included).
fn random_int(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("random_int", args, 2, 2)?;
    let lo = args::int("random_int", "lo", &args[0])?;
    let hi = args::int("random_int", "hi", &args[1])?;
    if lo > hi {
        return Err(Error::value_error(format!(
            "random_int() lo ({lo}) is greater than hi ({hi})"
        )));
    }
    Ok(Value::Int(match vm.rng_mut() {
        Some(s) => s.next_in(lo, hi),
        None => fastrand::i64(lo..=hi),
    }))
}

/// `random_seed(n)`: from now on, this task's numbers (and those of the
/// tasks it spawns) come from streams derived from `n`.
fn random_seed(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("random_seed", args, 1, 1)?;
    let seed = args::int("random_seed", "seed", &args[0])?;
    vm.set_rng(Some(Stream::seeded(seed)));
    Ok(Value::Nil)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |mut s: Stream| (0..4).map(|_| s.next_u64()).collect::<Vec<_>>();
        assert_eq!(draw(Stream::seeded(7)), draw(Stream::seeded(7)));
        assert_ne!(draw(Stream::seeded(7)), draw(Stream::seeded(8)));
        let mut parent = Stream::seeded(7);
        let (a, b) = (parent.fork(), parent.fork());
        assert_ne!(draw(a.clone()), draw(b));
        assert_ne!(draw(a), draw(Stream::seeded(7)));
        // A child depends only on the parent's key and its index.
        let mut again = Stream::seeded(7);
        again.next_u64();
        assert_eq!(draw(again.fork()), draw(Stream::seeded(7).fork()));
    }

    #[test]
    fn ints_stay_in_range_and_cover_it() {
        let mut s = Stream::seeded(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = s.next_in(-3, 3);
            assert!((-3..=3).contains(&v));
            seen[(v + 3) as usize] = true;
        }
        assert!(seen.iter().all(|&b| b));
        assert_eq!(s.next_in(5, 5), 5);
        let full = s.next_in(i64::MIN, i64::MAX);
        let _ = full; // any value is in range
        let big = s.next_in(i64::MAX - 1, i64::MAX);
        assert!(big >= i64::MAX - 1);
        for _ in 0..100 {
            let f = s.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
    }
}

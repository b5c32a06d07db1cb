//! Hash maps keyed by symbol and section names, with a fast hasher (used by the table
//! builder and the linker model).
//!
//! The standard library's SipHash resists hash flooding, which matters for untrusted keys;
//! the names here come from the link's own inputs, and a link hashes hundreds of thousands
//! of them, so these maps use the multiply-rotate hash of rustc's `FxHasher` instead.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// rustc's FxHasher: per machine word, rotate, xor, multiply.
#[derive(Clone, Copy, Debug, Default)]
pub struct NameHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`NameHasher`].
pub type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

/// A `HashSet` with [`NameHasher`].
pub type NameSet<K> = HashSet<K, BuildHasherDefault<NameHasher>>;

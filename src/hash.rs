//! The hash map of webcnn's caches (pipelines, bind groups, uniforms, free buffers): FNV-1a
//! hashing in place of std's SipHash. The keys come from webcnn itself, not from callers, so
//! they need no defence against chosen collisions. FNV-1a is a few lines of code, where SipHash
//! and its random keys were 3.2 KB of the wasm module (1.2 KB gzipped).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` that hashes with [`Fnv1a`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

/// The 64-bit FNV-1a hash.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

//! Helpers shared by the GPU integration tests.

#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::tensor::Tensor;

/// Opens the default adapter (lavapipe on machines without a GPU).
pub fn gpu() -> Gpu {
    pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU adapter")
}

/// Seeded random values in [-1, 1).
pub fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// Reads a tensor back.
pub fn read(gpu: &Gpu, t: &Tensor) -> Vec<f32> {
    pollster::block_on(t.to_vec(gpu)).expect("readback")
}

/// Reads a u32 tensor back.
pub fn read_u32(gpu: &Gpu, t: &Tensor) -> Vec<u32> {
    pollster::block_on(t.to_vec_u32(gpu)).expect("readback")
}

/// Asserts `|got - want| <= tol * (1 + |want|)` elementwise, naming the first bad index.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: element {i} is {g}, reference {w}"
        );
    }
}

//! Tile and split-K choices for the GEMM-shaped kernels (conv2d.wgsl and matmul.wgsl share the
//! tiled core in gemm.wgsl).

use crate::gpu::{Gpu, Kernel};

/// K values per step through workgroup memory.
// NOTE: a first conv layer's K of 9 fills 9 of the 16 slots of two steps, and its forward pass
// ran 1.2x to 1.5x slower on SwiftShader than with the earlier step of 4 for 32-column tiles.
const TILE_K: u32 = 8;
/// Workgroups worth filling the device with before splitting K.
const TARGET_WORKGROUPS: u32 = 64;
/// Shortest K range worth a split-K slice of its own.
const MIN_SLICE_K: u32 = 256;

/// Launch shape of one GEMM: tiles, grid and split-K slice length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GemmPlan {
    /// Rows of C per workgroup.
    pub tile_m: u32,
    /// Columns of C per workgroup.
    pub tile_n: u32,
    /// K range of one slice (a multiple of the K step [`TILE_K`]).
    pub k_slice: u32,
    /// Number of split-K slices (the grid's z).
    pub slices: u32,
    /// Workgroup grid.
    pub grid: [u32; 3],
}

impl GemmPlan {
    /// Rows of C per workgroup.
    pub const TILE_M: u32 = 64;

    /// Plans C[m, n] = A[m, k] B[k, n]; with `split_k`, K is cut into slices when the tiles alone
    /// would leave the device idle.
    pub fn new(gpu: &Gpu, m: usize, n: usize, k: usize, split_k: bool) -> Self {
        let (m, n, k) = (m as u32, n as u32, k as u32);
        let tile_n = match n {
            0..=16 => 16,
            17..=32 => 32,
            _ => 64,
        };
        // Must match gemm.wgsl: 64-row tiles and a K step of 8.
        let tiles = m.div_ceil(Self::TILE_M) * n.div_ceil(tile_n);
        let mut slices = 1;
        if split_k && tiles < TARGET_WORKGROUPS {
            slices = (TARGET_WORKGROUPS / tiles).min(k / MIN_SLICE_K).max(1);
        }
        let k_slice = k.div_ceil(slices).next_multiple_of(TILE_K).max(TILE_K);
        let slices = k.div_ceil(k_slice).max(1);
        let grid = [n.div_ceil(tile_n), m.div_ceil(Self::TILE_M), slices];
        let max = gpu.limits.max_compute_workgroups_per_dimension;
        // NOTE: GEMM grids are not split per dimension; the model splits batches instead, which
        // keeps M = batch * OH * OW below 64 * 65,535 rows for any image that fits a buffer.
        assert!(
            grid[1] <= max,
            "GEMM with {m} rows exceeds the workgroup grid limit"
        );
        Self {
            tile_m: Self::TILE_M,
            tile_n,
            k_slice,
            slices,
            grid,
        }
    }

    /// The GEMM kernel of `module` with this plan's tile defines.
    pub fn kernel(&self, module: &'static str) -> Kernel {
        Kernel::new(module, "main").define("BN", self.tile_n)
    }

    /// Rows of C that the workgroup grid of `gpu` can cover.
    pub fn max_rows(gpu: &Gpu) -> usize {
        Self::TILE_M as usize * gpu.limits.max_compute_workgroups_per_dimension as usize
    }
}

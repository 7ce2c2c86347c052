//! Grid and split-K choices for the GEMM-shaped kernels (conv2d.wgsl and matmul.wgsl share the
//! register-blocked core in gemm.wgsl).

use crate::gpu::{Gpu, Kernel};

/// K values per step of the K loop.
const TILE_K: u32 = 4;
/// Threads per workgroup (must match THREADS in gemm.wgsl).
const THREADS: u32 = 64;
/// Threads worth filling the device with before splitting K.
const TARGET_THREADS: u32 = 256;
/// Shortest K range worth a split-K slice of its own.
const MIN_SLICE_K: u32 = 256;
/// Most runs of k that [`Access::k_runs`] can mark (the bits of a u32 mask in gemm.wgsl).
pub(crate) const MAX_K_RUNS: usize = 32;

/// Load pattern of B in the GEMM core (the sections of gemm.wgsl).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BLoad {
    /// One value at a time.
    Scalar,
    /// B[k, n .. n + 3] as one vec4: rows are contiguous in n.
    Rows4,
    /// B[k .. k + 3, n] as one vec4: four consecutive k are contiguous.
    Cols4,
}

/// Operand access of the GEMM core: which operands move as vec4. On SwiftShader one vec4 load
/// cost about half as much as four f32 loads in a standalone product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Access {
    /// A[m, k .. k + 3] as one vec4 (the op module's `a_quad`).
    pub a_vec4: bool,
    /// Load pattern of B.
    pub b: BLoad,
    /// C[m, n .. n + 3] stored as one vec4.
    pub c_vec4: bool,
    /// With `c_vec4`, the core adds the op's per-column `bias` before `store_c4`.
    pub bias: bool,
    /// A has runs of zeros along k that the op's `a_runs` marks per row, and a thread skips the
    /// runs that are dead in all its rows (the core's K_RUNS).
    pub k_runs: bool,
}

impl Access {
    /// Every operand one f32 at a time.
    pub const SCALAR: Access = Access {
        a_vec4: false,
        b: BLoad::Scalar,
        c_vec4: false,
        bias: false,
        k_runs: false,
    };
}

/// Launch shape of one GEMM: grid and split-K slice length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GemmPlan {
    /// K range of one slice (a multiple of the K step [`TILE_K`]).
    pub k_slice: u32,
    /// Number of split-K slices.
    pub slices: u32,
    /// Workgroup grid.
    pub grid: [u32; 3],
}

impl GemmPlan {
    /// Rows (and columns) of C per thread (must match the 16 x 16 block of gemm.wgsl).
    pub const BLOCK: u32 = 16;

    /// Plans C[m, n] = A[m, k] B[k, n]; with `split_k`, K is cut into slices when the blocks
    /// alone would leave the device idle.
    pub fn new(gpu: &Gpu, m: usize, n: usize, k: usize, split_k: bool) -> Self {
        let (m, n, k) = (m as u32, n as u32, k as u32);
        let blocks = m.div_ceil(Self::BLOCK) * n.div_ceil(Self::BLOCK);
        let mut slices = 1;
        if split_k && blocks < TARGET_THREADS {
            slices = (TARGET_THREADS / blocks).min(k / MIN_SLICE_K).max(1);
        }
        let k_slice = k.div_ceil(slices).next_multiple_of(TILE_K).max(TILE_K);
        let slices = k.div_ceil(k_slice).max(1);
        let grid = [
            (m.div_ceil(Self::BLOCK) * slices).div_ceil(THREADS),
            n.div_ceil(Self::BLOCK),
            1,
        ];
        let max = gpu.limits.max_compute_workgroups_per_dimension;
        // NOTE: GEMM grids are not split per dimension; the model splits batches instead, which
        // keeps M = batch * OH * OW below 1024 * 65,535 rows for any image that fits a buffer.
        assert!(
            grid[0] <= max && grid[1] <= max,
            "GEMM of {m} x {n} exceeds the workgroup grid limit"
        );
        Self {
            k_slice,
            slices,
            grid,
        }
    }

    /// Builds the GEMM kernel of `module`, which reads and writes its operands as `access` selects.
    pub fn kernel(&self, module: &'static str, access: Access) -> Kernel {
        let b_vec4 = access.b != BLoad::Scalar;
        let c_bias = access.c_vec4 && access.bias;
        Kernel::new(module, "main")
            .define("A_SCALAR", !access.a_vec4 as u32)
            .define("A_VEC4", access.a_vec4 as u32)
            .define("B_SCALAR", !b_vec4 as u32)
            .define("B_VEC4", b_vec4 as u32)
            .define("B_ROWS4", (access.b == BLoad::Rows4) as u32)
            .define("B_COLS4", (access.b == BLoad::Cols4) as u32)
            .define("C_SCALAR", !access.c_vec4 as u32)
            .define("C_VEC4", access.c_vec4 as u32)
            .define("C_BIAS", c_bias as u32)
            .define("C_NO_BIAS", !c_bias as u32)
            .define("K_RUNS", access.k_runs as u32)
            .define("K_ALL", !access.k_runs as u32)
    }

    /// Rows of C that the workgroup grid of `gpu` can cover.
    pub fn max_rows(gpu: &Gpu) -> usize {
        (Self::BLOCK * THREADS) as usize * gpu.limits.max_compute_workgroups_per_dimension as usize
    }
}

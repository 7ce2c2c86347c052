//! Deterministic reductions (reduce.wgsl): summing split-K slices and column sums for bias
//! gradients.

use crate::gpu::{Gpu, Kernel, ELEMENTWISE_WORKGROUP};
use crate::tensor::Tensor;

/// Rows per chunk of `column_sums` (must match `ROWS_PER_CHUNK` in reduce.wgsl).
const ROWS_PER_CHUNK: usize = 256;

/// Uniform of reduce.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ReduceParams {
    len: u32,
    slices: u32,
    rows: u32,
    cols: u32,
}

/// out = sum over `slices` equal parts of `parts` (plus out when `accumulate`).
pub fn sum_slices(gpu: &Gpu, parts: &Tensor, slices: usize, out: &Tensor, accumulate: bool) {
    assert_eq!(
        parts.len(),
        slices * out.len(),
        "slices do not match the output size"
    );
    let params = ReduceParams {
        len: out.len() as u32,
        slices: slices as u32,
        rows: 0,
        cols: 0,
    };
    let kernel = Kernel::new("reduce", "sum_slices")
        .define("SUM_SLICES", 1)
        .define("ACCUMULATE", accumulate as u32);
    let storage = [parts.binding(), out.binding()];
    gpu.dispatch(&kernel, &params, &storage, gpu.grid_elements(out.len()));
}

/// out[c] = sum over rows of x[r, c] for x `[rows, cols]` (plus out when `accumulate`).
pub fn column_sums(
    gpu: &Gpu,
    x: &Tensor,
    rows: usize,
    cols: usize,
    out: &Tensor,
    accumulate: bool,
) {
    let chunks = rows.div_ceil(ROWS_PER_CHUNK);
    let parts = Tensor::empty(gpu, &[chunks, cols]);
    let params = ReduceParams {
        len: cols as u32,
        slices: chunks as u32,
        rows: rows as u32,
        cols: cols as u32,
    };
    let kernel = Kernel::new("reduce", "column_sums").define("COLUMN_SUMS", 1);
    let grid = [
        (cols as u32).div_ceil(ELEMENTWISE_WORKGROUP),
        chunks as u32,
        1,
    ];
    gpu.dispatch(&kernel, &params, &[x.binding(), parts.binding()], grid);
    sum_slices(gpu, &parts, chunks, out, accumulate);
}

/// Bias gradient of a conv or dense layer: dy summed over all axes but the last, into `db` (or
/// added to it with `accumulate`).
pub fn bias_backward(gpu: &Gpu, dy: &Tensor, db: &Tensor, accumulate: bool) {
    let channels = db.len();
    column_sums(gpu, dy, dy.len() / channels, channels, db, accumulate);
}

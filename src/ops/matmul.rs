//! Matrix products for dense layers (matmul.wgsl + gemm.wgsl): x `[batch, in]`, w `[in, out]`.
//! forward y = act(x w + b), input gradient dx = dy w^T, weight gradient dw = x^T dy.

use super::gemm::{Access, BLoad, GemmPlan};
use super::{reduce, Activation};
use crate::gpu::Gpu;
use crate::tensor::Tensor;

/// Uniform of matmul.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    k_slice: u32,
}

/// Picks the vec4 accesses that the layouts allow: four consecutive k of A or of a transposed B, four
/// consecutive n of B or C.
fn matmul_access(
    [_, k, n]: [usize; 3],
    transpose_a: bool,
    transpose_b: bool,
    bias: bool,
) -> Access {
    let b = match (transpose_b, k % 4 == 0, n % 4 == 0) {
        (true, true, _) => BLoad::Cols4,
        (false, _, true) => BLoad::Rows4,
        _ => BLoad::Scalar,
    };
    Access {
        a_vec4: !transpose_a && k % 4 == 0,
        b,
        c_vec4: n % 4 == 0,
        bias,
        k_runs: false,
    }
}

/// C `[m, n]` = op(A) op(B), where A is stored `[m, k]` (or `[k, m]` when `transpose_a`) and B
/// `[k, n]` (or `[n, k]` when `transpose_b`). Written into `c`, or added to it with `accumulate`.
#[allow(clippy::too_many_arguments)]
pub fn matmul_into(
    gpu: &Gpu,
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    [m, k, n]: [usize; 3],
    transpose_a: bool,
    transpose_b: bool,
    accumulate: bool,
) {
    assert_eq!(a.len(), m * k, "matmul A shape");
    assert_eq!(b.len(), k * n, "matmul B shape");
    assert_eq!(c.len(), m * n, "matmul C shape");
    let plan = GemmPlan::new(gpu, m, n, k, true);
    let access = matmul_access([m, k, n], transpose_a, transpose_b, false);
    let kernel = Activation::Linear
        .define(plan.kernel("matmul", access))
        .define("NO_BIAS", 1)
        .define("TRANSPOSE_A", transpose_a as u32)
        .define("TRANSPOSE_B", transpose_b as u32);
    let params = MatmulParams {
        m: m as u32,
        n: n as u32,
        k: k as u32,
        k_slice: plan.k_slice,
    };
    if plan.slices == 1 && !accumulate {
        gpu.dispatch(
            &kernel,
            &params,
            &[a.binding(), b.binding(), c.binding()],
            plan.grid,
        );
        return;
    }
    let partials = Tensor::empty(gpu, &[plan.slices as usize, m * n]);
    gpu.dispatch(
        &kernel,
        &params,
        &[a.binding(), b.binding(), partials.binding()],
        plan.grid,
    );
    reduce::sum_slices(gpu, &partials, plan.slices as usize, c, accumulate);
}

/// Dense forward: y `[batch, out]` = act(x w + bias).
pub fn dense_forward(gpu: &Gpu, x: &Tensor, w: &Tensor, bias: &Tensor, act: Activation) -> Tensor {
    assert!(
        act != Activation::Softmax,
        "softmax is not fused into dense"
    );
    let units = bias.len();
    let inputs = w.len() / units;
    let batch = x.len() / inputs;
    assert_eq!(x.len(), batch * inputs, "dense input shape");
    let y = Tensor::empty(gpu, &[batch, units]);
    let plan = GemmPlan::new(gpu, batch, units, inputs, false);
    let access = matmul_access([batch, inputs, units], false, false, true);
    let kernel = act
        .define(plan.kernel("matmul", access))
        .define("BIAS", 1)
        .define("TRANSPOSE_A", 0)
        .define("TRANSPOSE_B", 0);
    let params = MatmulParams {
        m: batch as u32,
        n: units as u32,
        k: inputs as u32,
        k_slice: plan.k_slice,
    };
    let storage = [x.binding(), w.binding(), y.binding(), bias.binding()];
    gpu.dispatch(&kernel, &params, &storage, plan.grid);
    y
}

/// Dense input gradient: dx `[batch, in]` = dy w^T.
pub fn dense_backward_input(gpu: &Gpu, dy: &Tensor, w: &Tensor, inputs: usize) -> Tensor {
    let units = w.len() / inputs;
    let batch = dy.len() / units;
    let dx = Tensor::empty(gpu, &[batch, inputs]);
    matmul_into(gpu, dy, w, &dx, [batch, units, inputs], false, true, false);
    dx
}

/// Dense weight gradient: dw `[in, out]` = x^T dy, written into `dw` (or added).
pub fn dense_backward_weight(gpu: &Gpu, x: &Tensor, dy: &Tensor, dw: &Tensor, accumulate: bool) {
    let units = dy.shape()[dy.shape().len() - 1];
    let inputs = dw.len() / units;
    let batch = x.len() / inputs;
    matmul_into(
        gpu,
        x,
        dy,
        dw,
        [inputs, batch, units],
        true,
        false,
        accumulate,
    );
}

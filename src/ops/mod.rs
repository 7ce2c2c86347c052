//! GPU ops: one file per op family, forward and backward side by side.

pub mod activation;
pub mod augment;
pub mod conv;
pub mod dropout;
mod gemm;
pub mod geometry;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod reduce;

use serde::{Deserialize, Serialize};

pub use geometry::{Conv2dGeometry, Conv2dSpec, Padding, Pool2dGeometry};

/// Rows of a GEMM (batch * OH * OW for a conv) that fit the workgroup grid of `gpu`.
pub fn gemm_max_rows(gpu: &crate::gpu::Gpu) -> usize {
    gemm::GemmPlan::max_rows(gpu)
}

/// Elementwise (or, for softmax, row-wise) activation applied after a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Identity, `f(x) = x`.
    #[default]
    Linear,
    /// `max(x, 0)`; the gradient at exactly 0 is 0.
    Relu,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Softmax over the last axis.
    Softmax,
}

impl Activation {
    /// Code of the activation in the WGSL kernels (`ACT_*` constants).
    pub fn code(self) -> u32 {
        match self {
            Activation::Linear => 0,
            Activation::Relu => 1,
            Activation::Sigmoid => 2,
            Activation::Tanh => 3,
            Activation::Softmax => 4,
        }
    }
}

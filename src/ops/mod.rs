//! GPU ops: one file per op family, forward and backward side by side.

pub mod activation;
pub mod augment;
pub mod conv;
mod conv_direct;
pub mod crop;
pub mod depthwise;
pub mod dropout;
mod gemm;
pub mod geometry;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod reduce;

use crate::gpu::Kernel;
use crate::json::{self, Fields, FromJson, Json, JsonResult, ToJson};
use crate::number::Shortest;

pub use geometry::{Conv2dGeometry, Conv2dSpec, Padding, Pool2dGeometry};

/// Rows of a GEMM (batch * OH * OW for a conv) that fit the workgroup grid of `gpu`.
pub fn gemm_max_rows(gpu: &crate::gpu::Gpu) -> usize {
    gemm::GemmPlan::max_rows(gpu)
}

/// Elementwise (or, for softmax, row-wise) activation applied after a layer.
///
/// In JSON, every activation but leaky ReLU is a string (`"relu"`); leaky ReLU is an object with
/// its slope, `{"leaky_relu": {"alpha": 0.1}}`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
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
    /// `x` for `x > 0`, else `alpha * x`, as Keras's `LeakyReLU` and tfjs's `leakyRelu`.
    LeakyRelu {
        /// Slope for negative inputs, finite and at least 0, so that the sign of the output is
        /// the sign of the input and the gradient can be read from the output.
        alpha: f32,
    },
}

/// The names of the activations written as strings, in [`Activation::code`] order.
const ACTIVATION_NAMES: [&str; 5] = ["linear", "relu", "sigmoid", "tanh", "softmax"];

/// The slope of `{"leaky_relu": {"alpha": ...}}`.
struct LeakyReluFields {
    alpha: f32,
}

json::to_json!(LeakyReluFields { alpha });
json::from_json!(LeakyReluFields { alpha });

impl FromJson for Activation {
    fn from_json(value: &Json) -> JsonResult<Self> {
        if value.is_object() {
            let fields = Fields::of(value, &["leaky_relu"])?;
            let LeakyReluFields { alpha } = fields.required("leaky_relu")?;
            return Ok(Activation::LeakyRelu { alpha });
        }
        let variants = [
            Activation::Linear,
            Activation::Relu,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Softmax,
        ];
        if value.as_str() == Some("leaky_relu") {
            return Err(json::JsonError::new(
                "leaky_relu needs its slope, written {\"leaky_relu\": {\"alpha\": 0.1}}",
            ));
        }
        let index = ACTIVATION_NAMES
            .iter()
            .position(|name| value.as_str() == Some(name));
        index.map(|i| variants[i]).ok_or_else(|| {
            let mut names = ACTIVATION_NAMES.to_vec();
            names.push("leaky_relu");
            json::unknown_variant(value, &names)
        })
    }
}

impl ToJson for Activation {
    fn write_json(&self, out: &mut String) {
        match *self {
            Activation::LeakyRelu { alpha } => {
                json::write_object(out, &[("leaky_relu", &LeakyReluFields { alpha })]);
            }
            other => ACTIVATION_NAMES[other.code() as usize].write_json(out),
        }
    }
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
            Activation::LeakyRelu { .. } => 5,
        }
    }

    /// Returns whether the GEMM kernels (conv2d.wgsl, matmul.wgsl through act.wgsl) can apply this
    /// activation: every one but softmax, which is row-wise.
    pub fn is_gemm_fusable(self) -> bool {
        self != Activation::Softmax
    }

    /// Sets act.wgsl's placeholders of `kernel` for this activation: its code and, for leaky
    /// ReLU, the bits of its slope.
    pub(crate) fn define(self, kernel: Kernel) -> Kernel {
        let alpha = match self {
            Activation::LeakyRelu { alpha } => alpha,
            _ => 0.0,
        };
        kernel
            .define("ACT", self.code())
            .define("ALPHA_BITS", alpha.to_bits())
    }

    /// Checks the activation's settings; the error names the bad value.
    pub fn check(self) -> Result<(), String> {
        match self {
            Activation::LeakyRelu { alpha } if !(alpha.is_finite() && alpha >= 0.0) => {
                Err(format!(
                    "leaky_relu alpha must be a finite number of at least 0, got {}",
                    Shortest(alpha)
                ))
            }
            _ => Ok(()),
        }
    }
}

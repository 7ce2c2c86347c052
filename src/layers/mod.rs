//! Layers. Every layer follows one contract ([`Layer`]): an output shape per example, the shapes
//! of its parameters in the model's parameter arena, a forward pass that returns what its
//! backward pass needs, and a backward pass that writes parameter gradients and returns dx.

mod activation;
mod config;
mod conv2d;
mod dense;
mod depthwise;
mod dropout;
mod flatten;
mod pool;

use crate::gpu::Gpu;
use crate::ops::Activation;
use crate::tensor::Tensor;

pub use config::{
    Conv2dConfig, DenseConfig, DepthwiseConv2dConfig, Initializer, LayerConfig, PoolConfig,
};

/// Location of one parameter tensor in the parameter arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamSlot {
    /// Parameter name within its layer (`kernel` or `bias`).
    pub name: &'static str,
    /// First element in the arena (aligned for storage bindings).
    pub offset: usize,
    /// Shape (HWIO for conv kernels, `[in, out]` for dense kernels).
    pub shape: Vec<usize>,
    /// How the parameter starts.
    pub init: ParamInit,
}

/// Starting values of a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamInit {
    /// All zeros (biases).
    Zeros,
    /// Random kernel values.
    Kernel {
        /// Distribution.
        initializer: Initializer,
        /// Inputs per output: KH * KW * C_in for conv, `in` for dense.
        fan_in: usize,
        /// Outputs per input: KH * KW * C_out for conv, `out` for dense.
        fan_out: usize,
    },
}

impl ParamSlot {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// True for a zero-sized parameter.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a pass needs besides the layer input.
pub struct Pass<'a> {
    /// The device.
    pub gpu: &'a Gpu,
    /// Parameter arena.
    pub params: &'a Tensor,
    /// Gradient arena (same layout as `params`).
    pub grads: &'a Tensor,
    /// Training mode (dropout active).
    pub training: bool,
    /// Per-step scalars `[lr, 1 - beta1^t, 1 - beta2^t, seed]`; dropout reads the seed.
    pub step: &'a Tensor,
    /// Add parameter gradients to the arena instead of overwriting (later chunks of a split batch).
    pub accumulate: bool,
}

impl Pass<'_> {
    /// View of a parameter.
    pub fn param(&self, slot: &ParamSlot) -> Tensor {
        self.params.view(slot.offset, &slot.shape)
    }

    /// View of a parameter's gradient.
    pub fn grad(&self, slot: &ParamSlot) -> Tensor {
        self.grads.view(slot.offset, &slot.shape)
    }
}

/// Tensors kept from the forward pass for the backward pass.
#[derive(Default)]
pub struct Saved {
    /// Layer input.
    pub input: Option<Tensor>,
    /// Layer output.
    pub output: Option<Tensor>,
    /// Argmax of max pooling or the dropout mask.
    pub aux: Option<Tensor>,
}

impl Saved {
    /// Saves a layer's input and output, which layers with weights read in their backward pass.
    fn input_output(x: &Tensor, y: &Tensor) -> Self {
        Self {
            input: Some(x.clone()),
            output: Some(y.clone()),
            aux: None,
        }
    }
}

/// Returns the gradient of the loss with respect to a layer's pre-activation values, from the
/// gradient `dy` of its output `y`. A softmax layer is trained only through the fused loss,
/// which hands back the gradient of the logits, so softmax passes `dy` through like linear.
fn pre_activation_grad(pass: &Pass, act: Activation, y: &Tensor, dy: &Tensor) -> Tensor {
    match act {
        Activation::Linear | Activation::Softmax => dy.clone(),
        act => crate::ops::activation::activation_backward(pass.gpu, act, y, dy),
    }
}

/// The contract every layer follows.
pub trait Layer {
    /// Shape of one example's output.
    fn output_shape(&self) -> &[usize];

    /// Parameter slots in the arena (empty for layers without parameters).
    fn params(&self) -> &[ParamSlot] {
        &[]
    }

    /// Activation applied at the end of the layer.
    fn activation(&self) -> Activation {
        Activation::Linear
    }

    /// Forward pass of a batch. With `logits`, a final softmax is left out (the fused loss
    /// applies it).
    fn forward(&self, pass: &Pass, x: &Tensor, logits: bool) -> (Tensor, Saved);

    /// Backward pass: writes parameter gradients (unless frozen) and returns dx when `need_dx`.
    fn backward(&self, pass: &Pass, saved: &Saved, dy: &Tensor, need_dx: bool) -> Option<Tensor>;
}

/// Builds the layer for `config` on per-example input `input`, with its parameters placed from
/// arena element `offset` (each aligned to `align` elements). Returns the layer and the next
/// free offset.
pub fn build(
    config: &LayerConfig,
    index: usize,
    input: &[usize],
    offset: usize,
    align: usize,
) -> crate::Result<(Box<dyn Layer>, usize)> {
    let mut next = offset;
    let mut slot = |name: &'static str, shape: Vec<usize>, init: ParamInit| {
        let placed = ParamSlot {
            name,
            offset: next,
            shape,
            init,
        };
        next = (next + placed.len()).next_multiple_of(align);
        placed
    };
    let layer: Box<dyn Layer> = match config {
        LayerConfig::Conv2d(c) => Box::new(conv2d::Conv2d::new(c, index, input, &mut slot)?),
        LayerConfig::Dense(c) => Box::new(dense::Dense::new(c, index, input, &mut slot)?),
        LayerConfig::MaxPool2d(c) => Box::new(pool::Pool2d::new(c, true, index, input)?),
        LayerConfig::AvgPool2d(c) => Box::new(pool::Pool2d::new(c, false, index, input)?),
        LayerConfig::Flatten => Box::new(flatten::Flatten::new(input)),
        LayerConfig::Activation { activation } => {
            Box::new(activation::ActivationLayer::new(*activation, input))
        }
        LayerConfig::Dropout { rate } => Box::new(dropout::Dropout::new(*rate, index, input)?),
        LayerConfig::DepthwiseConv2d(c) => {
            Box::new(depthwise::DepthwiseConv2d::new(c, index, input, &mut slot)?)
        }
    };
    layer
        .activation()
        .check()
        .map_err(|e| crate::Error::Config(format!("layer {index}: {e}")))?;
    Ok((layer, next))
}

/// The part of `act` that the GEMM kernels apply: `act` itself, or linear when the layer must
/// apply `act` in its own pass (see [`Activation::is_gemm_fusable`]).
fn gemm_part(act: Activation) -> Activation {
    if act.is_gemm_fusable() {
        act
    } else {
        Activation::Linear
    }
}

/// Rows of a batch tensor: the batch size.
fn batch_of(x: &Tensor, per_example: &[usize]) -> usize {
    x.len() / per_example.iter().product::<usize>()
}

/// Shape of a batch: `[batch, ..per_example]`.
fn batched(batch: usize, per_example: &[usize]) -> Vec<usize> {
    let mut shape = vec![batch];
    shape.extend_from_slice(per_example);
    shape
}

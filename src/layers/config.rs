//! Serde configuration of layers, as stored in a model's JSON config.

use serde::{Deserialize, Serialize};

use crate::ops::{Activation, Padding};

fn one_by_one() -> [usize; 2] {
    [1, 1]
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// How a kernel is initialised; fans include the kernel's spatial size (KH * KW * channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Initializer {
    /// Uniform in ±sqrt(6 / (fan_in + fan_out)) (Keras's default).
    #[default]
    GlorotUniform,
    /// Normal with std sqrt(2 / (fan_in + fan_out)), truncated at 2 std.
    GlorotNormal,
    /// Uniform in ±sqrt(6 / fan_in).
    HeUniform,
    /// Normal with std sqrt(2 / fan_in), truncated at 2 std.
    HeNormal,
}

/// A 2-D convolution layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dConfig {
    /// Number of output channels (filters).
    pub filters: usize,
    /// Kernel size [height, width].
    pub kernel_size: [usize; 2],
    /// Stride [height, width]; default [1, 1].
    #[serde(default = "one_by_one")]
    pub strides: [usize; 2],
    /// Padding, `valid` (default) or `same`.
    #[serde(default)]
    pub padding: Padding,
    /// Dilation [height, width]; default [1, 1].
    #[serde(default = "one_by_one")]
    pub dilation: [usize; 2],
    /// Activation after the bias; default `linear`.
    #[serde(default)]
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`. Biases start at zero.
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Whether training updates this layer; default true.
    #[serde(default = "yes")]
    pub trainable: bool,
}

/// A depthwise 2-D convolution layer, as Keras's `DepthwiseConv2D`: each input channel is
/// convolved with its own `depth_multiplier` filters. Weights `[KH, KW, C, depth_multiplier]`,
/// bias `[C * depth_multiplier]`. Followed by a 1x1 `conv2d`, it forms a separable convolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthwiseConv2dConfig {
    /// Kernel size [height, width].
    pub kernel_size: [usize; 2],
    /// Output channels per input channel; default 1.
    #[serde(default = "one")]
    pub depth_multiplier: usize,
    /// Stride [height, width]; default [1, 1].
    #[serde(default = "one_by_one")]
    pub strides: [usize; 2],
    /// Padding, `valid` (default) or `same`.
    #[serde(default)]
    pub padding: Padding,
    /// Dilation [height, width]; default [1, 1].
    #[serde(default = "one_by_one")]
    pub dilation: [usize; 2],
    /// Activation after the bias; default `linear`.
    #[serde(default)]
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`, with fans KH * KW * C and
    /// KH * KW * depth_multiplier as Keras computes them. Biases start at zero.
    #[serde(default)]
    pub depthwise_initializer: Initializer,
    /// Whether training updates this layer; default true.
    #[serde(default = "yes")]
    pub trainable: bool,
}

/// A fully connected layer on a flat input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseConfig {
    /// Number of outputs.
    pub units: usize,
    /// Activation after the bias; default `linear`.
    #[serde(default)]
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`. Biases start at zero.
    #[serde(default)]
    pub kernel_initializer: Initializer,
    /// Whether training updates this layer; default true.
    #[serde(default = "yes")]
    pub trainable: bool,
}

/// A 2-D pooling layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// Window size [height, width].
    pub pool_size: [usize; 2],
    /// Stride [height, width]; default equal to `pool_size`.
    #[serde(default)]
    pub strides: Option<[usize; 2]>,
    /// Padding, `valid` (default) or `same`.
    #[serde(default)]
    pub padding: Padding,
}

/// One layer of a sequential model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LayerConfig {
    /// 2-D convolution.
    Conv2d(Conv2dConfig),
    /// Max pooling.
    MaxPool2d(PoolConfig),
    /// Average pooling.
    AvgPool2d(PoolConfig),
    /// Flattens `[H, W, C]` to `[H * W * C]` in NHWC order (as Keras with channels_last).
    Flatten,
    /// Fully connected layer.
    Dense(DenseConfig),
    /// A standalone activation.
    Activation {
        /// The function.
        activation: Activation,
    },
    /// Inverted dropout, active only in training.
    Dropout {
        /// Fraction of inputs set to zero, in [0, 1).
        rate: f32,
    },
    /// Depthwise 2-D convolution.
    DepthwiseConv2d(DepthwiseConv2dConfig),
}

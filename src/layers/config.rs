//! Serde configuration of layers, as stored in a model's JSON config.

use serde::{Deserialize, Deserializer, Serialize};

use crate::ops::{Activation, Padding};
use crate::tagged::{self, Fields, Tagged};

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

/// One layer of a sequential model. Its JSON is an object with the layer type in `type` and the
/// fields of the type's config; its `Deserialize` reads only JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// The `type` of a [`LayerConfig`].
#[derive(Deserialize)]
#[serde(variant_identifier, rename_all = "snake_case")]
pub enum LayerType {
    /// [`LayerConfig::Conv2d`].
    Conv2d,
    /// [`LayerConfig::MaxPool2d`].
    MaxPool2d,
    /// [`LayerConfig::AvgPool2d`].
    AvgPool2d,
    /// [`LayerConfig::Flatten`].
    Flatten,
    /// [`LayerConfig::Dense`].
    Dense,
    /// [`LayerConfig::Activation`].
    Activation,
    /// [`LayerConfig::Dropout`].
    Dropout,
    /// [`LayerConfig::DepthwiseConv2d`].
    DepthwiseConv2d,
}

/// The fields of [`LayerConfig::Activation`].
#[derive(Deserialize)]
struct ActivationFields {
    activation: Activation,
}

/// The fields of [`LayerConfig::Dropout`].
#[derive(Deserialize)]
struct DropoutFields {
    rate: f32,
}

impl Tagged for LayerConfig {
    type Tag = LayerType;
    const EXPECTING: &'static str = "internally tagged enum LayerConfig";

    fn from_fields(tag: LayerType, fields: Fields<'_>) -> Result<Self, serde_json::Error> {
        Ok(match tag {
            LayerType::Conv2d => LayerConfig::Conv2d(Deserialize::deserialize(fields)?),
            LayerType::MaxPool2d => LayerConfig::MaxPool2d(Deserialize::deserialize(fields)?),
            LayerType::AvgPool2d => LayerConfig::AvgPool2d(Deserialize::deserialize(fields)?),
            // As the derived code does for a unit variant, other fields are ignored.
            LayerType::Flatten => LayerConfig::Flatten,
            LayerType::Dense => LayerConfig::Dense(Deserialize::deserialize(fields)?),
            LayerType::Activation => {
                let ActivationFields { activation } = Deserialize::deserialize(fields)?;
                LayerConfig::Activation { activation }
            }
            LayerType::Dropout => {
                let DropoutFields { rate } = Deserialize::deserialize(fields)?;
                LayerConfig::Dropout { rate }
            }
            LayerType::DepthwiseConv2d => {
                LayerConfig::DepthwiseConv2d(Deserialize::deserialize(fields)?)
            }
        })
    }
}

impl<'de> Deserialize<'de> for LayerConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`LayerConfig`] as serde derives it, to compare with [`crate::tagged`]. Its name is in
    /// the derived code's messages.
    mod derived {
        use super::*;

        #[derive(Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum LayerConfig {
            Conv2d(Conv2dConfig),
            MaxPool2d(PoolConfig),
            AvgPool2d(PoolConfig),
            Flatten,
            Dense(DenseConfig),
            Activation { activation: Activation },
            Dropout { rate: f32 },
            DepthwiseConv2d(DepthwiseConv2dConfig),
        }
    }

    #[test]
    fn layer_json_matches_derived_serde() {
        tagged::assert_matches_derived::<LayerConfig, derived::LayerConfig>(&[
            r#"{"type": "conv2d", "filters": 1, "kernel_size": [1, 1]}"#,
            r#"{"filters": 8, "kernel_size": [3, 5], "type": "conv2d", "strides": [2, 1],
                "padding": "same", "dilation": [1, 2], "activation": "relu",
                "kernel_initializer": "he_normal", "trainable": false}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "strides": null}"#,
            r#"{"type": "avg_pool2d", "pool_size": [3, 3], "strides": [1, 1], "padding": "same"}"#,
            r#"{"type": "flatten"}"#,
            r#"{"type": "flatten", "units": 3}"#,
            r#"{"type": "dense", "units": 10, "activation": "softmax"}"#,
            r#"{"type": "activation", "activation": "tanh"}"#,
            r#"{"type": "activation", "activation": "tanh", "extra": [1]}"#,
            r#"{"type": "dropout", "rate": 0.25}"#,
            r#"{"type": "depthwise_conv2d", "kernel_size": [3, 3], "depth_multiplier": 2}"#,
            r#"{"type": 0, "filters": 1, "kernel_size": [1, 1]}"#,
            r#"{"type": 8}"#,
            r#"{"type": null}"#,
            r#"{"type": "bogus", "units": 1}"#,
            r#"{"type": "dense", "type": "dense", "units": 1}"#,
            r#"{"units": 1}"#,
            r#"{}"#,
            r#""dense""#,
            r#"7"#,
            r#"null"#,
            r#"{"type": "conv2d"}"#,
            r#"{"type": "conv2d", "filters": "8", "kernel_size": [1, 1]}"#,
            r#"{"type": "conv2d", "filters": 8, "kernel_size": [1, 1, 1]}"#,
            r#"{"type": "conv2d", "filters": 8, "filters": 8, "kernel_size": [1, 1]}"#,
            r#"{"type": "conv2d", "filters": 8, "kernel_size": [1, 1], "units": 3}"#,
            r#"{"type": "dense", "units": -1}"#,
            r#"{"type": "dense", "units": 1.5}"#,
            r#"{"type": "dense", "units": 1, "activation": null}"#,
            r#"{"type": "dense", "units": 1, "activation": "swish"}"#,
            r#"{"type": "dense", "units": 1, "trainable": "yes"}"#,
            r#"{"type": "dense", "units": 1, "kernel_initializer": "zeros"}"#,
            r#"{"type": "dropout"}"#,
            r#"{"type": "dropout", "rate": "half"}"#,
            r#"{"type": "activation"}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": "full"}"#,
            r#"{"type": "bogus", "units": }"#,
            r#"{"type": "dense", "units": 1,}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": 1}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": {"same": null}}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": ["same"]}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": null}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": {"same": 1}}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": {"same": null, "x": 1}}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "strides": [1]}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "strides": [1, 2, 3]}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "strides": [[1], 2]}"#,
            r#"{"type": "max_pool2d", "pool_size": [2, 2], "strides": {"a": 1}}"#,
            r#"{"type": "dense", "units": 1, "activation": true}"#,
            r#"{"type": "dense", "units": 1, "trainable": 1}"#,
            r#"{"type": "dropout", "rate": 1e300}"#,
            r#"{"type": "dense", "units": 18446744073709551616}"#,
            r#"{"type": "dense", "units": "\u0031"}"#,
            r#"{"type": "d\u0065nse", "units": 1}"#,
            r#"{"typ\u0065": "dense", "units": 1}"#,
            "{\n  \"type\": \"dense\",\n  \"units\": \"one\"\n}",
        ]);
    }
}

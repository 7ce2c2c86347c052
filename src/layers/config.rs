//! Configuration of layers, as stored in a model's JSON config.

use crate::json::{self, from_json, string_enum, to_json};
use crate::json::{Fields, FromJson, Json, JsonResult, Object, ToJson};
use crate::ops::{Activation, Padding};

/// How a kernel is initialised; fans include the kernel's spatial size (KH * KW * channels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
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
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2dConfig {
    /// Number of output channels (filters).
    pub filters: usize,
    /// Kernel size [height, width].
    pub kernel_size: [usize; 2],
    /// Stride [height, width]; default [1, 1].
    pub strides: [usize; 2],
    /// Padding, `valid` (default) or `same`.
    pub padding: Padding,
    /// Dilation [height, width]; default [1, 1].
    pub dilation: [usize; 2],
    /// Activation after the bias; default `linear`.
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`. Biases start at zero.
    pub kernel_initializer: Initializer,
    /// Whether training updates this layer; default true.
    pub trainable: bool,
}

/// A depthwise 2-D convolution layer, as Keras's `DepthwiseConv2D`: each input channel is
/// convolved with its own `depth_multiplier` filters. Weights `[KH, KW, C, depth_multiplier]`,
/// bias `[C * depth_multiplier]`. Followed by a 1x1 `conv2d`, it forms a separable convolution.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthwiseConv2dConfig {
    /// Kernel size [height, width].
    pub kernel_size: [usize; 2],
    /// Output channels per input channel; default 1.
    pub depth_multiplier: usize,
    /// Stride [height, width]; default [1, 1].
    pub strides: [usize; 2],
    /// Padding, `valid` (default) or `same`.
    pub padding: Padding,
    /// Dilation [height, width]; default [1, 1].
    pub dilation: [usize; 2],
    /// Activation after the bias; default `linear`.
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`, with fans KH * KW * C and
    /// KH * KW * depth_multiplier as Keras computes them. Biases start at zero.
    pub depthwise_initializer: Initializer,
    /// Whether training updates this layer; default true.
    pub trainable: bool,
}

/// A fully connected layer on a flat input.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseConfig {
    /// Number of outputs.
    pub units: usize,
    /// Activation after the bias; default `linear`.
    pub activation: Activation,
    /// Kernel initialiser; default `glorot_uniform`. Biases start at zero.
    pub kernel_initializer: Initializer,
    /// Whether training updates this layer; default true.
    pub trainable: bool,
}

/// A 2-D pooling layer.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolConfig {
    /// Window size [height, width].
    pub pool_size: [usize; 2],
    /// Stride [height, width]; default equal to `pool_size`.
    pub strides: Option<[usize; 2]>,
    /// Padding, `valid` (default) or `same`.
    pub padding: Padding,
}

/// One layer of a sequential model. Its JSON is an object with the layer type in `type` and the
/// fields of the type's config.
#[derive(Clone, Debug, PartialEq)]
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

string_enum!(Initializer {
    GlorotUniform = "glorot_uniform",
    GlorotNormal = "glorot_normal",
    HeUniform = "he_uniform",
    HeNormal = "he_normal",
});

to_json!(Conv2dConfig {
    filters,
    kernel_size,
    strides,
    padding,
    dilation,
    activation,
    kernel_initializer,
    trainable,
});

from_json!(Conv2dConfig {
    filters,
    kernel_size,
    strides = [1, 1],
    padding = Padding::Valid,
    dilation = [1, 1],
    activation = Activation::Linear,
    kernel_initializer = Initializer::GlorotUniform,
    trainable = true,
});

to_json!(DepthwiseConv2dConfig {
    kernel_size,
    depth_multiplier,
    strides,
    padding,
    dilation,
    activation,
    depthwise_initializer,
    trainable,
});

from_json!(DepthwiseConv2dConfig {
    kernel_size,
    depth_multiplier = 1,
    strides = [1, 1],
    padding = Padding::Valid,
    dilation = [1, 1],
    activation = Activation::Linear,
    depthwise_initializer = Initializer::GlorotUniform,
    trainable = true,
});

to_json!(DenseConfig {
    units,
    activation,
    kernel_initializer,
    trainable,
});

from_json!(DenseConfig {
    units,
    activation = Activation::Linear,
    kernel_initializer = Initializer::GlorotUniform,
    trainable = true,
});

to_json!(PoolConfig {
    pool_size,
    strides,
    padding,
});

from_json!(PoolConfig {
    pool_size,
    strides = None,
    padding = Padding::Valid,
});

/// The `type` of every [`LayerConfig`], in the order of its variants.
const LAYER_TYPES: [&str; 8] = [
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "flatten",
    "dense",
    "activation",
    "dropout",
    "depthwise_conv2d",
];

impl LayerConfig {
    /// Returns the layer's `type` in JSON, such as `conv2d`.
    pub fn kind(&self) -> &'static str {
        let index = match self {
            LayerConfig::Conv2d(_) => 0,
            LayerConfig::MaxPool2d(_) => 1,
            LayerConfig::AvgPool2d(_) => 2,
            LayerConfig::Flatten => 3,
            LayerConfig::Dense(_) => 4,
            LayerConfig::Activation { .. } => 5,
            LayerConfig::Dropout { .. } => 6,
            LayerConfig::DepthwiseConv2d(_) => 7,
        };
        LAYER_TYPES[index]
    }
}

impl FromJson for LayerConfig {
    fn from_json(value: &Json) -> JsonResult<Self> {
        let (tag, fields) = json::untag(value, &LAYER_TYPES)?;
        Ok(match tag {
            "conv2d" => LayerConfig::Conv2d(Conv2dConfig::from_json(&fields)?),
            "max_pool2d" => LayerConfig::MaxPool2d(PoolConfig::from_json(&fields)?),
            "avg_pool2d" => LayerConfig::AvgPool2d(PoolConfig::from_json(&fields)?),
            "flatten" => {
                Fields::of(&fields, &[])?;
                LayerConfig::Flatten
            }
            "dense" => LayerConfig::Dense(DenseConfig::from_json(&fields)?),
            "activation" => LayerConfig::Activation {
                activation: Fields::of(&fields, &["activation"])?.required("activation")?,
            },
            "dropout" => LayerConfig::Dropout {
                rate: Fields::of(&fields, &["rate"])?.required("rate")?,
            },
            _ => LayerConfig::DepthwiseConv2d(DepthwiseConv2dConfig::from_json(&fields)?),
        })
    }
}

impl ToJson for LayerConfig {
    fn write_json(&self, out: &mut String) {
        let kind = self.kind();
        match self {
            LayerConfig::Conv2d(config) => json::write_tagged(out, kind, config),
            LayerConfig::MaxPool2d(config) | LayerConfig::AvgPool2d(config) => {
                json::write_tagged(out, kind, config)
            }
            LayerConfig::Flatten => json::write_tagged(out, kind, &Object(&[])),
            LayerConfig::Dense(config) => json::write_tagged(out, kind, config),
            LayerConfig::Activation { activation } => {
                json::write_tagged(out, kind, &Object(&[("activation", activation)]))
            }
            LayerConfig::Dropout { rate } => {
                json::write_tagged(out, kind, &Object(&[("rate", rate)]))
            }
            LayerConfig::DepthwiseConv2d(config) => json::write_tagged(out, kind, config),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_round_trips() {
        let text = r#"[
            {"type": "conv2d", "filters": 8, "kernel_size": [3, 5], "strides": [2, 1],
             "padding": "same", "dilation": [1, 2], "activation": {"leaky_relu": {"alpha": 0.1}},
             "kernel_initializer": "he_normal", "trainable": false},
            {"type": "max_pool2d", "pool_size": [2, 2], "strides": null},
            {"type": "avg_pool2d", "pool_size": [3, 3], "strides": [1, 1], "padding": "same"},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"},
            {"type": "activation", "activation": "tanh"},
            {"type": "dropout", "rate": 0.25},
            {"type": "depthwise_conv2d", "kernel_size": [3, 3], "depth_multiplier": 2}
        ]"#;
        let layers: Vec<LayerConfig> = json::from_str(text).unwrap();
        let kinds: Vec<&str> = layers.iter().map(LayerConfig::kind).collect();
        assert_eq!(kinds, LAYER_TYPES);
        let written = json::to_string(&layers);
        assert_eq!(
            json::from_str::<Vec<LayerConfig>>(&written).unwrap(),
            layers
        );
        assert!(
            written.starts_with(r#"[{"type":"conv2d","filters":8,"#),
            "{written}"
        );
    }

    #[test]
    fn bad_layers_name_what_failed() {
        let cases = [
            (r#"{"units": 1}"#, "missing field `type`"),
            (
                r#"{"type": "bogus"}"#,
                "type: unknown variant `bogus`, expected one of `conv2d`",
            ),
            (r#"{"type": 8}"#, "type: expected one of `conv2d`"),
            (
                r#"{"type": "dense", "type": "dense", "units": 1}"#,
                "duplicate field `type`",
            ),
            (r#"{"type": "conv2d"}"#, "missing field `filters`"),
            (
                r#"{"type": "conv2d", "filters": 8, "kernel_size": [1, 1, 1]}"#,
                "kernel_size: expected an array of 2 items, got an array of 3 items",
            ),
            (
                r#"{"type": "conv2d", "filters": 8, "kernel_size": [1, 1], "units": 3}"#,
                "unknown field `units`, expected one of `filters`",
            ),
            (
                r#"{"type": "flatten", "units": 3}"#,
                "unknown field `units`, expected no fields",
            ),
            (
                r#"{"type": "dense", "units": 1, "activation": "leaky_relu"}"#,
                "activation: leaky_relu needs its slope, written {\"leaky_relu\": {\"alpha\": 0.1}}",
            ),
            (
                r#"{"type": "dense", "units": -1}"#,
                "units: expected a whole number from 0 to",
            ),
            (
                r#"{"type": "dense", "units": 1, "activation": "swish"}"#,
                "activation: unknown variant `swish`, expected one of `linear`",
            ),
            (
                r#"{"type": "dense", "units": 1, "trainable": "yes"}"#,
                "trainable: expected true or false, got the string \"yes\"",
            ),
            (
                r#"{"type": "dropout", "rate": 1e300}"#,
                "rate: 1e300 is beyond the range of f32",
            ),
            (
                r#"{"type": "max_pool2d", "pool_size": [2, 2], "padding": null}"#,
                "padding: expected one of `valid`, `same`, got null",
            ),
            ("[1, 2, 3]", "expected an object, got an array of 3 items"),
        ];
        for (text, expected) in cases {
            let error = json::from_str::<LayerConfig>(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}

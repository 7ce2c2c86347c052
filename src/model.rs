//! Sequential model: a JSON-described stack of layers whose parameters live in one GPU arena, so
//! that one optimizer dispatch can update them all.

use std::rc::Rc;

use crate::gpu::Gpu;
use crate::json::{self, from_json, to_json};
use crate::layers::{
    self, Conv2dConfig, DenseConfig, Initializer, Layer, LayerConfig, ParamInit, ParamSlot, Pass,
    PoolConfig, Saved,
};
use crate::math;
use crate::ops::{Activation, Padding};
use crate::tensor::Tensor;
use crate::{Error, Result};
use rand::{Rng, SeedableRng};

/// A sequential model: input shape and layers.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Shape of one input image, [height, width, channels].
    pub input_shape: [usize; 3],
    /// Layers in order; the last must be dense (or an activation) giving one logit or
    /// probability per class, with `softmax` or `linear` activation.
    pub layers: Vec<LayerConfig>,
}

to_json!(ModelConfig {
    input_shape,
    layers
});
from_json!(ModelConfig {
    input_shape,
    layers
});

/// Names of the built-in model presets.
pub const PRESETS: [&str; 2] = ["seed-cnn", "lenet5"];

fn conv(filters: usize, kernel: usize, padding: Padding, activation: Activation) -> LayerConfig {
    LayerConfig::Conv2d(Conv2dConfig {
        filters,
        kernel_size: [kernel, kernel],
        strides: [1, 1],
        padding,
        dilation: [1, 1],
        activation,
        kernel_initializer: Initializer::GlorotUniform,
        trainable: true,
    })
}

fn dense(units: usize, activation: Activation) -> LayerConfig {
    LayerConfig::Dense(DenseConfig {
        units,
        activation,
        kernel_initializer: Initializer::GlorotUniform,
        trainable: true,
    })
}

fn pool2(max: bool) -> LayerConfig {
    let config = PoolConfig {
        pool_size: [2, 2],
        strides: None,
        padding: Padding::Valid,
    };
    if max {
        LayerConfig::MaxPool2d(config)
    } else {
        LayerConfig::AvgPool2d(config)
    }
}

impl ModelConfig {
    /// A built-in model by name: `seed-cnn` (the Keras MNIST CNN) or `lenet5`, for 28x28x1 input.
    pub fn preset(name: &str) -> Result<ModelConfig> {
        use Activation::{Relu, Softmax, Tanh};
        let layers = match name {
            "seed-cnn" => vec![
                conv(32, 3, Padding::Valid, Relu),
                pool2(true),
                conv(64, 3, Padding::Valid, Relu),
                pool2(true),
                LayerConfig::Flatten,
                dense(64, Relu),
                dense(10, Softmax),
            ],
            "lenet5" => vec![
                conv(6, 5, Padding::Same, Tanh),
                pool2(false),
                conv(16, 5, Padding::Valid, Tanh),
                pool2(false),
                LayerConfig::Flatten,
                dense(120, Tanh),
                dense(84, Tanh),
                dense(10, Softmax),
            ],
            _ => {
                return Err(Error::Config(format!(
                    "unknown model preset {name:?}; choose one of {PRESETS:?} or pass a JSON config file"
                )))
            }
        };
        Ok(ModelConfig {
            input_shape: [28, 28, 1],
            layers,
        })
    }

    /// Parses a JSON model config.
    pub fn from_json(text: &str) -> Result<ModelConfig> {
        json::from_str(text).map_err(|e| Error::Config(format!("model config JSON: {e}")))
    }
}

/// A built model on a GPU: layers plus parameter and gradient arenas.
pub struct Model {
    gpu: Rc<Gpu>,
    config: ModelConfig,
    layers: Vec<Box<dyn Layer>>,
    params: Tensor,
    grads: Tensor,
    classes: usize,
}

impl Model {
    /// Builds `config` on `gpu` with weights initialised from `seed`.
    pub fn new(gpu: Rc<Gpu>, config: ModelConfig, seed: u64) -> Result<Model> {
        let align = (gpu.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let (layers, arena_len) = build_layers(&config, align)?;
        let classes = check_output(&config, &layers)?;
        check_sizes(&config, &layers, arena_len, gpu.max_binding(), "the GPU")?;
        let initial = initial_weights(&layers, arena_len, seed);
        let params = Tensor::from_slice(&gpu, &initial, &[arena_len]);
        let grads = Tensor::from_slice(&gpu, &vec![0.0f32; arena_len], &[arena_len]);
        Ok(Model {
            gpu,
            config,
            layers,
            params,
            grads,
            classes,
        })
    }

    /// The device the model lives on.
    pub fn gpu(&self) -> &Rc<Gpu> {
        &self.gpu
    }

    /// The config the model was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Number of classes (units of the last layer).
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Per-example input shape [height, width, channels].
    pub fn input_shape(&self) -> [usize; 3] {
        self.config.input_shape
    }

    /// Number of trainable and frozen parameters (padding in the arena not counted).
    pub fn parameter_count(&self) -> usize {
        self.slots().map(|(_, s)| s.len()).sum()
    }

    /// Parameter slots with the index of their layer, in arena order.
    pub fn slots(&self) -> impl Iterator<Item = (usize, &ParamSlot)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.params().iter().map(move |s| (i, s)))
    }

    /// Parameter arena (every parameter, aligned).
    pub fn params(&self) -> &Tensor {
        &self.params
    }

    /// Gradient arena, same layout as [`Model::params`].
    pub fn grads(&self) -> &Tensor {
        &self.grads
    }

    /// Arena ranges `(start, len)` of the parameters that training updates; adjacent trainable
    /// layers merge into one range.
    pub fn trainable_ranges(&self) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut extends_last = false;
        for (index, slot) in self.slots() {
            if !self.is_trainable(index) {
                extends_last = false;
                continue;
            }
            match ranges.last_mut() {
                Some((start, len)) if extends_last => *len = slot.offset + slot.len() - *start,
                _ => ranges.push((slot.offset, slot.len())),
            }
            extends_last = true;
        }
        ranges
    }

    /// Whether training updates layer `index`.
    pub fn is_trainable(&self, index: usize) -> bool {
        match &self.config.layers[index] {
            LayerConfig::Conv2d(c) => c.trainable,
            LayerConfig::Dense(c) => c.trainable,
            LayerConfig::DepthwiseConv2d(c) => c.trainable,
            _ => false,
        }
    }

    /// Output shapes and parameter counts, one line per layer, as Keras's `summary()`.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{:<4} {:<12} {:<16} {:>10}\n",
            "#", "layer", "output", "params"
        );
        for (i, (layer, config)) in self.layers.iter().zip(&self.config.layers).enumerate() {
            let name = config.kind();
            let count: usize = layer.params().iter().map(ParamSlot::len).sum();
            let shape = format!("{:?}", layer.output_shape());
            out += &format!("{i:<4} {name:<12} {shape:<16} {count:>10}\n");
        }
        out += &format!("total parameters: {}\n", self.parameter_count());
        out
    }

    /// Runs the layers on a batch `[batch, H, W, C]`. With `logits`, a final softmax is left to
    /// the loss. Returns the output and what each layer saved for backward.
    pub fn forward(
        &self,
        x: &Tensor,
        step: &Tensor,
        training: bool,
        logits: bool,
    ) -> (Tensor, Vec<Saved>) {
        let pass = self.pass(step, training, false);
        let mut saved = Vec::with_capacity(self.layers.len());
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let (y, s) = layer.forward(&pass, &h, logits && i == last);
            saved.push(s);
            h = y;
        }
        (h, saved)
    }

    /// Backpropagates `dlogits` through the layers, writing (or, with `accumulate`, adding)
    /// parameter gradients into the gradient arena.
    pub fn backward(&self, saved: &[Saved], dlogits: &Tensor, step: &Tensor, accumulate: bool) {
        let pass = self.pass(step, true, accumulate);
        // Layers before the first trainable one need no input gradient.
        let first_trainable = (0..self.layers.len()).find(|&i| self.is_trainable(i));
        let mut dy = dlogits.clone();
        for (i, layer) in self.layers.iter().enumerate().rev() {
            let need_dx = first_trainable.is_some_and(|first| i > first);
            match layer.backward(&pass, &saved[i], &dy, need_dx) {
                Some(dx) => dy = dx,
                None => break,
            }
        }
    }

    /// Reads every parameter back, in arena order (each slot's values; padding left out).
    pub async fn weights(&self) -> Result<Vec<(String, Vec<usize>, Vec<f32>)>> {
        let arena = self.params.to_vec(&self.gpu).await?;
        Ok(self
            .slots()
            .map(|(i, s)| {
                let name = format!("layers.{i}.{}", s.name);
                (
                    name,
                    s.shape.clone(),
                    arena[s.offset..s.offset + s.len()].to_vec(),
                )
            })
            .collect())
    }

    /// Replaces parameter `name` (as named by [`Model::weights`]) with `values`.
    pub fn set_weight(&self, name: &str, shape: &[usize], values: &[f32]) -> Result<()> {
        let (_, slot) = self
            .slots()
            .find(|(i, s)| format!("layers.{i}.{}", s.name) == name)
            .ok_or_else(|| Error::Config(format!("the model has no parameter named {name:?}")))?;
        if slot.shape != shape || values.len() != slot.len() {
            return Err(Error::Config(format!(
                "parameter {name:?} has shape {:?}, but the given tensor has shape {shape:?}",
                slot.shape
            )));
        }
        self.gpu.write(
            self.params.buffer(),
            self.params.byte_offset() + slot.offset as u64 * 4,
            values,
        );
        Ok(())
    }

    /// Largest batch that keeps every activation within the storage binding limit and every GEMM
    /// grid within the workgroup limit.
    pub fn max_chunk(&self) -> usize {
        let max_binding = self.gpu.max_binding() as usize;
        let mut per_example = self.config.input_shape.iter().product::<usize>();
        let mut max_rows = 1;
        for layer in &self.layers {
            let shape = layer.output_shape();
            per_example = per_example.max(shape.iter().product());
            max_rows = max_rows.max(shape[..shape.len() - 1].iter().product::<usize>());
        }
        let [h, w, _] = self.config.input_shape;
        max_rows = max_rows.max(h * w);
        let by_memory = max_binding / (per_example * 4);
        let grid_rows = crate::ops::gemm_max_rows(&self.gpu);
        by_memory.min(grid_rows / max_rows).max(1)
    }

    fn pass<'a>(&'a self, step: &'a Tensor, training: bool, accumulate: bool) -> Pass<'a> {
        Pass {
            gpu: &self.gpu,
            params: &self.params,
            grads: &self.grads,
            training,
            step,
            accumulate,
        }
    }
}

/// Builds every layer, chaining output shapes and placing parameters at multiples of `align`
/// elements; returns the layers and the arena length. Builds no GPU resource.
pub fn build_layers(config: &ModelConfig, align: usize) -> Result<(Vec<Box<dyn Layer>>, usize)> {
    if config.input_shape.contains(&0) {
        return Err(Error::Config(format!(
            "input_shape must be at least 1 in every dimension, got {:?}",
            config.input_shape
        )));
    }
    if config.layers.is_empty() {
        return Err(Error::Config(
            "the model has no layers; add at least one dense layer".into(),
        ));
    }
    let mut shape = config.input_shape.to_vec();
    let mut offset = 0;
    let mut layers = Vec::with_capacity(config.layers.len());
    let last = config.layers.len() - 1;
    for (index, layer_config) in config.layers.iter().enumerate() {
        let (layer, next) = layers::build(layer_config, index, &shape, offset, align)?;
        if index != last && layer.activation() == Activation::Softmax {
            return Err(Error::Config(format!(
                "layer {index} ({}) uses softmax, which is supported only on the last layer \
                 (it feeds the cross-entropy loss); use relu, sigmoid or tanh there",
                layer_config.kind()
            )));
        }
        shape = layer.output_shape().to_vec();
        offset = next;
        layers.push(layer);
    }
    Ok((layers, offset.max(align)))
}

/// Checks that the model ends in one score per class; returns the class count.
pub fn check_output(config: &ModelConfig, layers: &[Box<dyn Layer>]) -> Result<usize> {
    let last = layers.last().expect("at least one layer");
    let last_config = config.layers.last().expect("at least one layer");
    let shape = last.output_shape();
    let scores_layer = matches!(
        last_config,
        LayerConfig::Dense(_) | LayerConfig::Activation { .. }
    );
    let ends_in_scores = matches!(last.activation(), Activation::Softmax | Activation::Linear);
    if shape.len() != 1 || !scores_layer || !ends_in_scores {
        let activation = json::to_string(&last.activation());
        return Err(Error::Config(format!(
            "the last layer ({}) must be dense, giving one score per class with softmax or \
             linear activation, but it outputs {shape:?} with activation {activation}; end the \
             model with flatten and a dense layer of one unit per class",
            last_config.kind(),
        )));
    }
    if shape[0] < 2 {
        return Err(Error::Config(format!(
            "the last layer has {} unit; a classifier needs at least 2",
            shape[0]
        )));
    }
    Ok(shape[0])
}

/// Checks, before anything is allocated, that every parameter arena and per-example activation
/// fits in `max_bytes` (one storage binding of `device`).
pub fn check_sizes(
    config: &ModelConfig,
    layers: &[Box<dyn Layer>],
    arena_len: usize,
    max_bytes: u64,
    device: &str,
) -> Result<()> {
    for (index, (layer, layer_config)) in layers.iter().zip(&config.layers).enumerate() {
        let bytes = layer
            .output_shape()
            .iter()
            .fold(4u64, |acc, &d| acc.saturating_mul(d as u64));
        if bytes > max_bytes {
            return Err(Error::Config(format!(
                "layer {index} ({}) outputs {:?} per example, {bytes} bytes, but {device} allows \
                 {max_bytes} bytes per buffer; use a smaller input, fewer filters or more pooling",
                layer_config.kind(),
                layer.output_shape()
            )));
        }
    }
    let arena_bytes = arena_len as u64 * 4;
    if arena_bytes > max_bytes {
        return Err(Error::Config(format!(
            "the model's parameters need {arena_bytes} bytes, but {device} allows {max_bytes} \
             bytes per buffer; use fewer filters or units"
        )));
    }
    Ok(())
}

/// Draws every kernel from its initialiser (biases zero), reproducibly for a seed. Kernels draw
/// in layer order, so the values do not depend on the arena alignment.
pub fn initial_weights(layers: &[Box<dyn Layer>], arena_len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut arena = vec![0.0f32; arena_len];
    for slot in layers.iter().flat_map(|l| l.params()) {
        if let ParamInit::Kernel {
            initializer,
            fan_in,
            fan_out,
        } = slot.init
        {
            let values = &mut arena[slot.offset..slot.offset + slot.len()];
            fill_kernel(values, initializer, fan_in, fan_out, &mut rng);
        }
    }
    arena
}

fn fill_kernel(
    values: &mut [f32],
    init: Initializer,
    fan_in: usize,
    fan_out: usize,
    rng: &mut impl Rng,
) {
    let (fan_in, fan_out) = (fan_in as f64, fan_out as f64);
    match init {
        Initializer::GlorotUniform => uniform(values, (6.0 / (fan_in + fan_out)).sqrt(), rng),
        Initializer::HeUniform => uniform(values, (6.0 / fan_in).sqrt(), rng),
        Initializer::GlorotNormal => {
            truncated_normal(values, (2.0 / (fan_in + fan_out)).sqrt(), rng)
        }
        Initializer::HeNormal => truncated_normal(values, (2.0 / fan_in).sqrt(), rng),
    }
}

fn uniform(values: &mut [f32], limit: f64, rng: &mut impl Rng) {
    for v in values {
        *v = rng.random_range(-limit..limit) as f32;
    }
}

/// Normal values with standard deviation `std` after truncation at two standard deviations
/// (the raw draw is scaled by 1 / 0.8796, the std of a unit normal truncated at ±2, as Keras).
fn truncated_normal(values: &mut [f32], std: f64, rng: &mut impl Rng) {
    let scale = std / 0.879_625_661_034_239_8;
    for v in values {
        let sample = loop {
            // Box-Muller transform of two uniforms.
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random_range(0.0..1.0);
            let z = (-2.0 * math::ln(u1)).sqrt() * math::sin_cos(std::f64::consts::TAU * u2).1;
            if z.abs() <= 2.0 {
                break z;
            }
        };
        *v = (sample * scale) as f32;
    }
}

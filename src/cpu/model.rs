//! [`CpuModel`]: a sequential model whose parameters live in one `Vec<f32>` arena, laid out as
//! the GPU arena with alignment 1.

use crate::io::{self, Weights};
use crate::model::{build_layers, check_output, check_sizes, initial_weights, ModelConfig};
use crate::{Error, Result};

use super::layer::{slot_values, Aux, CpuLayer, Pass, Saved};

/// A model built on the CPU. It validates its config, draws its initial weights and names its
/// parameters as [`crate::model::Model`] does.
pub struct CpuModel {
    config: ModelConfig,
    layers: Vec<CpuLayer>,
    params: Vec<f32>,
    classes: usize,
}

/// Activations of a forward pass, kept for [`CpuModel::backward`].
pub struct Trace {
    batch: usize,
    /// `activations[0]` is the input and `activations[i + 1]` the output of layer i.
    activations: Vec<Vec<f32>>,
    aux: Vec<Aux>,
}

impl Trace {
    /// Output of the last layer `[batch, classes]`: logits when the pass left the softmax to the
    /// loss, otherwise the model's outputs.
    pub fn output(&self) -> &[f32] {
        self.activations.last().expect("the input is always kept")
    }

    /// Number of examples in the pass.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Returns the output of layer `index`, `[batch, ..shape]` with the shape of
    /// [`CpuModel::layer_output_shape`]. Panics if the model has no layer `index`.
    pub fn layer_output(&self, index: usize) -> &[f32] {
        &self.activations[index + 1]
    }
}

/// Largest tensor the CPU path allocates: a quarter of wasm32's 4 GiB address space.
const CPU_MAX_TENSOR_BYTES: u64 = 1 << 30;

impl CpuModel {
    /// Builds `config` with weights initialised from `seed`. The weights equal those of
    /// [`crate::model::Model::new`] with the same config and seed.
    pub fn new(config: ModelConfig, seed: u64) -> Result<CpuModel> {
        let (gpu_layers, arena_len) = build_layers(&config, 1)?;
        let classes = check_output(&config, &gpu_layers)?;
        check_sizes(
            &config,
            &gpu_layers,
            arena_len,
            CPU_MAX_TENSOR_BYTES,
            "the CPU path",
        )?;
        let params = initial_weights(&gpu_layers, arena_len, seed);
        let mut input = config.input_shape.to_vec();
        let mut layers = Vec::with_capacity(gpu_layers.len());
        for (index, (layer, layer_config)) in gpu_layers.iter().zip(&config.layers).enumerate() {
            let output = layer.output_shape();
            let slots = layer.params().to_vec();
            layers.push(CpuLayer::new(layer_config, index, &input, output, slots));
            input = output.to_vec();
        }
        Ok(CpuModel {
            config,
            layers,
            params,
            classes,
        })
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

    /// Returns the per-example output shape of layer `index`. Panics if the model has no layer
    /// `index`.
    pub fn layer_output_shape(&self, index: usize) -> &[usize] {
        self.layers[index].output_shape()
    }

    /// Number of trainable and frozen parameters.
    pub fn parameter_count(&self) -> usize {
        self.named_slots().map(|(_, slot)| slot.len()).sum()
    }

    /// Returns every parameter as `(name, shape, values)`, in arena order, named `layers.{index}.kernel`
    /// and `layers.{index}.bias` as in [`crate::model::Model::weights`].
    pub fn weights(&self) -> Weights {
        self.named_slots()
            .map(|(name, slot)| {
                (
                    name,
                    slot.shape.clone(),
                    slot_values(&self.params, slot).to_vec(),
                )
            })
            .collect()
    }

    /// Replaces parameter `name` (as named by [`CpuModel::weights`]) with `values`.
    pub fn set_weight(&mut self, name: &str, shape: &[usize], values: &[f32]) -> Result<()> {
        let (_, slot) = self
            .named_slots()
            .find(|(slot_name, _)| slot_name == name)
            .ok_or_else(|| Error::Config(format!("the model has no parameter named {name:?}")))?;
        if slot.shape != shape || values.len() != slot.len() {
            return Err(Error::Config(format!(
                "parameter {name:?} has shape {:?}, but the given tensor has shape {shape:?}",
                slot.shape
            )));
        }
        let range = slot.offset..slot.offset + slot.len();
        self.params[range].copy_from_slice(values);
        Ok(())
    }

    /// Serialises the config and weights in the model file format of [`crate::io`], which
    /// [`crate::io::from_bytes`] loads on the GPU.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        io::encode(&self.config, &self.weights())
    }

    /// Builds a model from bytes written by [`CpuModel::to_bytes`] or [`crate::io::to_bytes`].
    /// Nothing is returned unless every tensor loads; `source` names the file in errors.
    pub fn from_bytes(bytes: &[u8], source: &str) -> Result<CpuModel> {
        let (config, weights) = io::decode(bytes, source)?;
        CpuModel::with_weights(config, &weights, source)
    }

    /// Builds `config` with `weights`, which must hold every parameter of the model; `source`
    /// names where they came from in errors.
    pub fn with_weights(config: ModelConfig, weights: &Weights, source: &str) -> Result<CpuModel> {
        let mut model = CpuModel::new(config, 0).map_err(|e| Error::ModelFile {
            path: source.to_string(),
            message: e.to_string(),
        })?;
        let expected: Vec<(String, Vec<usize>)> = model
            .named_slots()
            .map(|(name, slot)| (name, slot.shape.clone()))
            .collect();
        io::check_weights(&expected, weights, source)?;
        for (name, shape, values) in weights {
            model.set_weight(name, shape, values)?;
        }
        Ok(model)
    }

    /// Runs the model on `batch` images `[batch, H, W, C]` and returns its outputs
    /// `[batch, classes]` (class probabilities for a softmax model). With `training`, dropout
    /// draws its masks from `step_seed` as the GPU does. Panics as [`CpuModel::forward_trace`].
    pub fn forward(
        &self,
        images: &[f32],
        batch: usize,
        training: bool,
        step_seed: u32,
    ) -> Vec<f32> {
        let mut trace = self.forward_trace(images, batch, training, false, step_seed);
        trace.activations.pop().expect("the input is always kept")
    }

    /// Runs the model as [`CpuModel::forward`] and keeps every activation for
    /// [`CpuModel::backward`]. With `logits`, a final softmax is left to the loss.
    ///
    /// Panics if `images` does not contain exactly `batch` images of the input shape; use
    /// [`super::predict`] for checked input.
    pub fn forward_trace(
        &self,
        images: &[f32],
        batch: usize,
        training: bool,
        logits: bool,
        step_seed: u32,
    ) -> Trace {
        let per_image: usize = self.config.input_shape.iter().product();
        assert_eq!(
            images.len(),
            batch * per_image,
            "forward: images length for batch {batch}"
        );
        let last = self.layers.len() - 1;
        let mut activations = Vec::with_capacity(self.layers.len() + 1);
        let mut aux = Vec::with_capacity(self.layers.len());
        activations.push(images.to_vec());
        for (index, layer) in self.layers.iter().enumerate() {
            let pass = Pass {
                training,
                logits: logits && index == last,
                seed: step_seed,
            };
            let x = activations.last().expect("the input is always kept");
            let (y, saved) = layer.forward(&self.params, x, batch, pass);
            activations.push(y);
            aux.push(saved);
        }
        Trace {
            batch,
            activations,
            aux,
        }
    }

    /// Backpropagates `dlogits` `[batch, classes]` (the gradient of the loss with respect to the
    /// output of a logits trace) and returns the parameter gradients, laid out as the parameter
    /// arena. Frozen layers get no gradient (their entries stay 0), and layers before the first
    /// trainable one are skipped, as on the GPU.
    pub fn backward(&self, trace: &Trace, dlogits: &[f32]) -> Vec<f32> {
        assert_eq!(
            dlogits.len(),
            trace.output().len(),
            "backward: dlogits length"
        );
        let mut grads = vec![0.0f32; self.params.len()];
        let first_trainable = self.layers.iter().position(CpuLayer::is_trainable);
        let mut dy = dlogits.to_vec();
        for (index, layer) in self.layers.iter().enumerate().rev() {
            let saved = Saved {
                x: &trace.activations[index],
                y: &trace.activations[index + 1],
                aux: &trace.aux[index],
            };
            let need_dx = first_trainable.is_some_and(|first| index > first);
            match layer.backward(&self.params, saved, &dy, trace.batch, &mut grads, need_dx) {
                Some(dx) => dy = dx,
                None => break,
            }
        }
        grads
    }

    /// Parameter arena: every parameter, unpadded (a model without parameters has one unused
    /// element, as on the GPU).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Mutable parameter arena, for the optimizer.
    pub(super) fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Arena ranges `(start, len)` of the parameters that training updates, one per slot.
    pub fn trainable_ranges(&self) -> Vec<(usize, usize)> {
        self.layers
            .iter()
            .filter(|layer| layer.is_trainable())
            .flat_map(|layer| layer.slots())
            .map(|slot| (slot.offset, slot.len()))
            .collect()
    }

    /// Parameter slots with their names, in arena order.
    fn named_slots(&self) -> impl Iterator<Item = (String, &crate::layers::ParamSlot)> {
        self.layers.iter().enumerate().flat_map(|(index, layer)| {
            layer
                .slots()
                .iter()
                .map(move |slot| (format!("layers.{index}.{}", slot.name), slot))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::softmax_cross_entropy;

    /// A small smooth model with every differentiable layer kind: conv ("same", stride 2, tanh),
    /// average pooling, flatten, dense (sigmoid), dropout and dense (softmax).
    fn small_config(frozen_conv: bool) -> ModelConfig {
        let text = format!(
            r#"{{
                "input_shape": [6, 5, 2],
                "layers": [
                    {{"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "strides": [2, 2],
                      "padding": "same", "activation": "tanh", "trainable": {}}},
                    {{"type": "avg_pool2d", "pool_size": [2, 2], "padding": "same"}},
                    {{"type": "flatten"}},
                    {{"type": "dense", "units": 5, "activation": "sigmoid"}},
                    {{"type": "dropout", "rate": 0.3}},
                    {{"type": "dense", "units": 3, "activation": "softmax"}}
                ]
            }}"#,
            !frozen_conv
        );
        ModelConfig::from_json(&text).unwrap()
    }

    /// Deterministic values in [-1, 1].
    fn wave(len: usize, phase: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * 0.37 + phase).sin()).collect()
    }

    const BATCH: usize = 4;
    const LABELS: [u32; BATCH] = [0, 2, 1, 2];
    const SEED: u32 = 99;

    /// Mean training loss of the batch, in f64.
    fn mean_loss(model: &CpuModel, images: &[f32]) -> f64 {
        let trace = model.forward_trace(images, BATCH, true, true, SEED);
        let (losses, _) = softmax_cross_entropy(trace.output(), &LABELS, 3);
        losses.iter().map(|&l| f64::from(l)).sum::<f64>() / BATCH as f64
    }

    fn gradients(model: &CpuModel, images: &[f32]) -> Vec<f32> {
        let trace = model.forward_trace(images, BATCH, true, true, SEED);
        let (_, dlogits) = softmax_cross_entropy(trace.output(), &LABELS, 3);
        model.backward(&trace, &dlogits)
    }

    #[test]
    fn backward_matches_finite_differences() {
        let model = CpuModel::new(small_config(false), 5).unwrap();
        let images = wave(BATCH * 60, 0.3);
        let grads = gradients(&model, &images);
        let step = 1e-2f32;
        for (index, &gradient) in grads.iter().enumerate() {
            let mut shifted = CpuModel::new(small_config(false), 5).unwrap();
            let center = shifted.params[index];
            shifted.params[index] = center + step;
            let up = mean_loss(&shifted, &images);
            shifted.params[index] = center - step;
            let down = mean_loss(&shifted, &images);
            let numeric = (up - down) / f64::from((center + step) - (center - step));
            let analytic = f64::from(gradient);
            // f32 rounding of the loss (about 1e-7) over 2 * step, plus the truncation error of
            // central differences, of order step^2 times the third derivative. The worst
            // observed error is 2.2e-6, a quarter of the allowance.
            let allowed = 1e-5 + 1e-3 * analytic.abs();
            let error = (numeric - analytic).abs();
            assert!(
                error <= allowed,
                "parameter {index}: analytic {analytic}, numeric {numeric}"
            );
        }
    }

    #[test]
    fn frozen_layer_gets_no_gradient() {
        let trainable = CpuModel::new(small_config(false), 5).unwrap();
        let frozen = CpuModel::new(small_config(true), 5).unwrap();
        assert_eq!(trainable.params, frozen.params);
        let images = wave(BATCH * 60, 0.3);
        let all = gradients(&trainable, &images);
        let some = gradients(&frozen, &images);
        let conv_len = 3 * 3 * 2 * 3 + 3;
        assert!(some[..conv_len].iter().all(|&g| g == 0.0));
        assert!(all[..conv_len].iter().any(|&g| g != 0.0));
        assert_eq!(some[conv_len..], all[conv_len..]);
        assert_eq!(
            frozen.trainable_ranges(),
            vec![(57, 60), (117, 5), (122, 15), (137, 3)]
        );
    }

    #[test]
    fn weights_round_trip_through_bytes() {
        let model = CpuModel::new(small_config(true), 8).unwrap();
        let names: Vec<String> = model.weights().into_iter().map(|(n, _, _)| n).collect();
        let expected = [
            "layers.0.kernel",
            "layers.0.bias",
            "layers.3.kernel",
            "layers.3.bias",
            "layers.5.kernel",
            "layers.5.bias",
        ];
        assert_eq!(names, expected);
        // conv 3x3x2x3 + 3, dense 12x5 + 5, dense 5x3 + 3.
        assert_eq!(model.parameter_count(), 140);

        let bytes = model.to_bytes().unwrap();
        let loaded = CpuModel::from_bytes(&bytes, "memory").unwrap();
        assert_eq!(loaded.config(), model.config());
        assert_eq!(loaded.weights(), model.weights());
    }

    #[test]
    fn set_weight_rejects_unknown_name_and_shape() {
        let mut model = CpuModel::new(small_config(false), 8).unwrap();
        let error = model
            .set_weight("layers.1.kernel", &[1], &[0.0])
            .unwrap_err();
        assert!(error
            .to_string()
            .contains("no parameter named \"layers.1.kernel\""));
        let error = model
            .set_weight("layers.5.bias", &[4], &[0.0; 4])
            .unwrap_err();
        assert!(error.to_string().contains("has shape [3]"), "{error}");
        model
            .set_weight("layers.5.bias", &[3], &[1.0, 2.0, 3.0])
            .unwrap();
        assert_eq!(model.weights()[5].2, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn new_rejects_model_without_class_scores() {
        let mut config = small_config(false);
        config.layers.truncate(2);
        let error = CpuModel::new(config, 1).err().expect("a config error");
        assert!(
            error
                .to_string()
                .contains("must be dense, giving one score per class"),
            "{error}"
        );
    }

    #[test]
    fn trace_exposes_layer_outputs() {
        let model = CpuModel::new(small_config(false), 5).unwrap();
        let images = wave(BATCH * 60, 0.3);
        let trace = model.forward_trace(&images, BATCH, false, false, 0);
        assert_eq!(model.layer_output_shape(0), [3, 3, 3]);
        assert_eq!(trace.layer_output(0).len(), BATCH * 27);
        assert_eq!(model.layer_output_shape(1), [2, 2, 3]);
        assert_eq!(trace.layer_output(1).len(), BATCH * 12);
        assert_eq!(trace.layer_output(5), trace.output());
    }

    #[test]
    fn forward_outputs_are_probabilities() {
        let model = CpuModel::new(small_config(false), 5).unwrap();
        let outputs = model.forward(&wave(BATCH * 60, 0.3), BATCH, false, 0);
        assert_eq!(outputs.len(), BATCH * 3);
        for row in outputs.chunks(3) {
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < 1e-6, "row {row:?}");
        }
    }
}

//! Views into a trained model for the page: conv kernels and the per-layer activations of one
//! image.

use serde::Serialize;

use super::backend::NetRef;
use crate::layers::{LayerConfig, Pass};
use crate::model::build_layers;
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Kernel of one conv layer, HWIO.
#[derive(Serialize)]
pub struct ConvKernel {
    /// Index of the layer in the model config.
    pub layer: usize,
    /// `[kernel height, kernel width, input channels, filters]`.
    pub shape: Vec<usize>,
    /// Values in HWIO order.
    pub values: Vec<f32>,
}

/// Output of one layer for one image.
#[derive(Serialize)]
pub struct LayerActivation {
    /// Index of the layer in the model config.
    pub layer: usize,
    /// Layer type (`conv2d`, `max_pool2d`, ...).
    pub kind: String,
    /// Output shape of the example, `[H, W, C]` for image-shaped outputs.
    pub shape: Vec<usize>,
    /// Values in HWC order.
    pub values: Vec<f32>,
}

/// Reads the kernels of every conv layer.
pub async fn conv_kernels(net: NetRef<'_>) -> Result<Vec<ConvKernel>> {
    let weights = net.weights().await?;
    let mut kernels = Vec::new();
    for (layer, config) in net.config().layers.iter().enumerate() {
        if !matches!(config, LayerConfig::Conv2d(_)) {
            continue;
        }
        let name = format!("layers.{layer}.kernel");
        if let Some((_, shape, values)) = weights.iter().find(|(n, _, _)| *n == name) {
            kernels.push(ConvKernel {
                layer,
                shape: shape.clone(),
                values: values.clone(),
            });
        }
    }
    Ok(kernels)
}

/// Runs `image` (one HWC image) through the model and returns the output of every layer whose
/// output is image-shaped (conv, pooling, activation and dropout layers before the flatten).
pub async fn activations(net: NetRef<'_>, image: &[f32]) -> Result<Vec<LayerActivation>> {
    let config = net.config();
    let [h, w, c] = config.input_shape;
    if image.len() != h * w * c {
        return Err(Error::Config(format!(
            "the image has {} values but the model takes {h}x{w}x{c} = {}",
            image.len(),
            h * w * c
        )));
    }
    match net {
        NetRef::Gpu(model) => {
            let gpu = model.gpu();
            // Rebuilding the layers with the model's alignment reproduces its arena offsets.
            let align = (gpu.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
            let (layers, _) = build_layers(config, align)?;
            let step = Tensor::from_slice(gpu, &[0.0f32; 4], &[4]);
            let pass = Pass {
                gpu,
                params: model.params(),
                grads: model.grads(),
                training: false,
                step: &step,
                accumulate: false,
            };
            let mut x = Tensor::from_slice(gpu, image, &[1, h, w, c]);
            let mut outputs = Vec::new();
            for (index, layer) in layers.iter().enumerate() {
                let (y, _) = layer.forward(&pass, &x, false);
                if layer.output_shape().len() == 3 {
                    outputs.push((index, y.clone()));
                }
                x = y;
            }
            gpu.submit();
            let mut result = Vec::with_capacity(outputs.len());
            for (index, tensor) in outputs {
                result.push(LayerActivation {
                    layer: index,
                    kind: super::layer_kind(&config.layers[index]),
                    shape: layers[index].output_shape().to_vec(),
                    values: tensor.to_vec(gpu).await?,
                });
            }
            Ok(result)
        }
        NetRef::Cpu(model) => {
            let trace = model.forward_trace(image, 1, false, false, 0);
            let result = (0..config.layers.len())
                .filter(|&index| model.layer_output_shape(index).len() == 3)
                .map(|index| LayerActivation {
                    layer: index,
                    kind: super::layer_kind(&config.layers[index]),
                    shape: model.layer_output_shape(index).to_vec(),
                    values: trace.layer_output(index).to_vec(),
                })
                .collect();
            Ok(result)
        }
    }
}

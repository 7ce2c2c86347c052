//! Views into a trained model for the page: conv kernels and the per-layer activations of one
//! image.

use crate::json::to_json;

use super::backend::NetRef;
use crate::layers::{LayerConfig, Pass};
use crate::model::{build_layers, ModelConfig};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// Kernel of one conv layer, HWIO.
pub struct ConvKernel {
    /// Index of the layer in the model config.
    pub layer: usize,
    /// `[kernel height, kernel width, input channels, filters]`.
    pub shape: Vec<usize>,
    /// Values in HWIO order.
    pub values: Vec<f32>,
}

to_json!(ConvKernel {
    layer,
    shape,
    values,
});

/// Output of one layer for one image.
pub struct LayerActivation {
    /// Index of the layer in the model config.
    pub layer: usize,
    /// Layer type (`conv2d`, `max_pool2d`, ...).
    pub kind: &'static str,
    /// Output shape of the example, `[H, W, C]` for image-shaped outputs.
    pub shape: Vec<usize>,
    /// Values in HWC order.
    pub values: Vec<f32>,
}

to_json!(LayerActivation {
    layer,
    kind,
    shape,
    values,
});

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
    let shapes = output_shapes(config)?;
    let image_layers: Vec<usize> = (0..shapes.len())
        .filter(|&index| shapes[index].len() == 3)
        .collect();
    let outputs = layer_outputs(net, image, &image_layers).await?;
    let result = image_layers
        .into_iter()
        .zip(outputs)
        .map(|(index, values)| LayerActivation {
            layer: index,
            kind: config.layers[index].kind(),
            shape: shapes[index].clone(),
            values,
        })
        .collect();
    Ok(result)
}

/// Runs `images` (whole HWC images, flat) through the model once, in inference mode. Returns
/// the outputs of `layers` (ascending indices) one after the other, each `[n, ...layer output
/// shape]` flat. The face page reads the penultimate layer's features and the class
/// probabilities of every face this way.
pub async fn features(net: NetRef<'_>, images: &[f32], layers: &[usize]) -> Result<Vec<f32>> {
    let config = net.config();
    let count = config.layers.len();
    if let Some(&layer) = layers.iter().find(|&&layer| layer >= count) {
        return Err(Error::Config(format!(
            "layer {layer} does not exist; the model has {count} layers (0 to {})",
            count - 1
        )));
    }
    if !layers.windows(2).all(|pair| pair[0] < pair[1]) {
        return Err(Error::Config(format!(
            "the layers {layers:?} are not in ascending order; list each layer once, lowest first"
        )));
    }
    let per_image: usize = config.input_shape.iter().product();
    let mut outputs = vec![Vec::new(); layers.len()];
    for chunk in images.chunks(per_image * FEATURE_BATCH) {
        let chunk_outputs = layer_outputs(net, chunk, layers).await?;
        for (output, mut values) in outputs.iter_mut().zip(chunk_outputs) {
            output.append(&mut values);
        }
    }
    Ok(outputs.concat())
}

/// Images per forward pass of [`features`], which bounds the memory the passes take.
const FEATURE_BATCH: usize = 64;

/// Output shape of every layer of `config`, per example.
fn output_shapes(config: &ModelConfig) -> Result<Vec<Vec<usize>>> {
    let (layers, _) = build_layers(config, 1)?;
    Ok(layers.iter().map(|l| l.output_shape().to_vec()).collect())
}

/// Runs `images` (whole HWC images, flat) through the model in inference mode and returns the
/// outputs of the layers at `indices` (ascending), each `[n, ...]` flat.
async fn layer_outputs(
    net: NetRef<'_>,
    images: &[f32],
    indices: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let config = net.config();
    let [h, w, c] = config.input_shape;
    let per_image = h * w * c;
    if images.is_empty() || !images.len().is_multiple_of(per_image) {
        return Err(Error::Config(format!(
            "the images have {} values, which is not a whole number of {h}x{w}x{c} images \
             ({per_image} values each); pass whole images the model takes",
            images.len()
        )));
    }
    let count = images.len() / per_image;
    let last = indices.last().copied().unwrap_or(0);
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
            let mut x = Tensor::from_slice(gpu, images, &[count, h, w, c]);
            let mut outputs = Vec::with_capacity(indices.len());
            for (index, layer) in layers.iter().enumerate().take(last + 1) {
                let (y, _) = layer.forward(&pass, &x, false);
                if indices.contains(&index) {
                    outputs.push(y.clone());
                }
                x = y;
            }
            gpu.submit();
            let mut result = Vec::with_capacity(outputs.len());
            for tensor in outputs {
                result.push(tensor.to_vec(gpu).await?);
            }
            Ok(result)
        }
        NetRef::Cpu(model) => {
            let trace = model.forward_trace(images, count, false, false, 0);
            let result = indices
                .iter()
                .map(|&index| trace.layer_output(index).to_vec())
                .collect();
            Ok(result)
        }
    }
}

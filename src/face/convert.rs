//! Conversion of face-api's tiny face detector weights (a tfjs weights manifest and its binary
//! shards) into a webcnn model: dequantises the tensors, maps them onto the layers of
//! [`super::detector_config`] and folds face-api's input normalisation into the first conv.

use crate::json::{self, Json};

use super::{detector_config, MEAN_RGB, STEM_FILTERS};
use crate::io::tfjs::{Tensor, WeightsManifest};
use crate::io::Weights;
use crate::model::ModelConfig;
use crate::{Error, Result};

/// File name of the weights manifest in face-api's `model/` folder.
pub const MANIFEST: &str = "tiny_face_detector_model-weights_manifest.json";

/// Converts the manifest text and the shard contents (in the order of their manifest paths,
/// group after group) into the detector's config and weights for `input_size`. `source` names
/// the manifest in errors.
pub fn convert(
    manifest: &str,
    shards: &[Vec<u8>],
    input_size: usize,
    source: &str,
) -> Result<(ModelConfig, Weights)> {
    let manifest = parse_manifest(manifest.as_bytes(), source)?;
    let views: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
    convert_tensors(&manifest, &views, input_size, source)
}

/// Reads the manifest's tensors from `shards` and maps them onto the detector's layers.
fn convert_tensors(
    manifest: &WeightsManifest,
    shards: &[&[u8]],
    input_size: usize,
    source: &str,
) -> Result<(ModelConfig, Weights)> {
    let bad = |message: String| model_error(source, message);
    let tensors = manifest.read(shards).map_err(bad)?;
    let config = detector_config(input_size)?;
    let weights = map_weights(tensors).map_err(bad)?;
    Ok((config, weights))
}

/// Parses face-api's weights manifest, a bare list of tfjs weight groups. `source` names it in
/// errors.
fn parse_manifest(text: &[u8], source: &str) -> Result<WeightsManifest> {
    let text = std::str::from_utf8(text)
        .map_err(|_| model_error(source, "not a tfjs weights manifest (not UTF-8)".into()))?;
    let groups: Vec<Json> = json::from_str(text)
        .map_err(|e| model_error(source, format!("not a tfjs weights manifest ({e})")))?;
    WeightsManifest::from_groups(&groups).map_err(|e| model_error(source, e))
}

fn model_error(source: &str, message: String) -> Error {
    Error::ModelFile {
        path: source.to_string(),
        message,
    }
}

/// Reads and parses the manifest in `dir`. Returns its path and the parsed manifest.
#[cfg(not(target_arch = "wasm32"))]
fn read_manifest(dir: &std::path::Path) -> Result<(std::path::PathBuf, WeightsManifest)> {
    let path = dir.join(MANIFEST);
    let manifest = parse_manifest(&read_file(&path)?, &path.display().to_string())?;
    Ok((path, manifest))
}

#[cfg(not(target_arch = "wasm32"))]
fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.display().to_string(),
        source,
    })
}

/// Lists the files [`convert_dir`] reads in `dir`: the manifest and the shards it names.
#[cfg(not(target_arch = "wasm32"))]
pub fn input_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let (path, manifest) = read_manifest(dir)?;
    let shards = manifest.paths.iter().map(|shard| dir.join(shard));
    Ok(std::iter::once(path).chain(shards).collect())
}

/// Reads face-api's `model/` folder (the manifest and the shards it names) and converts it.
#[cfg(not(target_arch = "wasm32"))]
pub fn convert_dir(dir: &std::path::Path, input_size: usize) -> Result<(ModelConfig, Weights)> {
    // A bad size fails before any shard is read.
    super::grid_size(input_size)?;
    let (path, manifest) = read_manifest(dir)?;
    let shards = manifest
        .paths
        .iter()
        .map(|shard| read_file(&dir.join(shard)))
        .collect::<Result<Vec<_>>>()?;
    let views: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
    convert_tensors(&manifest, &views, input_size, &path.display().to_string())
}

/// Takes tensor `name` out of `tensors`, checking its shape.
fn take(
    tensors: &mut Vec<Tensor>,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Vec<f32>, String> {
    let index = tensors
        .iter()
        .position(|tensor| tensor.name == name)
        .ok_or_else(|| format!("tensor {name:?} is missing; is this the tiny face detector?"))?;
    let tensor = tensors.remove(index);
    if tensor.shape != shape {
        return Err(format!(
            "tensor {name:?} has shape {:?}, the tiny face detector needs {shape:?}",
            tensor.shape
        ));
    }
    Ok(tensor.values)
}

/// Maps face-api's tensors onto the layers of [`detector_config`], in layer order.
fn map_weights(mut tensors: Vec<Tensor>) -> std::result::Result<Weights, String> {
    let mut weights = Weights::new();
    let mut push = |layer: usize, name: &str, shape: Vec<usize>, values: Vec<f32>| {
        weights.push((format!("layers.{layer}.{name}"), shape, values));
    };

    let stem_shape = [3, 3, 3, STEM_FILTERS];
    let kernel = take(&mut tensors, "conv0/filters", &stem_shape)?;
    let bias = take(&mut tensors, "conv0/bias", &[STEM_FILTERS])?;
    let bias = fold_input_normalisation(&kernel, &bias);
    push(0, "kernel", stem_shape.to_vec(), kernel);
    push(0, "bias", vec![STEM_FILTERS], bias);

    // Layer 1 is the first pooling; each block is depthwise, pointwise and pooling layers.
    let mut channels = STEM_FILTERS;
    for (block, &filters) in super::BLOCK_FILTERS.iter().enumerate() {
        let prefix = format!("conv{}", block + 1);
        let layer = 2 + 3 * block;
        let depthwise_shape = vec![3, 3, channels, 1];
        let depthwise = take(
            &mut tensors,
            &format!("{prefix}/depthwise_filter"),
            &depthwise_shape,
        )?;
        push(layer, "kernel", depthwise_shape, depthwise);
        push(layer, "bias", vec![channels], vec![0.0; channels]);
        let pointwise_shape = vec![1, 1, channels, filters];
        let pointwise = take(
            &mut tensors,
            &format!("{prefix}/pointwise_filter"),
            &pointwise_shape,
        )?;
        push(layer + 1, "kernel", pointwise_shape, pointwise);
        let bias = take(&mut tensors, &format!("{prefix}/bias"), &[filters])?;
        push(layer + 1, "bias", vec![filters], bias);
        channels = filters;
    }

    let head = super::ANCHORS.len() * super::BOX_VALUES;
    let layer = 2 + 3 * super::BLOCK_FILTERS.len();
    let head_shape = vec![1, 1, channels, head];
    push(
        layer,
        "kernel",
        head_shape.clone(),
        take(&mut tensors, "conv8/filters", &head_shape)?,
    );
    push(
        layer,
        "bias",
        vec![head],
        take(&mut tensors, "conv8/bias", &[head])?,
    );

    if let Some(tensor) = tensors.first() {
        return Err(format!(
            "tensor {:?} is not part of the tiny face detector (batch-normalised Tiny YOLOv2 \
             variants are not supported)",
            tensor.name
        ));
    }
    Ok(weights)
}

/// Returns conv0's bias for input in [0, 1] instead of face-api's `(255 x - mean) / 255`.
///
/// `conv(x - mean / 255, w) + b = conv(x, w) + b - sum over taps and input channels of
/// w * mean / 255`, exactly, because conv0 has "valid" padding and so never reads padding.
fn fold_input_normalisation(kernel: &[f32], bias: &[f32]) -> Vec<f32> {
    let filters = bias.len();
    let mut shift = vec![0.0f64; filters];
    for (row, w_row) in kernel.chunks_exact(filters).enumerate() {
        let mean = f64::from(MEAN_RGB[row % 3]) / 255.0;
        for (s, &w) in shift.iter_mut().zip(w_row) {
            *s += f64::from(w) * mean;
        }
    }
    bias.iter()
        .zip(&shift)
        .map(|(&b, &s)| (f64::from(b) - s) as f32)
        .collect()
}

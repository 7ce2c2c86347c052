//! Conversion of face-api's tiny face detector weights (a tfjs weights manifest and its binary
//! shards) into a webcnn model: dequantises the tensors, maps them onto the layers of
//! [`super::detector_config`] and folds face-api's input normalisation into the first conv.

use serde::Deserialize;

use super::{detector_config, MEAN_RGB, STEM_FILTERS};
use crate::io::Weights;
use crate::model::ModelConfig;
use crate::{Error, Result};

/// File name of the weights manifest in face-api's `model/` folder.
pub const MANIFEST: &str = "tiny_face_detector_model-weights_manifest.json";

/// One group of a tfjs weights manifest: shards that, concatenated, contain `weights` back to
/// back.
#[derive(Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Spec>,
}

/// One tensor of a manifest group.
#[derive(Deserialize)]
struct Spec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

/// Storage of a quantised tensor: `value = min + scale * stored`.
#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f32>,
    min: Option<f32>,
}

/// A dequantised tensor of the manifest: name, shape and values.
type Tensor = (String, Vec<usize>, Vec<f32>);

/// Converts the manifest text and the shard contents (in the order of their manifest paths,
/// group after group) into the detector's config and weights for `input_size`. `source` names
/// the manifest in errors.
pub fn convert(
    manifest: &str,
    shards: &[Vec<u8>],
    input_size: usize,
    source: &str,
) -> Result<(ModelConfig, Weights)> {
    let bad = |message: String| Error::ModelFile {
        path: source.to_string(),
        message,
    };
    let groups: Vec<Group> = serde_json::from_str(manifest)
        .map_err(|e| bad(format!("not a tfjs weights manifest ({e})")))?;
    let mut tensors = Vec::new();
    let mut shard_index = 0;
    for group in &groups {
        let end = shard_index + group.paths.len();
        let parts = shards.get(shard_index..end).ok_or_else(|| {
            bad(format!(
                "the manifest lists {end} or more shard files, but {} were given",
                shards.len()
            ))
        })?;
        tensors.extend(read_group(group, &parts.concat()).map_err(bad)?);
        shard_index = end;
    }
    let config = detector_config(input_size)?;
    let weights = map_weights(tensors).map_err(bad)?;
    Ok((config, weights))
}

/// Lists the files [`convert_dir`] reads in `dir`: the manifest and the shards it names.
#[cfg(not(target_arch = "wasm32"))]
pub fn input_files(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let manifest_path = dir.join(MANIFEST);
    let manifest = std::fs::read(&manifest_path).map_err(|source| Error::Io {
        path: manifest_path.display().to_string(),
        source,
    })?;
    let groups: Vec<Group> = serde_json::from_slice(&manifest).map_err(|e| Error::ModelFile {
        path: manifest_path.display().to_string(),
        message: format!("not a tfjs weights manifest ({e})"),
    })?;
    let shards = groups
        .iter()
        .flat_map(|g| &g.paths)
        .map(|path| dir.join(path));
    Ok(std::iter::once(manifest_path.clone())
        .chain(shards)
        .collect())
}

/// Reads face-api's `model/` folder (the manifest and the shards it names) and converts it.
#[cfg(not(target_arch = "wasm32"))]
pub fn convert_dir(dir: &std::path::Path, input_size: usize) -> Result<(ModelConfig, Weights)> {
    let read = |path: std::path::PathBuf| {
        std::fs::read(&path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })
    };
    let manifest_path = dir.join(MANIFEST);
    let manifest = String::from_utf8_lossy(&read(manifest_path.clone())?).into_owned();
    let groups: Vec<Group> = serde_json::from_str(&manifest).map_err(|e| Error::ModelFile {
        path: manifest_path.display().to_string(),
        message: format!("not a tfjs weights manifest ({e})"),
    })?;
    let mut shards = Vec::new();
    for path in groups.iter().flat_map(|g| &g.paths) {
        shards.push(read(dir.join(path))?);
    }
    convert(
        &manifest,
        &shards,
        input_size,
        &manifest_path.display().to_string(),
    )
}

/// Dequantises every tensor of one group from its concatenated shards.
// NOTE: io::tfjs reads the same weights-manifest format (with more storage types); this reader
// should become a caller of it.
fn read_group(group: &Group, bytes: &[u8]) -> std::result::Result<Vec<Tensor>, String> {
    let mut offset = 0;
    let mut tensors = Vec::with_capacity(group.weights.len());
    for spec in &group.weights {
        let count: usize = spec.shape.iter().product();
        let (width, decode) = storage(spec)?;
        let end = offset + count * width;
        let data = bytes.get(offset..end).ok_or_else(|| {
            format!(
                "tensor {:?} needs bytes {offset}..{end} of its shards, which contain {} bytes; the \
                 weights file is truncated",
                spec.name,
                bytes.len()
            )
        })?;
        let values: Vec<f32> = data.chunks_exact(width).map(decode).collect();
        tensors.push((spec.name.clone(), spec.shape.clone(), values));
        offset = end;
    }
    if offset != bytes.len() {
        return Err(format!(
            "the shards hold {} bytes, but the manifest's tensors use {offset}; the weights file is \
             longer than the manifest describes or belongs to another model",
            bytes.len()
        ));
    }
    Ok(tensors)
}

type Decode = Box<dyn Fn(&[u8]) -> f32>;

/// Bytes per stored value of `spec` and the function that turns them into an f32.
fn storage(spec: &Spec) -> std::result::Result<(usize, Decode), String> {
    if spec.dtype != "float32" {
        return Err(format!(
            "tensor {:?} has dtype {:?}; the face detector's tensors are float32",
            spec.name, spec.dtype
        ));
    }
    let Some(q) = &spec.quantization else {
        return Ok((
            4,
            Box::new(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ));
    };
    let (Some(scale), Some(min)) = (q.scale, q.min) else {
        return Err(format!(
            "tensor {:?} is quantised as {:?} without both min and scale",
            spec.name, q.dtype
        ));
    };
    match q.dtype.as_str() {
        "uint8" => Ok((1, Box::new(move |b| min + scale * f32::from(b[0])))),
        "uint16" => Ok((
            2,
            Box::new(move |b| min + scale * f32::from(u16::from_le_bytes([b[0], b[1]]))),
        )),
        other => Err(format!(
            "tensor {:?} is quantised as {other:?}; the converter reads uint8 and uint16",
            spec.name
        )),
    }
}

/// Takes tensor `name` out of `tensors`, checking its shape.
fn take(
    tensors: &mut Vec<Tensor>,
    name: &str,
    shape: &[usize],
) -> std::result::Result<Vec<f32>, String> {
    let index = tensors
        .iter()
        .position(|(n, _, _)| n == name)
        .ok_or_else(|| format!("tensor {name:?} is missing; is this the tiny face detector?"))?;
    let (_, found, values) = tensors.remove(index);
    if found != shape {
        return Err(format!(
            "tensor {name:?} has shape {found:?}, the tiny face detector needs {shape:?}"
        ));
    }
    Ok(values)
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

    if let Some((name, _, _)) = tensors.first() {
        return Err(format!(
            "tensor {name:?} is not part of the tiny face detector (batch-normalised Tiny YOLOv2 \
             variants are not supported)"
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

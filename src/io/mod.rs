//! Model files: one safetensors file whose header metadata contains the format name, the format
//! version and the JSON model config, and whose tensors are the parameters (f32, little-endian)
//! named `layers.{index}.kernel` and `layers.{index}.bias`. [`tfjs`] imports Keras models
//! saved for TensorFlow.js.

pub mod tfjs;

use std::rc::Rc;

use safetensors::{Dtype, SafeTensors};

use crate::gpu::Gpu;
use crate::model::{Model, ModelConfig};
use crate::{Error, Result};

/// Value of the `format` metadata entry.
pub const FORMAT: &str = "webcnn";
/// Current file format version.
pub const VERSION: u32 = 1;

/// Named parameter tensors: name, shape and values.
pub type Weights = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Serialises a model config and its weights as a safetensors file: the header length (u64,
/// little-endian), the JSON header padded with spaces to a multiple of 8 bytes, then the values.
/// The tensors are in name order, as `safetensors::serialize` orders tensors of one dtype. The
/// file is written here because `safetensors::serialize` and its sorting kept 3.6 KB more
/// (gzipped) in the npm package's wasm core.
pub fn encode(config: &ModelConfig, weights: &Weights) -> Result<Vec<u8>> {
    // Insertion by binary search, because a model has a few dozen tensors and a slice sort would
    // add its own copy of the sorting code to the wasm module.
    let mut order: Vec<&(String, Vec<usize>, Vec<f32>)> = Vec::with_capacity(weights.len());
    for weight in weights {
        let at = order.partition_point(|other| other.0 <= weight.0);
        order.insert(at, weight);
    }

    let config = serde_json::to_string(config).expect("configs serialise");
    let mut header = format!(
        "{{\"__metadata__\":{{\"format\":{},\"version\":\"{VERSION}\",\"config\":{}}}",
        json_string(FORMAT),
        json_string(&config)
    );
    let mut offset = 0;
    for (name, shape, values) in &order {
        if shape.iter().product::<usize>() != values.len() {
            return Err(Error::Config(format!(
                "serialising the model failed: tensor {name} has {} values but shape {shape:?}",
                values.len()
            )));
        }
        let end = offset + 4 * values.len();
        header += &format!(
            ",{}:{{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
            json_string(name),
            serde_json::to_string(shape).expect("shapes serialise")
        );
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }

    let mut bytes = Vec::with_capacity(8 + header.len() + offset);
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (_, _, values) in order {
        bytes.extend_from_slice(bytemuck::cast_slice(values));
    }
    Ok(bytes)
}

/// Writes `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

/// Parses a model file into its config and weights, checking the format, the version and that
/// every tensor is finite f32. `source` names the file in errors.
pub fn decode(bytes: &[u8], source: &str) -> Result<(ModelConfig, Weights)> {
    let bad = |message: String| Error::ModelFile {
        path: source.to_string(),
        message,
    };
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        bad(format!(
            "not a safetensors file or truncated ({e}); save the model again"
        ))
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let metadata = header.metadata().clone().unwrap_or_default();
    if metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(bad(format!(
            "the metadata has no \"format\": \"{FORMAT}\" entry; it is not a webcnn model"
        )));
    }
    check_version(metadata.get("version").map(String::as_str)).map_err(bad)?;
    let config_text = metadata
        .get("config")
        .ok_or_else(|| bad("the metadata has no model config".into()))?;
    let config = ModelConfig::from_json(config_text).map_err(|e| bad(e.to_string()))?;

    let mut weights = Weights::new();
    for (name, tensor) in file.tensors() {
        if tensor.dtype() != Dtype::F32 {
            return Err(bad(format!(
                "tensor {name:?} is {:?}, expected F32",
                tensor.dtype()
            )));
        }
        let values: Vec<f32> = tensor
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("tensor {name:?} element {i} is {}", values[i])));
        }
        weights.push((name, tensor.shape().to_vec(), values));
    }
    Ok((config, weights))
}

/// Checks the `version` metadata entry: a file newer than this build is refused with advice.
fn check_version(version: Option<&str>) -> std::result::Result<(), String> {
    match version.map(str::parse::<u32>) {
        Some(Ok(VERSION)) => Ok(()),
        Some(Ok(newer)) if newer > VERSION => Err(format!(
            "it is format version {newer}, written by a newer webcnn; this build reads version \
             {VERSION}, so update webcnn to load it"
        )),
        _ => Err(format!(
            "format version {:?} is not supported (this build reads version {VERSION})",
            version.unwrap_or("missing")
        )),
    }
}

/// Checks that `weights` contains exactly the parameters `expected` (name and shape) lists.
pub fn check_weights(
    expected: &[(String, Vec<usize>)],
    weights: &Weights,
    source: &str,
) -> Result<()> {
    let bad = |message: String| Error::ModelFile {
        path: source.to_string(),
        message,
    };
    for (name, _, _) in weights {
        if !expected.iter().any(|(e, _)| e == name) {
            return Err(bad(format!(
                "tensor {name:?} does not belong to the model in its config"
            )));
        }
    }
    for (name, shape) in expected {
        let (_, found, _) = weights
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| bad(format!("tensor {name:?} is missing")))?;
        if found != shape {
            return Err(bad(format!(
                "tensor {name:?} has shape {found:?}, the config needs {shape:?}"
            )));
        }
    }
    Ok(())
}

/// Serialises the model's config and current weights.
pub async fn to_bytes(model: &Model) -> Result<Vec<u8>> {
    encode(model.config(), &model.weights().await?)
}

/// Builds a model from bytes written by [`to_bytes`]. Nothing is returned unless every tensor
/// loads; `source` names the file in errors.
pub fn from_bytes(gpu: Rc<Gpu>, bytes: &[u8], source: &str) -> Result<Model> {
    let (config, weights) = decode(bytes, source)?;
    build(gpu, config, &weights, source)
}

/// Builds `config` on `gpu` with `weights`, which must hold every parameter of the model.
pub fn build(gpu: Rc<Gpu>, config: ModelConfig, weights: &Weights, source: &str) -> Result<Model> {
    let model = Model::new(gpu, config, 0).map_err(|e| Error::ModelFile {
        path: source.to_string(),
        message: e.to_string(),
    })?;
    let expected: Vec<(String, Vec<usize>)> = model
        .slots()
        .map(|(i, s)| (format!("layers.{i}.{}", s.name), s.shape.clone()))
        .collect();
    check_weights(&expected, weights, source)?;
    for (name, shape, values) in weights {
        model.set_weight(name, shape, values)?;
    }
    Ok(model)
}

/// Writes the model to `path`. A failed write leaves any earlier file at `path` as it was.
#[cfg(not(target_arch = "wasm32"))]
pub async fn save(model: &Model, path: &std::path::Path) -> Result<()> {
    let bytes = to_bytes(model).await?;
    write_file(path, &bytes)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed over `path`
/// once complete, so a write that fails (a full disk, a size limit) neither truncates an
/// earlier file at `path` nor leaves a partial one.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let result = std::fs::write(&partial, bytes).and_then(|()| std::fs::rename(&partial, path));
    result.map_err(|source| {
        let _ = std::fs::remove_file(&partial);
        Error::Io {
            action: "writing",
            path: path.display().to_string(),
            source,
        }
    })
}

/// Reads a model from `path`: a webcnn file, or a tfjs-layers `model.json` (any `.json`
/// file) with its weight shards beside it.
#[cfg(not(target_arch = "wasm32"))]
pub fn load(gpu: Rc<Gpu>, path: &std::path::Path) -> Result<Model> {
    if path.extension().is_some_and(|e| e == "json") {
        let (config, weights) = tfjs::import(path)?;
        return build(gpu, config, &weights, &path.display().to_string());
    }
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.display().to_string(),
        source,
    })?;
    from_bytes(gpu, &bytes, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_rejects_values_shape_mismatch() {
        let config = ModelConfig::preset("lenet5").unwrap();
        let weights: Weights = vec![("layers.0.bias".into(), vec![2], vec![1.0, 2.0, 3.0])];
        let error = encode(&config, &weights).unwrap_err().to_string();
        assert!(error.contains("serialising the model failed"), "{error}");
        assert!(
            error.contains("layers.0.bias has 3 values but shape [2]"),
            "{error}"
        );
    }

    #[test]
    fn encode_matches_safetensors_serialize() {
        let config = ModelConfig::preset("lenet5").unwrap();
        let weights: Weights = vec![
            (
                "layers.10.kernel".into(),
                vec![2, 3],
                (0..6).map(|i| i as f32).collect(),
            ),
            ("layers.2.bias".into(), vec![3], vec![0.5, -1.5, 1e-30]),
            (
                "layers.2.kernel".into(),
                vec![1, 1, 1, 2],
                vec![f32::MAX, f32::MIN],
            ),
            ("layers.0.\"quoted\"".into(), vec![0], vec![]),
        ];
        let ours = encode(&config, &weights).unwrap();

        let views = weights.iter().map(|(name, shape, values)| {
            let data: &[u8] = bytemuck::cast_slice(values);
            let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data);
            (name.as_str(), view.unwrap())
        });
        let metadata = std::collections::HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("version".to_string(), VERSION.to_string()),
            (
                "config".to_string(),
                serde_json::to_string(&config).unwrap(),
            ),
        ]);
        let theirs = safetensors::serialize(views, Some(metadata)).unwrap();

        // The files differ only in the order of the metadata entries, which safetensors takes
        // from a HashMap.
        assert_eq!(ours.len(), theirs.len());
        let (_, ours_header) = SafeTensors::read_metadata(&ours).unwrap();
        let (_, theirs_header) = SafeTensors::read_metadata(&theirs).unwrap();
        assert_eq!(ours_header.metadata(), theirs_header.metadata());
        assert_eq!(ours_header.offset_keys(), theirs_header.offset_keys());
        for name in ours_header.offset_keys() {
            let ours_info = ours_header.info(&name).unwrap();
            let theirs_info = theirs_header.info(&name).unwrap();
            assert_eq!(ours_info.shape, theirs_info.shape, "{name}");
            assert_eq!(ours_info.data_offsets, theirs_info.data_offsets, "{name}");
        }
        let header_end = 8 + u64::from_le_bytes(ours[..8].try_into().unwrap()) as usize;
        assert_eq!(&ours[header_end..], &theirs[header_end..]);
        let (decoded_config, mut decoded) = decode(&ours, "ours").unwrap();
        assert_eq!(decoded_config, config);
        decoded.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sorted = weights;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(decoded, sorted);
    }

    #[test]
    fn newer_versions_are_refused_with_advice() {
        assert!(check_version(Some("1")).is_ok());
        let newer = check_version(Some("2")).unwrap_err();
        assert!(
            newer.contains("newer webcnn") && newer.contains("update"),
            "{newer}"
        );
        let missing = check_version(None).unwrap_err();
        assert!(missing.contains("\"missing\""), "{missing}");
    }
}

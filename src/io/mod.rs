//! Model files: one safetensors file whose header metadata contains the format name, the format
//! version and the JSON model config, and whose tensors are the parameters (f32, little-endian)
//! named `layers.{index}.kernel` and `layers.{index}.bias`. [`tfjs`] imports Keras models
//! saved for TensorFlow.js.

pub mod tfjs;

use std::collections::HashMap;
use std::rc::Rc;

use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::gpu::Gpu;
use crate::model::{Model, ModelConfig};
use crate::{Error, Result};

/// Value of the `format` metadata entry.
pub const FORMAT: &str = "webcnn";
/// Current file format version.
pub const VERSION: u32 = 1;

/// Named parameter tensors: name, shape and values.
pub type Weights = Vec<(String, Vec<usize>, Vec<f32>)>;

/// Serialises a model config and its weights.
pub fn encode(config: &ModelConfig, weights: &Weights) -> Result<Vec<u8>> {
    let bytes: Vec<(&str, &[usize], &[u8])> = weights
        .iter()
        .map(|(name, shape, values)| {
            (
                name.as_str(),
                shape.as_slice(),
                bytemuck::cast_slice(values),
            )
        })
        .collect();
    let views = bytes.iter().map(|&(name, shape, data)| {
        // A panic with the Display text, because `expect` would keep the error's Debug code.
        let view = TensorView::new(Dtype::F32, shape.to_vec(), data)
            .unwrap_or_else(|e| panic!("weights {name} do not fit their shape: {e}"));
        (name, view)
    });
    let config = serde_json::to_string(config).expect("configs serialise");
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("version".to_string(), VERSION.to_string()),
        ("config".to_string(), config),
    ]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Config(format!("serialising the model failed: {e}")))
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

/// Writes the model to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn save(model: &Model, path: &std::path::Path) -> Result<()> {
    let bytes = to_bytes(model).await?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        action: "writing",
        path: path.display().to_string(),
        source,
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

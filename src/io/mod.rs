//! Model files: one safetensors file whose header metadata holds the format name, the format
//! version and the JSON model config, and whose tensors are the parameters (f32, little-endian)
//! named `layers.{index}.kernel` and `layers.{index}.bias`.

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

/// Serialises the model's config and current weights.
pub async fn to_bytes(model: &Model) -> Result<Vec<u8>> {
    let weights = model.weights().await?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = weights
        .into_iter()
        .map(|(name, shape, values)| (name, shape, bytemuck::cast_slice(&values).to_vec()))
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data).expect("sizes match");
            (name.clone(), view)
        })
        .collect::<Vec<_>>();
    let config = serde_json::to_string(model.config()).expect("configs serialise");
    let metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("version".to_string(), VERSION.to_string()),
        ("config".to_string(), config),
    ]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Config(format!("serialising the model failed: {e}")))
}

/// Builds a model from bytes written by [`to_bytes`]. Nothing is returned unless every tensor
/// loads; `source` names the file in errors.
pub fn from_bytes(gpu: Rc<Gpu>, bytes: &[u8], source: &str) -> Result<Model> {
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
    let version = metadata.get("version").cloned().unwrap_or_default();
    if version != VERSION.to_string() {
        return Err(bad(format!(
            "format version {version:?} is not supported (this build reads version {VERSION})"
        )));
    }
    let config_text = metadata
        .get("config")
        .ok_or_else(|| bad("the metadata has no model config".into()))?;
    let config = ModelConfig::from_json(config_text).map_err(|e| bad(e.to_string()))?;

    let model = Model::new(gpu, config, 0).map_err(|e| bad(e.to_string()))?;
    let expected: Vec<String> = model
        .slots()
        .map(|(i, s)| format!("layers.{i}.{}", s.name))
        .collect();
    for name in file.names() {
        if !expected.iter().any(|e| e == name) {
            return Err(bad(format!(
                "tensor {name:?} does not belong to the model in its config"
            )));
        }
    }
    for name in &expected {
        let tensor = file
            .tensor(name)
            .map_err(|_| bad(format!("tensor {name:?} is missing")))?;
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
        model
            .set_weight(name, tensor.shape(), &values)
            .map_err(|e| bad(e.to_string()))?;
    }
    Ok(model)
}

/// Writes the model to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn save(model: &Model, path: &std::path::Path) -> Result<()> {
    let bytes = to_bytes(model).await?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a model from `path`.
#[cfg(not(target_arch = "wasm32"))]
pub fn load(gpu: Rc<Gpu>, path: &std::path::Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_bytes(gpu, &bytes, &path.display().to_string())
}

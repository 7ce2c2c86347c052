//! Model files: one safetensors file whose header metadata contains the format name, the format
//! version and the JSON model config, and whose tensors are the parameters (f32, little-endian)
//! named `layers.{index}.kernel` and `layers.{index}.bias`. [`tfjs`] imports Keras models
//! saved for TensorFlow.js.

pub mod tfjs;

use crate::number::Shortest;
use std::rc::Rc;

use crate::gpu::Gpu;
use crate::json::{self, from_json, Json};
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

    let config = json::to_string(config);
    let mut header = format!(
        "{{\"__metadata__\":{{\"format\":{},\"version\":\"{VERSION}\",\"config\":{}}}",
        json::to_string(FORMAT),
        json::to_string(&config)
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
            json::to_string(name),
            json::to_string(shape)
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

/// Location of one tensor's values in a safetensors file, as its header lists them.
struct TensorInfo {
    dtype: String,
    shape: Vec<usize>,
    /// Start and end of the values, in bytes from the end of the header.
    data_offsets: [usize; 2],
}

from_json!(TensorInfo {
    dtype,
    shape,
    data_offsets
});

/// Parses a model file into its config and weights, checking the format, the version and that
/// every tensor is finite f32 and lies inside the file. `source` names the file in errors.
pub fn decode(bytes: &[u8], source: &str) -> Result<(ModelConfig, Weights)> {
    let bad = |message: String| Error::ModelFile {
        path: source.to_string(),
        message,
    };
    let (header, data) = split_header(bytes).map_err(|e| {
        bad(if bytes.trim_ascii_start().starts_with(b"{") {
            "it is JSON, not a webcnn model file; import a Keras or tfjs-layers model.json with \
             `webcnn import` or the npm package's loadModel, which read its weight files too"
                .into()
        } else {
            format!("not a safetensors file or truncated ({e}); save the model again")
        })
    })?;
    let metadata = header.get("__metadata__").unwrap_or(&Json::Null);
    if metadata["format"].as_str() != Some(FORMAT) {
        return Err(bad(format!(
            "the metadata has no \"format\": \"{FORMAT}\" entry; it is not a webcnn model"
        )));
    }
    check_version(metadata["version"].as_str()).map_err(bad)?;
    let config_text = metadata["config"]
        .as_str()
        .ok_or_else(|| bad("the metadata has no model config".into()))?;
    let config = ModelConfig::from_json(config_text).map_err(|e| bad(e.to_string()))?;

    let mut weights = Weights::new();
    for (name, info) in tensor_layout(&header, data.len()).map_err(bad)? {
        let [start, end] = info.data_offsets;
        let values: Vec<f32> = data[start..end]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "tensor {name:?} element {i} is {}",
                Shortest(values[i])
            )));
        }
        weights.push((name.clone(), info.shape, values));
    }
    Ok((config, weights))
}

/// Checks that each tensor `header` lists is F32, spans 4 bytes per element of its shape and
/// ends within the `data_len` bytes after the header, and that together they cover those bytes
/// once, without gaps or overlaps. Returns them in the order of their data, before any value is copied, so
/// that a crafted header cannot make the reader copy more than the file holds.
fn tensor_layout(
    header: &Json,
    data_len: usize,
) -> std::result::Result<Vec<(&String, TensorInfo)>, String> {
    let mut tensors: Vec<(&String, TensorInfo)> = Vec::new();
    for (name, entry) in header.as_object().into_iter().flatten() {
        if name == "__metadata__" {
            continue;
        }
        if tensors.iter().any(|(other, _)| *other == name) {
            return Err(format!(
                "tensor {name:?} is listed twice; save the model again"
            ));
        }
        let info = check_tensor(entry, data_len).map_err(|e| format!("tensor {name:?} {e}"))?;
        // Inserted by a binary search on the start, because a slice sort would add its own code
        // to the wasm module.
        let at =
            tensors.partition_point(|(_, other)| other.data_offsets[0] <= info.data_offsets[0]);
        tensors.insert(at, (name, info));
    }

    let mut covered = 0;
    for (name, info) in &tensors {
        let start = info.data_offsets[0];
        if start != covered {
            return Err(format!(
                "tensor {name:?} starts at byte {start}, but the tensors before it end at byte \
                 {covered}, so the tensors overlap or leave a gap; save the model again"
            ));
        }
        covered = info.data_offsets[1];
    }
    if covered != data_len {
        return Err(format!(
            "its tensors hold {covered} bytes but the file has {data_len} after the header; \
             save the model again"
        ));
    }
    Ok(tensors)
}

/// Reads the header `entry` of one tensor and checks its dtype, size and end.
fn check_tensor(entry: &Json, data_len: usize) -> std::result::Result<TensorInfo, String> {
    let info: TensorInfo = json::FromJson::from_json(entry).map_err(|e| format!("header: {e}"))?;
    if info.dtype != "F32" {
        return Err(format!("is {}, expected F32", info.dtype));
    }
    let [start, end] = info.data_offsets;
    let count = info.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if end < start || Some(end - start) != count.and_then(|n| n.checked_mul(4)) {
        return Err(format!(
            "spans bytes {start} to {end}, which does not fit its shape {:?}",
            info.shape
        ));
    }
    if end > data_len {
        return Err(format!(
            "ends at byte {end} but the file has {data_len} after the header; it is truncated"
        ));
    }
    Ok(info)
}

/// Splits a safetensors file into its parsed JSON header and the bytes after it.
fn split_header(bytes: &[u8]) -> std::result::Result<(Json, &[u8]), String> {
    let Some((length, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(format!(
            "{} bytes, shorter than the header length",
            bytes.len()
        ));
    };
    let length = u64::from_le_bytes(*length);
    if length > rest.len() as u64 {
        return Err(format!(
            "the header length is {length} bytes but {} follow",
            rest.len()
        ));
    }
    let (header, data) = rest.split_at(length as usize);
    let text = std::str::from_utf8(header).map_err(|_| "the header is not UTF-8".to_string())?;
    let header = json::parse(text).map_err(|e| format!("header: {e}"))?;
    if !header.is_object() {
        return Err("the header is not a JSON object".into());
    }
    Ok((header, data))
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

/// Writes `bytes` to `path` without losing an earlier file there on failure
/// ([`replace_file`]).
#[cfg(not(target_arch = "wasm32"))]
pub fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    replace_file(path, |partial| std::fs::write(partial, bytes)).map_err(|source| Error::Io {
        action: "writing",
        path: path.display().to_string(),
        source,
    })
}

/// Has `write` create a temporary file in the folder of `path`, then renames it over `path`
/// once complete, so a write that fails (a full disk, a size limit) neither truncates an
/// earlier file at `path` nor leaves a partial one.
#[cfg(not(target_arch = "wasm32"))]
pub fn replace_file(
    path: &std::path::Path,
    write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let partial = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let result = write(&partial).and_then(|()| std::fs::rename(&partial, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
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
    use safetensors::{Dtype, SafeTensors};

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
            ("config".to_string(), json::to_string(&config)),
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

    /// Builds a lenet5 model file whose one tensor, `layers.0.bias`, has the header entry
    /// `entry`, followed by `data`.
    fn file_with_tensor(entry: &str, data: &[u8]) -> Vec<u8> {
        let config = json::to_string(&json::to_string(&ModelConfig::preset("lenet5").unwrap()));
        let header = format!(
            "{{\"__metadata__\":{{\"format\":\"webcnn\",\"version\":\"1\",\"config\":{config}}},\
             \"layers.0.bias\":{entry}}}"
        );
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn bad_headers_rejected() {
        let two = [0u8; 8];
        let good = r#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#;
        let (_, weights) = decode(&file_with_tensor(good, &two), "good").unwrap();
        assert_eq!(
            weights,
            vec![("layers.0.bias".into(), vec![2], vec![0.0, 0.0])]
        );

        let cases: [(&str, &[u8], &str); 8] = [
            (
                good,
                &two[..4],
                "ends at byte 8 but the file has 4 after the header; it is truncated",
            ),
            (
                good,
                &[0; 12],
                "its tensors hold 8 bytes but the file has 12 after the header",
            ),
            (
                r#"{"dtype":"F16","shape":[2],"data_offsets":[0,4]}"#,
                &two,
                "is F16, expected F32",
            ),
            (
                r#"{"dtype":"F32","shape":[3],"data_offsets":[0,8]}"#,
                &two,
                "does not fit its shape [3]",
            ),
            (
                r#"{"dtype":"F32","shape":[2],"data_offsets":[8,0]}"#,
                &two,
                "spans bytes 8 to 0",
            ),
            (
                r#"{"dtype":"F32","shape":[2]}"#,
                &two,
                "header: missing field `data_offsets`",
            ),
            (
                r#"{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#,
                &[0; 8],
                "starts at byte 4, but the tensors before it end at byte 0",
            ),
            (
                r#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]"#,
                &two,
                "expected `,` or `}`",
            ),
        ];
        for (entry, data, expected) in cases {
            let error = decode(&file_with_tensor(entry, data), "bad")
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{entry}: {error}");
        }
        let nan = f32::NAN.to_le_bytes().repeat(2);
        let error = decode(&file_with_tensor(good, &nan), "nan")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("tensor \"layers.0.bias\" element 0 is NaN"),
            "{error}"
        );
        for bytes in [&b"\x07\0\0"[..], &u64::MAX.to_le_bytes()] {
            let error = decode(bytes, "short").unwrap_err().to_string();
            assert!(
                error.contains("not a safetensors file or truncated"),
                "{error}"
            );
        }
        // Two tensors over the same bytes, and a copy of one name. A reader that copied before
        // checking would copy far more than the file holds for a header of many such entries.
        let same = r#"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#;
        let twice = file_with_tensor(&format!("{same},\"b\":{same}"), &[0; 8]);
        let error = decode(&twice, "overlap").unwrap_err().to_string();
        assert!(error.contains("overlap or leave a gap"), "{error}");
        let repeated = file_with_tensor(&format!("{same},\"layers.0.bias\":{same}"), &[0; 4]);
        let error = decode(&repeated, "repeated").unwrap_err().to_string();
        assert!(
            error.contains("\"layers.0.bias\" is listed twice"),
            "{error}"
        );

        let model_json = b" {\"format\": \"layers-model\", \"modelTopology\": {}}";
        let error = decode(model_json, "model.json").unwrap_err().to_string();
        assert!(
            error.contains("it is JSON, not a webcnn model file"),
            "{error}"
        );
        assert!(error.contains("webcnn import"), "{error}");
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

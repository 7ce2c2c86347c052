//! The tfjs weights manifest: groups of binary shard files and the tensors stored in them
//! back to back. TensorFlow.js writes it as a model.json's `weightsManifest` and, for models
//! such as face-api's, as a standalone `*-weights_manifest.json`. Tensors are float32, stored
//! as float32, float16, or uint8/uint16 quantised with min and scale.

use crate::json::{from_json, Fields, FromJson, Json, JsonResult};
use crate::number::Shortest;

/// A parsed weights manifest whose tensors all have a storage type webcnn reads.
#[derive(Debug)]
pub struct WeightsManifest {
    /// Shard files, relative to the manifest, in reading order.
    pub paths: Vec<String>,
    groups: Vec<Group>,
}

/// A tensor decoded from the shards.
#[derive(Debug)]
pub struct Tensor {
    /// Name in the manifest, such as `conv2d/kernel`.
    pub name: String,
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Dequantised values in row-major order.
    pub values: Vec<f32>,
}

/// One group of the manifest: shards that, concatenated, contain `specs` back to back.
#[derive(Debug)]
struct Group {
    /// Indices into [`WeightsManifest::paths`].
    shards: std::ops::Range<usize>,
    specs: Vec<WeightSpec>,
}

/// A tensor of the manifest.
#[derive(Debug)]
struct WeightSpec {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
    /// Whether the tensor is skipped: its bytes are passed over and it is not decoded.
    skipped: bool,
}

impl FromJson for WeightSpec {
    /// Reads a manifest entry, ignoring the keys that webcnn does not use, such as `group`.
    fn from_json(value: &Json) -> JsonResult<Self> {
        let fields = Fields::lenient(value)?;
        Ok(WeightSpec {
            name: fields.required("name")?,
            shape: fields.required("shape")?,
            dtype: fields.required("dtype")?,
            quantization: fields.or("quantization", None)?,
            skipped: false,
        })
    }
}

/// Storage of a quantised tensor: `value = min + scale * stored` for `uint8` and `uint16`, or
/// half floats for `float16`.
#[derive(Debug)]
struct Quantization {
    dtype: String,
    min: Option<f32>,
    scale: Option<f32>,
}

from_json!(lenient Quantization {
    dtype,
    min = None,
    scale = None
});

/// Checks that a shard path names a file in the model's folder (or below it): a relative path
/// without `..`, so neither the command line nor the browser reads a file or URL elsewhere.
/// `entry` is the path's position in the group's `paths` list.
fn check_shard_path(group: usize, entry: usize, path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(format!(
            "weightsManifest group {group} has an empty shard path (entry {entry} of its \
             \"paths\"); write the shard's file name there, such as group1-shard1of1.bin, or \
             remove the entry if the group has no such shard"
        ));
    }
    let has_scheme = path.split_once(':').is_some();
    let absolute = path.starts_with('/') || path.starts_with('\\');
    // A URL parser also reads %2e as a dot.
    let climbs = path
        .split(['/', '\\'])
        .any(|part| part.to_ascii_lowercase().replace("%2e", ".") == "..");
    if has_scheme || absolute || climbs {
        return Err(format!(
            "weightsManifest group {group} has the shard path {path:?}, which is outside the \
             model's folder; shard paths must be relative names such as group1-shard1of1.bin, \
             so put the shards beside model.json and list them by name"
        ));
    }
    Ok(())
}

/// Checks that no tensor name appears twice. A repeated entry would otherwise make the
/// shards look truncated, because each entry takes its own bytes.
fn check_unique_names(groups: &[Group]) -> Result<(), String> {
    let mut first_group = std::collections::HashMap::new();
    for (index, group) in groups.iter().enumerate() {
        for spec in &group.specs {
            if let Some(first) = first_group.insert(spec.name.as_str(), index) {
                return Err(format!(
                    "the weights manifest lists tensor {:?} twice (in group {first} and again in \
                     group {index}); each tensor must be listed once, so remove the duplicate \
                     entry",
                    spec.name
                ));
            }
        }
    }
    Ok(())
}

impl WeightsManifest {
    /// Parses the manifest's list of groups (`{paths, weights}` objects) and checks that every
    /// tensor is listed once and has a storage type webcnn reads.
    pub fn from_groups(groups: &[Json]) -> Result<WeightsManifest, String> {
        Self::from_groups_skipping(groups, |_| false)
    }

    /// Parses the manifest like [`WeightsManifest::from_groups`], but leaves out the tensors
    /// whose name `skip` accepts: [`WeightsManifest::tensors`] does not list them and
    /// [`WeightsManifest::read`] does not decode them. A skipped tensor may also be int32.
    pub fn from_groups_skipping(
        groups: &[Json],
        skip: impl Fn(&str) -> bool,
    ) -> Result<WeightsManifest, String> {
        let mut paths = Vec::new();
        let mut parsed = Vec::new();
        for (index, group) in groups.iter().enumerate() {
            let shard_paths: Vec<String> = FromJson::from_json(&group["paths"])
                .map_err(|e| format!("weightsManifest group {index} has no list of paths ({e})"))?;
            for (entry, path) in shard_paths.iter().enumerate() {
                check_shard_path(index, entry, path)?;
            }
            let mut specs: Vec<WeightSpec> =
                FromJson::from_json(&group["weights"]).map_err(|e| {
                    format!("weightsManifest group {index} has a bad weights list ({e})")
                })?;
            for spec in &mut specs {
                spec.skipped = skip(&spec.name);
                storage_size(spec)?;
            }
            let start = paths.len();
            paths.extend(shard_paths);
            parsed.push(Group {
                shards: start..paths.len(),
                specs,
            });
        }
        check_unique_names(&parsed)?;
        Ok(WeightsManifest {
            paths,
            groups: parsed,
        })
    }

    /// Name and shape of every tensor that is not skipped, in storage order.
    pub fn tensors(&self) -> impl Iterator<Item = (&str, &[usize])> {
        self.groups
            .iter()
            .flat_map(|g| &g.specs)
            .filter(|spec| !spec.skipped)
            .map(|spec| (spec.name.as_str(), spec.shape.as_slice()))
    }

    /// Decodes every tensor that is not skipped from the shards, given in the order of
    /// [`WeightsManifest::paths`].
    /// Fails when a shard is missing, a group's shards contain more or fewer bytes than its
    /// tensors need, or a value is not finite.
    pub fn read(&self, shards: &[&[u8]]) -> Result<Vec<Tensor>, String> {
        if shards.len() != self.paths.len() {
            return Err(format!(
                "the manifest names {} weight files ({}), but {} were given",
                self.paths.len(),
                self.paths.join(", "),
                shards.len()
            ));
        }
        let mut tensors = Vec::new();
        for group in &self.groups {
            let bytes: Vec<u8> = shards[group.shards.clone()].concat();
            tensors.extend(self.read_group(group, &bytes)?);
        }
        Ok(tensors)
    }

    /// Decodes the tensors of one group from its concatenated shards.
    fn read_group(&self, group: &Group, bytes: &[u8]) -> Result<Vec<Tensor>, String> {
        let files = self.paths[group.shards.clone()].join(", ");
        let needed: usize = group.specs.iter().map(checked_size).sum();
        if bytes.len() > needed {
            return Err(format!(
                "the weight files [{files}] hold {} bytes, but the manifest's tensors need \
                 {needed}; the files are longer than the manifest describes or belong to another \
                 model",
                bytes.len()
            ));
        }
        let mut offset = 0;
        let mut tensors = Vec::with_capacity(group.specs.len());
        for spec in &group.specs {
            let end = offset + checked_size(spec);
            let Some(data) = bytes.get(offset..end) else {
                return Err(format!(
                    "the weight files [{files}] hold {} bytes, but the manifest's tensors need \
                     {needed}, so tensor {:?} (bytes {offset}..{end}) is cut off; the files are \
                     truncated or belong to another model",
                    bytes.len(),
                    spec.name
                ));
            };
            offset = end;
            if spec.skipped {
                continue;
            }
            let values = decode_tensor(spec, data);
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(format!(
                    "tensor {:?} element {i} is {} in [{files}]",
                    spec.name,
                    Shortest(values[i])
                ));
            }
            tensors.push(Tensor {
                name: spec.name.clone(),
                shape: spec.shape.clone(),
                values,
            });
        }
        Ok(tensors)
    }
}

/// Bytes a tensor takes in its shard; an error for a storage type webcnn cannot read.
fn storage_size(spec: &WeightSpec) -> Result<usize, String> {
    let count: usize = spec.shape.iter().product();
    let bytes = match (&spec.quantization, spec.dtype.as_str()) {
        (None, "float32") => 4,
        (None, "int32") if spec.skipped => 4,
        (Some(q), "float32") => match (q.dtype.as_str(), q.min, q.scale) {
            ("uint8", Some(_), Some(_)) => 1,
            ("uint16", Some(_), Some(_)) => 2,
            ("float16", _, _) => 2,
            (other, _, _) => {
                return Err(format!(
                    "tensor {:?} is quantised as {other:?}{}; webcnn reads uint8 and uint16 \
                     with min and scale, and float16",
                    spec.name,
                    if q.min.is_none() { " without min" } else { "" }
                ))
            }
        },
        (_, other) => {
            return Err(format!(
                "tensor {:?} has dtype {other:?}; webcnn imports float32 weights, stored as \
                 float32 or quantised to uint8, uint16 or float16",
                spec.name
            ))
        }
    };
    Ok(count * bytes)
}

/// [`storage_size`] of a spec that [`WeightsManifest::from_groups`] accepted.
fn checked_size(spec: &WeightSpec) -> usize {
    storage_size(spec).expect("from_groups checks every tensor's storage type")
}

/// Decodes a tensor's bytes (little-endian) to f32.
fn decode_tensor(spec: &WeightSpec, bytes: &[u8]) -> Vec<f32> {
    let Some(q) = &spec.quantization else {
        return bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
    };
    let (min, scale) = (q.min.unwrap_or(0.0), q.scale.unwrap_or(1.0));
    match q.dtype.as_str() {
        "uint8" => bytes.iter().map(|&b| min + scale * b as f32).collect(),
        "uint16" => bytes
            .chunks_exact(2)
            .map(|b| min + scale * u16::from_le_bytes([b[0], b[1]]) as f32)
            .collect(),
        _ => bytes
            .chunks_exact(2)
            .map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]])))
            .collect(),
    }
}

/// IEEE 754 half to single precision.
fn f16_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = (half >> 10) & 0x1f;
    let fraction = (half & 0x3ff) as f32;
    sign * match exponent {
        0 => fraction * 2f32.powi(-24),
        0x1f if fraction == 0.0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => (1.0 + fraction / 1024.0) * 2f32.powi(e as i32 - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_paths_outside_folder_rejected() {
        let outside = [
            "../secret.bin",
            "a/../../b.bin",
            "%2E%2e/secret.bin",
            "/etc/passwd",
            "\\\\host\\x.bin",
            "C:x.bin",
        ];
        for path in outside {
            let error = check_shard_path(1, 0, path).unwrap_err();
            assert!(
                error.contains("outside the model's folder"),
                "{path}: {error}"
            );
        }
        for path in ["https://example.com/w.bin", "//example.com/w.bin"] {
            assert!(check_shard_path(0, 0, path).is_err(), "{path:?} accepted");
        }
        for path in ["group1-shard1of1.bin", "weights/group2.bin", "a..b.bin"] {
            assert_eq!(check_shard_path(0, 0, path), Ok(()), "{path}");
        }
    }

    #[test]
    fn skipped_tensors_are_passed_over() {
        let groups = [crate::json::parse(
            r#"{
                "paths": ["w.bin"],
                "weights": [
                    {"name": "a", "shape": [1], "dtype": "float32"},
                    {"name": "optimizer/vars/0", "shape": [], "dtype": "int32"},
                    {"name": "b", "shape": [2], "dtype": "float32", "group": "model"}
                ]
            }"#,
        )
        .unwrap()];
        let bytes = [
            1.0f32.to_le_bytes(),
            7i32.to_le_bytes(),
            2.0f32.to_le_bytes(),
            3.0f32.to_le_bytes(),
        ]
        .concat();
        let manifest =
            WeightsManifest::from_groups_skipping(&groups, |name| name.starts_with("optimizer/"))
                .unwrap();
        let names: Vec<&str> = manifest.tensors().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b"]);
        let tensors = manifest.read(&[&bytes]).unwrap();
        assert_eq!(tensors[0].values, [1.0]);
        assert_eq!(tensors[1].values, [2.0, 3.0]);

        let error = WeightsManifest::from_groups(&groups).unwrap_err();
        assert!(error.contains("dtype \"int32\""), "{error}");
    }

    #[test]
    fn half_floats_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
    }

    #[test]
    fn quantised_tensors_dequantise() {
        let spec = |dtype: &str| WeightSpec {
            name: "w".into(),
            shape: vec![2],
            dtype: "float32".into(),
            quantization: Some(Quantization {
                dtype: dtype.into(),
                min: Some(-1.0),
                scale: Some(0.5),
            }),
            skipped: false,
        };
        assert_eq!(decode_tensor(&spec("uint8"), &[0, 4]), [-1.0, 1.0]);
        assert_eq!(decode_tensor(&spec("uint16"), &[2, 0, 0, 1]), [0.0, 127.0]);
    }
}

//! Import of Keras models saved for the web: a tfjs-layers `model.json` (TensorFlow.js
//! `model.save`, or the `tensorflowjs` converter on a Keras model) plus its binary weight
//! shards. Sequential models of the layers webcnn has map one to one onto a [`ModelConfig`];
//! Keras and webcnn both use NHWC activations, HWIO conv kernels and `[in, out]` dense
//! kernels, so the weights are copied without transposition.
//!
//! Import is all or nothing: an unsupported layer or option, a missing or mis-shaped tensor,
//! or a shard with fewer bytes than the manifest describes returns an error naming it.

mod manifest;

use std::collections::HashMap;

use crate::json::{self, FromJson, Json};

pub use manifest::{Tensor, WeightsManifest};

use super::Weights;
use crate::layers::{Conv2dConfig, DenseConfig, Initializer, Layer, LayerConfig, PoolConfig};
use crate::model::{build_layers, check_output, ModelConfig};
use crate::ops::{Activation, Padding};
use crate::{Error, Result};

/// Keras layer classes that webcnn imports.
pub const SUPPORTED_LAYERS: [&str; 8] = [
    "InputLayer",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dense",
    "Dropout",
    "Activation",
];

/// A parsed `model.json`: the webcnn config and where each parameter's values are.
#[derive(Debug)]
pub struct TfjsModel {
    /// The model, in webcnn's terms.
    pub config: ModelConfig,
    /// The `weightsManifest`: the weight shard files, relative to `model.json`, and their
    /// tensors.
    pub manifest: WeightsManifest,
    params: Vec<Param>,
    source: String,
}

/// A webcnn parameter and the Keras tensor it comes from.
#[derive(Debug)]
struct Param {
    /// webcnn name, `layers.{index}.{kernel|bias}`.
    name: String,
    /// The Keras tensor, or `None` for the zero bias of a layer with `use_bias: false`.
    keras: Option<KerasTensor>,
    shape: Vec<usize>,
    /// Description of the layer for errors, such as `layer 2 (Dense "dense_1")`.
    layer: String,
}

/// A weight of a Keras layer, as the manifest may name it.
#[derive(Debug)]
struct KerasTensor {
    /// Name of the Keras layer.
    layer: String,
    /// `kernel` or `bias`.
    weight: &'static str,
    /// Name of the layer in a Keras 3 `.keras` file: the snake_case class name for the first
    /// layer of its class, with `_{n}` appended for the n-th one after it, such as `conv2d_1` for
    /// the second Conv2D.
    saved_layer: String,
    /// Position among the tensors the layer stores. Keras creates the kernel first and the bias,
    /// if any, second.
    index: usize,
}

impl KerasTensor {
    /// Returns whether manifest tensor `name` is this tensor. Exports of HDF5 models name it
    /// `{layer}/{weight}`, possibly with the model's name as a prefix and `:0` as a suffix.
    /// Exports of Keras 3 `.keras` files (`tensorflowjs_converter --input_format keras_keras`)
    /// name it `layers/{saved_layer}/vars/{index}`, whatever the layer's own name is.
    fn matches(&self, name: &str) -> bool {
        let name = name.strip_suffix(":0").unwrap_or(name);
        let by_weight = format!("{}/{}", self.layer, self.weight);
        let by_weight_matches = name == by_weight || name.ends_with(&format!("/{by_weight}"));
        by_weight_matches || name == self.keras_file_name()
    }

    /// Returns the tensor's name in exports of Keras 3 `.keras` files.
    fn keras_file_name(&self) -> String {
        format!("layers/{}/vars/{}", self.saved_layer, self.index)
    }
}

impl std::fmt::Display for KerasTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.layer, self.weight)
    }
}

/// A Keras layer entry of the topology.
struct KerasLayer<'a> {
    class: &'a str,
    name: &'a str,
    config: &'a Json,
    /// Position in the topology's layer list.
    position: usize,
}

impl KerasLayer<'_> {
    fn describe(&self) -> String {
        format!("layer {} ({} {:?})", self.position, self.class, self.name)
    }

    fn field(&self, key: &str) -> Option<&Json> {
        self.config.get(key).filter(|v| !v.is_null())
    }
}

impl TfjsModel {
    /// Parses the text of a `model.json`; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<TfjsModel> {
        let bad = |message: String| model_error(source, message);
        let root = json::parse(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
        if root.get("format").and_then(Json::as_str) == Some("graph-model") {
            return Err(bad(
                "it is a tfjs graph model; only layers models (Keras models saved with \
                 model.save or tensorflowjs_converter --output_format tfjs_layers_model) import"
                    .into(),
            ));
        }
        let topology = root.get("modelTopology").ok_or_else(|| {
            bad("it has no \"modelTopology\"; it is not a tfjs-layers model.json".into())
        })?;
        let topology = topology.get("model_config").unwrap_or(topology);
        let layers = sequential_layers(topology).map_err(bad)?;
        let (config, params) = convert(&layers).map_err(bad)?;
        let manifest = weights_manifest(&root).map_err(bad)?;
        let model = TfjsModel {
            config,
            manifest,
            params,
            source: source.to_string(),
        };
        model.check_manifest()?;
        Ok(model)
    }

    /// Reads every parameter from the shards, given in the order of the manifest's paths.
    pub fn weights(&self, shards: &[&[u8]]) -> Result<Weights> {
        let tensors = self.manifest.read(shards).map_err(|e| self.error(e))?;
        self.params
            .iter()
            .map(|param| {
                let values = match &param.keras {
                    None => vec![0.0; param.shape.iter().product()],
                    Some(keras) => {
                        let tensor = tensors
                            .iter()
                            .find(|tensor| keras.matches(&tensor.name))
                            .expect("the manifest was checked");
                        tensor.values.clone()
                    }
                };
                Ok((param.name.clone(), param.shape.clone(), values))
            })
            .collect()
    }

    /// Checks that every parameter has exactly one tensor of its shape in the manifest, and that
    /// the manifest contains no other tensor.
    fn check_manifest(&self) -> Result<()> {
        for (name, _) in self.manifest.tensors() {
            let used = self
                .params
                .iter()
                .filter_map(|p| p.keras.as_ref())
                .any(|keras| keras.matches(name));
            if !used {
                return Err(self.error(format!(
                    "the manifest's tensor {name:?} belongs to no layer of the model; the weights \
                     come from another model",
                )));
            }
        }
        for param in &self.params {
            let Some(keras) = &param.keras else { continue };
            let mut matching = self
                .manifest
                .tensors()
                .filter(|(name, _)| keras.matches(name));
            let (first, shape) = matching.next().ok_or_else(|| {
                self.error(format!(
                    "tensor \"{keras}\" (\"{}\" in exports of .keras files) of {} is \
                         missing from the weights manifest",
                    keras.keras_file_name(),
                    param.layer
                ))
            })?;
            if let Some((second, _)) = matching.next() {
                return Err(self.error(format!(
                    "the manifest's tensors {first:?} and {second:?} both match tensor \"{keras}\" \
                     of {}; each weight must be listed once, so remove one of them",
                    param.layer
                )));
            }
            if shape != param.shape {
                return Err(self.error(format!(
                    "tensor \"{keras}\" has shape {shape:?} in the weights manifest, but {} needs {:?}",
                    param.layer, param.shape
                )));
            }
        }
        Ok(())
    }

    fn error(&self, message: String) -> Error {
        model_error(&self.source, message)
    }
}

fn model_error(source: &str, message: String) -> Error {
    Error::ModelFile {
        path: source.to_string(),
        message,
    }
}

/// Returns the layer list of a Sequential topology (`{class_name, config: {layers}}`, or an old
/// Keras topology whose config is the list itself).
fn sequential_layers(topology: &Json) -> std::result::Result<Vec<KerasLayer<'_>>, String> {
    let class = topology.get("class_name").and_then(Json::as_str);
    if class != Some("Sequential") {
        return Err(format!(
            "the model is a {}, but only Sequential models import; rebuild it as \
             tf.sequential / keras.Sequential",
            class.unwrap_or("model without a class_name")
        ));
    }
    let config = &topology["config"];
    let list = config
        .get("layers")
        .unwrap_or(config)
        .as_array()
        .ok_or("the Sequential config has no layer list")?;
    list.iter()
        .enumerate()
        .map(|(position, layer)| {
            let class = layer.get("class_name").and_then(Json::as_str);
            let config = layer.get("config").filter(|c| c.is_object());
            let (Some(class), Some(config)) = (class, config) else {
                return Err(format!(
                    "layer {position} has no class_name or config object"
                ));
            };
            let name = config.get("name").and_then(Json::as_str).unwrap_or(class);
            Ok(KerasLayer {
                class,
                name,
                config,
                position,
            })
        })
        .collect()
}

/// Maps the Keras layers to a webcnn config and lists each parameter's Keras tensor.
fn convert(layers: &[KerasLayer]) -> std::result::Result<(ModelConfig, Vec<Param>), String> {
    let input = input_shape(layers)?;
    let mut config = ModelConfig {
        input_shape: input,
        layers: Vec::new(),
    };
    // The Keras layer behind each webcnn layer.
    let mut sources: Vec<(&KerasLayer, bool)> = Vec::new();
    for layer in layers {
        check_channels_last(layer)?;
        let converted = match layer.class {
            "InputLayer" => None,
            "Conv2D" => Some((LayerConfig::Conv2d(conv2d(layer)?), use_bias(layer))),
            "MaxPooling2D" => Some((LayerConfig::MaxPool2d(pool(layer)?), false)),
            "AveragePooling2D" => Some((LayerConfig::AvgPool2d(pool(layer)?), false)),
            "Flatten" => Some((LayerConfig::Flatten, false)),
            "Dense" => Some((LayerConfig::Dense(dense(layer)?), use_bias(layer))),
            "Dropout" => Some((LayerConfig::Dropout { rate: rate(layer)? }, false)),
            "Activation" => Some((
                LayerConfig::Activation {
                    activation: activation(layer, "activation")?,
                },
                false,
            )),
            other => {
                return Err(format!(
                    "layer {} ({:?}) is a {other} layer, which webcnn cannot import; it imports \
                     {}",
                    layer.position,
                    layer.name,
                    SUPPORTED_LAYERS.join(", ")
                ))
            }
        };
        if let Some((layer_config, bias)) = converted {
            config.layers.push(layer_config);
            sources.push((layer, bias));
        }
    }
    let (built, _) = build_layers(&config, 1).map_err(|e| e.to_string())?;
    check_output(&config, &built).map_err(|e| e.to_string())?;
    Ok((config, params(&built, &sources)))
}

/// Lists the parameters of the built webcnn layers with the Keras tensor of each. `sources`
/// gives the Keras layer behind each webcnn layer and whether it has a bias.
fn params(built: &[Box<dyn Layer>], sources: &[(&KerasLayer, bool)]) -> Vec<Param> {
    let mut params = Vec::new();
    // Layers of each class so far, which number the layers in a .keras file.
    let mut class_counts: HashMap<&str, usize> = HashMap::new();
    for (index, (layer, (keras, has_bias))) in built.iter().zip(sources).enumerate() {
        let count = class_counts.entry(keras.class).or_default();
        // Keras writes the class name in snake_case, which for Conv2D and Dense, the only
        // imported layers with weights, is the lowercased name.
        let mut saved_layer = keras.class.to_ascii_lowercase();
        if *count > 0 {
            saved_layer = format!("{saved_layer}_{count}");
        }
        *count += 1;
        let mut stored = 0;
        for slot in layer.params() {
            let mut tensor = None;
            if slot.name != "bias" || *has_bias {
                tensor = Some(KerasTensor {
                    layer: keras.name.to_string(),
                    weight: slot.name,
                    saved_layer: saved_layer.clone(),
                    index: stored,
                });
                stored += 1;
            }
            params.push(Param {
                name: format!("layers.{index}.{}", slot.name),
                keras: tensor,
                shape: slot.shape.clone(),
                layer: keras.describe(),
            });
        }
    }
    params
}

/// `[height, width, channels]` from the InputLayer's or the first layer's batch shape.
fn input_shape(layers: &[KerasLayer]) -> std::result::Result<[usize; 3], String> {
    let first = layers.first().ok_or("the Sequential model has no layers")?;
    let shape = ["batch_input_shape", "batch_shape"]
        .iter()
        .find_map(|key| first.field(key))
        .ok_or_else(|| {
            format!(
                "{} gives no batch_input_shape; save the model after building it with an \
                 input shape",
                first.describe()
            )
        })?;
    let dims: Option<Vec<usize>> = shape.as_array().and_then(|dims| {
        dims.iter()
            .skip(1)
            .map(|d| d.as_u64().map(|d| d as usize))
            .collect()
    });
    match dims.as_deref() {
        Some(&[h, w, c]) => Ok([h, w, c]),
        _ => Err(format!(
            "{} takes input of batch shape {shape}, but webcnn needs images [null, height, \
             width, channels] with every size given",
            first.describe()
        )),
    }
}

fn check_channels_last(layer: &KerasLayer) -> std::result::Result<(), String> {
    match layer.field("data_format").and_then(Json::as_str) {
        None | Some("channels_last") => Ok(()),
        Some(other) => Err(format!(
            "{} uses data_format {other:?}; webcnn imports only channels_last (NHWC) models",
            layer.describe()
        )),
    }
}

fn conv2d(layer: &KerasLayer) -> std::result::Result<Conv2dConfig, String> {
    if let Some(groups) = layer.field("groups").and_then(Json::as_u64) {
        if groups != 1 {
            return Err(format!(
                "{} has groups {groups}; webcnn supports only groups 1",
                layer.describe()
            ));
        }
    }
    Ok(Conv2dConfig {
        filters: count(layer, "filters")?,
        kernel_size: pair(layer, "kernel_size")?.ok_or_else(|| missing(layer, "kernel_size"))?,
        strides: pair(layer, "strides")?.unwrap_or([1, 1]),
        padding: padding(layer)?,
        dilation: pair(layer, "dilation_rate")?.unwrap_or([1, 1]),
        activation: activation(layer, "activation")?,
        kernel_initializer: initializer(layer),
        trainable: trainable(layer),
    })
}

fn dense(layer: &KerasLayer) -> std::result::Result<DenseConfig, String> {
    Ok(DenseConfig {
        units: count(layer, "units")?,
        activation: activation(layer, "activation")?,
        kernel_initializer: initializer(layer),
        trainable: trainable(layer),
    })
}

fn pool(layer: &KerasLayer) -> std::result::Result<PoolConfig, String> {
    Ok(PoolConfig {
        pool_size: pair(layer, "pool_size")?.unwrap_or([2, 2]),
        strides: pair(layer, "strides")?,
        padding: padding(layer)?,
    })
}

fn rate(layer: &KerasLayer) -> std::result::Result<f32, String> {
    layer
        .field("rate")
        .and_then(Json::as_f64)
        .map(|r| r as f32)
        .ok_or_else(|| missing(layer, "rate"))
}

fn missing(layer: &KerasLayer, key: &str) -> String {
    format!("{} has no {key}", layer.describe())
}

fn count(layer: &KerasLayer, key: &str) -> std::result::Result<usize, String> {
    layer
        .field(key)
        .and_then(Json::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| missing(layer, key))
}

/// Reads a size given as one number or as `[height, width]`, or `None` when it is absent.
fn pair(layer: &KerasLayer, key: &str) -> std::result::Result<Option<[usize; 2]>, String> {
    let Some(value) = layer.field(key) else {
        return Ok(None);
    };
    let as_size = |v: &Json| v.as_u64().map(|n| n as usize);
    let parsed = match value.as_array().map(Vec::as_slice) {
        Some([h, w]) => as_size(h).zip(as_size(w)).map(|(h, w)| [h, w]),
        Some(_) => None,
        None => as_size(value).map(|n| [n, n]),
    };
    parsed.map(Some).ok_or_else(|| {
        format!(
            "{} has {key} {value}; expected a size or [height, width]",
            layer.describe()
        )
    })
}

fn padding(layer: &KerasLayer) -> std::result::Result<Padding, String> {
    match layer.field("padding").and_then(Json::as_str) {
        None | Some("valid") => Ok(Padding::Valid),
        Some("same") => Ok(Padding::Same),
        Some(other) => Err(format!(
            "{} has padding {other:?}; webcnn supports valid and same",
            layer.describe()
        )),
    }
}

fn activation(layer: &KerasLayer, key: &str) -> std::result::Result<Activation, String> {
    let Some(value) = layer.field(key) else {
        return Ok(Activation::Linear);
    };
    let name = value.as_str().unwrap_or_default();
    Activation::from_json(&Json::String(name.to_string())).map_err(|_| {
        format!(
            "{} uses activation {value}, which webcnn does not have; use linear, relu, \
             sigmoid, tanh or softmax",
            layer.describe()
        )
    })
}

fn use_bias(layer: &KerasLayer) -> bool {
    layer
        .field("use_bias")
        .and_then(Json::as_bool)
        .unwrap_or(true)
}

fn trainable(layer: &KerasLayer) -> bool {
    layer
        .field("trainable")
        .and_then(Json::as_bool)
        .unwrap_or(true)
}

/// Returns the webcnn initialiser matching Keras's `kernel_initializer`, for retraining from
/// scratch.
// NOTE: initialisers webcnn lacks fall back to glorot_uniform, because imported weights replace
// them anyway.
fn initializer(layer: &KerasLayer) -> Initializer {
    let Some(init) = layer.field("kernel_initializer") else {
        return Initializer::GlorotUniform;
    };
    let class = init.get("class_name").and_then(Json::as_str).unwrap_or("");
    let config = &init["config"];
    match class {
        "GlorotNormal" => Initializer::GlorotNormal,
        "HeUniform" => Initializer::HeUniform,
        "HeNormal" => Initializer::HeNormal,
        "VarianceScaling" => {
            let fan_in =
                config["mode"].as_str() == Some("fan_in") && config["scale"].as_f64() == Some(2.0);
            let normal = config["distribution"].as_str() != Some("uniform");
            match (fan_in, normal) {
                (true, true) => Initializer::HeNormal,
                (true, false) => Initializer::HeUniform,
                (false, true) => Initializer::GlorotNormal,
                (false, false) => Initializer::GlorotUniform,
            }
        }
        _ => Initializer::GlorotUniform,
    }
}

/// Parses the model.json's `weightsManifest`, skipping the optimizer's state.
fn weights_manifest(root: &Json) -> std::result::Result<WeightsManifest, String> {
    let groups = root
        .get("weightsManifest")
        .and_then(Json::as_array)
        .ok_or("it has no \"weightsManifest\" list; save the model with its weights")?;
    WeightsManifest::from_groups_skipping(groups, is_optimizer_state)
}

/// Returns whether manifest tensor `name` is optimizer state, such as Adam's moments and step
/// count (`optimizer/vars/0`), which exports of compiled Keras 3 `.keras` files contain.
fn is_optimizer_state(name: &str) -> bool {
    name.starts_with("optimizer/vars/")
}

#[cfg(not(target_arch = "wasm32"))]
/// Lists the files an import of the model.json at `path` reads: the model.json and its weight
/// shards.
pub fn input_files(path: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let text = std::fs::read(path).map_err(|source| Error::Io {
        action: "reading",
        path: path.display().to_string(),
        source,
    })?;
    let source = path.display().to_string();
    let text = String::from_utf8(text)
        .map_err(|_| model_error(&source, "it is not UTF-8 text; pass the model.json".into()))?;
    let model = TfjsModel::parse(&text, &source)?;
    let folder = path.parent().unwrap_or(std::path::Path::new("."));
    let mut files = vec![path.to_path_buf()];
    files.extend(model.manifest.paths.iter().map(|shard| folder.join(shard)));
    Ok(files)
}

/// Reads `model.json` at `path` and the shards beside it. Returns the webcnn config and
/// weights.
#[cfg(not(target_arch = "wasm32"))]
pub fn import(path: &std::path::Path) -> Result<(ModelConfig, Weights)> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| Error::Io {
            action: "reading",
            path: path.display().to_string(),
            source,
        })
    };
    let text = read(path)?;
    let source = path.display().to_string();
    let text = String::from_utf8(text)
        .map_err(|_| model_error(&source, "it is not UTF-8 text; pass the model.json".into()))?;
    let model = TfjsModel::parse(&text, &source)?;
    let folder = path.parent().unwrap_or(std::path::Path::new("."));
    let shards = model
        .manifest
        .paths
        .iter()
        .map(|shard| read(&folder.join(shard)))
        .collect::<Result<Vec<_>>>()?;
    let views: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
    let weights = model.weights(&views)?;
    Ok((model.config, weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names_match_with_prefix_and_suffix() {
        let kernel = KerasTensor {
            layer: "dense_1".into(),
            weight: "kernel",
            saved_layer: "dense".into(),
            index: 0,
        };
        assert!(kernel.matches("dense_1/kernel"));
        assert!(kernel.matches("sequential/dense_1/kernel:0"));
        assert!(!kernel.matches("dense_11/kernel"));
        assert!(!kernel.matches("dense_1/bias"));
    }

    #[test]
    fn keras_file_names_match_by_index() {
        let bias = KerasTensor {
            layer: "logits".into(),
            weight: "bias",
            saved_layer: "dense_1".into(),
            index: 1,
        };
        assert!(bias.matches("layers/dense_1/vars/1"));
        assert!(!bias.matches("layers/dense_1/vars/0"));
        assert!(!bias.matches("layers/dense_11/vars/1"));
        assert!(!bias.matches("layers/logits/vars/1"));
        assert!(!bias.matches("vars/1"));
    }
}

//! wasm-bindgen API for the browser trainer. This is the only module that knows JS types: the
//! worker in `www/src/worker.js` drives a [`Trainer`], and every value crosses the boundary as a
//! plain JS object (through JSON), a typed array or a JS `Error` whose message is the [`crate::Error`]
//! text. IDX files arrive decompressed: the module has no gzip decoder, to keep it small, so the
//! JS side gunzips them (`fetchIdx` in `js/src/engine.js`).
//!
//! Cargo features choose the bindings of each build. `trainer` is the npm package's core: the
//! [`Trainer`] and the model helpers that `js/src/worker.js` calls. `webgpu` and `cpu` choose the
//! engines a trainer can train on, and the package has one core for each, so that a browser
//! downloads only the one it uses. `tfjs-import` is the Keras and tfjs model import, which the
//! package loads as a module of its own. `pages` adds to `trainer` with both engines the bindings
//! that only the pages in `www/` and the browser benchmark (`bench/browser/`) call:
//! [`FaceDetector`], [`Bench`] and more [`Trainer`] methods.

#[cfg(all(feature = "trainer", not(any(feature = "webgpu", feature = "cpu"))))]
compile_error!("the `trainer` feature needs an engine: enable `webgpu`, `cpu` or both");

#[cfg(feature = "trainer")]
mod backend;
#[cfg(feature = "pages")]
mod bench;
#[cfg(feature = "pages")]
mod face;
#[cfg(feature = "pages")]
mod inspect;
#[cfg(feature = "tfjs-import")]
mod tfjs;
#[cfg(feature = "trainer")]
mod trainer;

#[cfg(feature = "trainer")]
use crate::json::{self, to_json, FromJson, ToJson};
use wasm_bindgen::prelude::*;

#[cfg(feature = "pages")]
use crate::data::{
    parse_idx_dataset, stratified_split, DataSplit, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION,
};
#[cfg(all(feature = "trainer", feature = "webgpu"))]
use crate::gpu::{Gpu, GpuOptions};
#[cfg(feature = "trainer")]
use crate::model::{build_layers, check_output, ModelConfig};

#[cfg(feature = "pages")]
pub use bench::{train_digits, Bench};
#[cfg(feature = "pages")]
pub use face::FaceDetector;
#[cfg(feature = "tfjs-import")]
pub use tfjs::{import_tfjs, tfjs_weight_paths};
#[cfg(feature = "trainer")]
pub use trainer::Trainer;

/// Installs the panic hook and routes the `log` crate to the browser console.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    // A second call (a second module instance in the same worker) finds a logger set already.
    let _ = console_log::init_with_level(log::Level::Info);
}

/// Converts a webcnn error into a JS `Error` carrying its message.
#[cfg(any(feature = "trainer", feature = "tfjs-import"))]
fn js_error(error: impl std::fmt::Display) -> JsError {
    JsError::new(&error.to_string())
}

/// Converts `value` to plain JS objects and numbers through JSON, which the module reads and
/// writes anyway (model configs, model file headers).
#[cfg(feature = "trainer")]
fn to_js<T: ToJson + ?Sized>(value: &T) -> JsValue {
    js_sys::JSON::parse(&json::to_string(value)).expect("webcnn writes valid JSON")
}

/// Converts a plain JS object to `T` through JSON; `what` names the value in errors.
#[cfg(feature = "trainer")]
fn from_js<T: FromJson>(value: &JsValue, what: &str) -> Result<T, JsError> {
    let text: String = js_sys::JSON::stringify(value)
        .map_err(|_| js_error(format!("invalid {what}: it cannot be written as JSON")))?
        .into();
    json::from_str(&text).map_err(|e| js_error(format!("invalid {what}: {e}")))
}

/// Opens a WebGPU device whose uncaptured errors go to the console. wgpu's default handler
/// panics, which would hide the WebGPU message.
#[cfg(all(feature = "trainer", feature = "webgpu"))]
async fn open_gpu() -> crate::Result<Gpu> {
    let gpu = Gpu::new(GpuOptions::default()).await?;
    gpu.device.on_uncaptured_error(std::sync::Arc::new(|error| {
        log::error!("WebGPU error: {error}")
    }));
    Ok(gpu)
}

/// Parses plain (not gzipped) IDX images and labels and splits them 7:3 into train and test
/// parts with the seed the native CLI uses.
#[cfg(feature = "pages")]
fn split_digits(images: &[u8], labels: &[u8]) -> Result<DataSplit, JsError> {
    let dataset = parse_idx_dataset(images, "images", labels, "labels").map_err(js_error)?;
    let (train, test) =
        stratified_split(&dataset, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED).map_err(js_error)?;
    Ok(DataSplit { train, test })
}

/// Returns the JSON model config of a preset (`seed-cnn` or `lenet5`).
#[cfg(feature = "trainer")]
#[wasm_bindgen(js_name = presetConfig)]
pub fn preset_config(name: &str) -> Result<JsValue, JsError> {
    Ok(to_js(&ModelConfig::preset(name).map_err(js_error)?))
}

/// One row of a model summary.
#[cfg(feature = "trainer")]
struct LayerRow {
    /// Layer type as written in the config (`conv2d`, `dense`, ...).
    kind: &'static str,
    /// Output shape of one example.
    output_shape: Vec<usize>,
    /// Parameter count.
    params: usize,
}

#[cfg(feature = "trainer")]
to_json!(LayerRow {
    kind,
    output_shape,
    params,
});

/// Checks a model config without building it on a device and returns one row per layer
/// (`{kind, output_shape, params}`). Raises the config error, for example a layer list that
/// shrinks the image below 1x1 or a model that does not end in one score per class.
#[cfg(feature = "trainer")]
#[wasm_bindgen(js_name = describeModel)]
pub fn describe_model(config: JsValue) -> Result<JsValue, JsError> {
    let config: ModelConfig = from_js(&config, "model config")?;
    Ok(to_js(&layer_rows(&config).map_err(js_error)?))
}

#[cfg(feature = "trainer")]
fn layer_rows(config: &ModelConfig) -> crate::Result<Vec<LayerRow>> {
    let (layers, _) = build_layers(config, 1)?;
    check_output(config, &layers)?;
    Ok(layers
        .iter()
        .zip(&config.layers)
        .map(|(layer, layer_config)| LayerRow {
            kind: layer_config.kind(),
            output_shape: layer.output_shape().to_vec(),
            params: layer.params().iter().map(|slot| slot.len()).sum(),
        })
        .collect())
}

/// Parses plain (not gzipped) IDX images and labels. Returns `{images, labels, shape,
/// classes}`: pixels as a `Float32Array` (u8 files scaled to [0, 1]), labels as a
/// `Uint32Array` and the shape [height, width, channels] of one image.
#[cfg(feature = "trainer")]
#[wasm_bindgen(js_name = parseIdx)]
pub fn parse_idx(images: &[u8], labels: &[u8]) -> Result<js_sys::Object, JsError> {
    let data =
        crate::data::parse_idx_dataset(images, "images", labels, "labels").map_err(js_error)?;
    let shape = [data.height, data.width, data.channels];
    let result = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        js_sys::Reflect::set(&result, &key.into(), &value).expect("a new object takes properties")
    };
    set(
        "images",
        js_sys::Float32Array::from(&data.images[..]).into(),
    );
    set("labels", js_sys::Uint32Array::from(&data.labels[..]).into());
    set("shape", to_js(&shape));
    set("classes", data.num_classes.into());
    Ok(result)
}

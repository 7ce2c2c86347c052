//! The Keras and tfjs-layers model import. The npm package builds it into a wasm module of its
//! own (Cargo feature `tfjs-import`) and loads that only to import a `model.json`, because the
//! import is about a tenth of the core's download.

use wasm_bindgen::prelude::*;

use super::js_error;
use crate::io::tfjs::TfjsModel;

/// Weight files a tfjs-layers `model.json` names, relative to it, in the order
/// [`import_tfjs`] takes them. Raises when the model cannot be imported.
#[wasm_bindgen(js_name = tfjsWeightPaths)]
pub fn tfjs_weight_paths(model_json: &str, name: &str) -> Result<Vec<String>, JsError> {
    Ok(TfjsModel::parse(model_json, name)
        .map_err(js_error)?
        .manifest
        .paths)
}

/// Converts a tfjs-layers `model.json` and its weight files (`Uint8Array`s in the order of
/// [`tfjs_weight_paths`]) into a webcnn model file. `name` labels the model in errors.
#[wasm_bindgen(js_name = importTfjs)]
pub fn import_tfjs(
    model_json: &str,
    name: &str,
    shards: Vec<js_sys::Uint8Array>,
) -> Result<Vec<u8>, JsError> {
    let model = TfjsModel::parse(model_json, name).map_err(js_error)?;
    let shards: Vec<Vec<u8>> = shards.iter().map(js_sys::Uint8Array::to_vec).collect();
    let views: Vec<&[u8]> = shards.iter().map(Vec::as_slice).collect();
    let weights = model.weights(&views).map_err(js_error)?;
    crate::io::encode(&model.config, &weights).map_err(js_error)
}

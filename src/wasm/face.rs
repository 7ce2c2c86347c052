//! [`FaceDetector`]: the face detector for the browser's face page. It loads the converted tiny
//! face detector (`models/tiny_face_detector.safetensors`) and finds faces in RGBA frames, then
//! cuts square face crops, on WebGPU or, without it, on the CPU path. The page's worker in
//! `www/src/face/worker.js` drives it.

use wasm_bindgen::prelude::*;

use super::backend::{Engine, Net};
use super::{from_js, js_error, to_js};
use crate::face::{self, boxes::Detection};
use crate::ops::crop::CropBox;
use crate::tensor::Tensor;

/// Finds faces in frames and cuts the face crops.
#[wasm_bindgen]
pub struct FaceDetector {
    engine: Engine,
    net: Net,
    fallback_reason: Option<String>,
}

#[wasm_bindgen]
impl FaceDetector {
    /// Builds the detector from a model file (`bytes`, named `source` in errors) for
    /// `input_size`x`input_size` input on a WebGPU device. Raises the adapter error when the
    /// browser has no WebGPU, or the file or size error.
    pub async fn create(
        bytes: &[u8],
        source: &str,
        input_size: usize,
    ) -> Result<FaceDetector, JsError> {
        let engine = Engine::webgpu().await.map_err(js_error)?;
        FaceDetector::with_engine(engine, bytes, source, input_size, None)
    }

    /// Builds the detector on the CPU path; `reason` explains why WebGPU is not used.
    #[wasm_bindgen(js_name = createCpu)]
    pub fn create_cpu(
        bytes: &[u8],
        source: &str,
        input_size: usize,
        reason: String,
    ) -> Result<FaceDetector, JsError> {
        log::warn!("WebGPU unavailable ({reason}); detecting faces on the CPU");
        FaceDetector::with_engine(Engine::Cpu, bytes, source, input_size, Some(reason))
    }

    /// Rebuilds the detector for `input_size`x`input_size` input (a multiple of 32) on the same
    /// device. A smaller input detects faster. On error the detector stays as it was.
    #[wasm_bindgen(js_name = setInputSize)]
    pub async fn set_input_size(&mut self, input_size: usize) -> Result<(), JsError> {
        let bytes = self.net.as_ref().to_bytes().await.map_err(js_error)?;
        let source = "the current face detector";
        let bytes = face::resize_detector(&bytes, source, input_size).map_err(js_error)?;
        self.net = self.engine.load(&bytes, source).map_err(js_error)?;
        log::info!("face detector input size set to {input_size}");
        Ok(())
    }

    /// `webgpu` or `cpu`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.engine.name().to_string()
    }

    /// Returns why the CPU path is in use, or `None` on WebGPU.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.fallback_reason.clone()
    }

    /// Finds the faces in a frame: `rgba` contains `width * height` pixels, 4 bytes each, row by
    /// row (canvas `ImageData` layout). Returns `[{left, top, right, bottom, score}]` in pixels
    /// of the frame, best first, for the faces scoring above `score_threshold`.
    pub async fn detect(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
        score_threshold: f32,
    ) -> Result<JsValue, JsError> {
        let frame = pixels(rgba, width, height)?;
        let faces = match &self.net {
            Net::Gpu(model) => face::detect(model, &frame, width, height, score_threshold).await,
            Net::Cpu(model) => face::detect_cpu(model, &frame, width, height, score_threshold),
        };
        Ok(to_js(&faces.map_err(js_error)?))
    }

    /// Cuts the square crop centred on `face` (a box from [`FaceDetector::detect`]), its larger
    /// side grown by `margin` (0.2 adds 10 % each side), out of the frame and resizes it to
    /// `size`x`size`. Returns the crop as RGB values in [0, 1], `[size, size, 3]`.
    pub async fn crop(
        &self,
        rgba: &[u8],
        width: usize,
        height: usize,
        face: JsValue,
        size: usize,
        margin: f32,
    ) -> Result<Vec<f32>, JsError> {
        let frame = pixels(rgba, width, height)?;
        let face: Detection = from_js(&face, "face box")?;
        if size == 0
            || !margin.is_finite()
            || margin < 0.0
            || face.width() <= 0.0
            || face.height() <= 0.0
        {
            return Err(js_error(format!(
                "cannot crop {face:?} to {size}x{size} with margin {margin}; pass a box from \
                 detect, a size of at least 1 and a margin of 0 or more"
            )));
        }
        let region = [face::face_crop(&face, margin)];
        self.crop_resize(&frame, width, height, &region, size).await
    }
}

impl FaceDetector {
    fn with_engine(
        engine: Engine,
        bytes: &[u8],
        source: &str,
        input_size: usize,
        fallback_reason: Option<String>,
    ) -> Result<FaceDetector, JsError> {
        let bytes = face::resize_detector(bytes, source, input_size).map_err(js_error)?;
        let net = engine.load(&bytes, source).map_err(js_error)?;
        log::info!("face detector on {}: {}", engine.name(), engine.adapter());
        Ok(FaceDetector {
            engine,
            net,
            fallback_reason,
        })
    }

    /// Crops and resizes `boxes` on the engine's device.
    async fn crop_resize(
        &self,
        frame: &[u32],
        width: usize,
        height: usize,
        boxes: &[CropBox],
        size: usize,
    ) -> Result<Vec<f32>, JsError> {
        match &self.net {
            Net::Gpu(model) => {
                let gpu = model.gpu();
                let pixels = Tensor::from_slice(gpu, frame, &[frame.len()]);
                let crops = crate::ops::crop::crop_resize(gpu, &pixels, width, height, boxes, size);
                gpu.submit();
                crops.to_vec(gpu).await.map_err(js_error)
            }
            Net::Cpu(_) => Ok(crate::reference::crop::crop_resize(
                frame, width, height, boxes, size,
            )),
        }
    }
}

/// Packs RGBA bytes into one u32 per pixel (red in the lowest byte), checking the frame size.
fn pixels(rgba: &[u8], width: usize, height: usize) -> Result<Vec<u32>, JsError> {
    if width == 0 || height == 0 || rgba.len() != width * height * 4 {
        return Err(js_error(format!(
            "a {width}x{height} frame needs {} RGBA bytes, got {}; pass the data of a canvas \
             ImageData of that size (the video may not have decoded a frame yet)",
            width * height * 4,
            rgba.len()
        )));
    }
    Ok(rgba
        .chunks_exact(4)
        .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
        .collect())
}

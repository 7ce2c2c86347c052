//! [`Bench`]: the wasm side of the browser benchmark harness (`bench/browser/`). It measures the
//! same things as `cargo bench --bench train`, through [`crate::bench`], on the browser's WebGPU
//! adapter: kernel GFLOP/s next to the FMA peak, and seed-cnn training steps with the device's
//! dispatch, submit and readback counters. [`train_digits`] hands the same training digits to
//! the other systems of the harness.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::{js_error, open_gpu, split_digits, to_js};
use crate::bench::{kernel_report, TrainingBench};
use crate::gpu::Gpu;

/// Benchmarks on one WebGPU device.
#[wasm_bindgen]
pub struct Bench {
    gpu: Rc<Gpu>,
    training: Option<TrainingBench>,
}

#[wasm_bindgen]
impl Bench {
    /// Opens a WebGPU device. Raises the adapter error when the browser has no WebGPU.
    pub async fn create() -> Result<Bench, JsError> {
        let gpu = open_gpu().await.map_err(js_error)?;
        Ok(Bench {
            gpu: Rc::new(gpu),
            training: None,
        })
    }

    /// Measures the FMA peak, the conv kernels and a matmul (see [`kernel_report`]), each for
    /// at least `min_seconds`. `quick` leaves out the large conv shape and shrinks the matmul.
    pub async fn kernels(&self, quick: bool, min_seconds: f64) -> Result<JsValue, JsError> {
        let report = kernel_report(&self.gpu, quick, min_seconds)
            .await
            .map_err(js_error)?;
        Ok(to_js(&report))
    }

    /// Builds the seed CNN with Adam for training in batches of `batch_size` on the training part
    /// of the IDX digits (the split of [`train_digits`]). Returns the most steps the run
    /// allows.
    #[wasm_bindgen(js_name = startTraining)]
    pub fn start_training(
        &mut self,
        images: &[u8],
        labels: &[u8],
        batch_size: usize,
        seed: u32,
    ) -> Result<usize, JsError> {
        let data = split_digits(images, labels)?.train;
        let bench = TrainingBench::new(self.gpu.clone(), &data, batch_size, seed as u64)
            .map_err(js_error)?;
        let max_steps = bench.max_steps();
        self.training = Some(bench);
        Ok(max_steps)
    }

    /// Runs `steps` training steps and waits for the GPU to finish them. Returns `{loss, steps,
    /// dispatches, submits, readbacks}` (see [`crate::bench::TrainingSample`]).
    pub async fn train(&mut self, steps: u32) -> Result<JsValue, JsError> {
        let Some(training) = self.training.as_mut() else {
            return Err(js_error("no training run; call startTraining first"));
        };
        let sample = training.train(steps as usize).await.map_err(js_error)?;
        Ok(to_js(&sample))
    }

    /// Runs one training step and times each of its dispatches replayed on its own, for at
    /// least `min_seconds` each. Returns `[{kernel, ms}]` in step order (see
    /// [`crate::bench::DispatchTime`]).
    pub async fn profile(&mut self, min_seconds: f64) -> Result<JsValue, JsError> {
        let Some(training) = self.training.as_mut() else {
            return Err(js_error("no training run; call startTraining first"));
        };
        let times = training.profile(min_seconds).await.map_err(js_error)?;
        Ok(to_js(&times))
    }

    /// Buffers created on the device so far: `{count, bytes}`.
    #[wasm_bindgen(js_name = bufferStats)]
    pub fn buffer_stats(&self) -> Result<JsValue, JsError> {
        Ok(to_js(&self.gpu.buffer_stats()))
    }
}

/// Parses the plain (not gzipped) IDX digits and returns the training part of the split the
/// trainer page uses, for the harness's other systems: `{images, labels, count, shape}` with
/// `images` a Float32Array (NHWC, values in [0, 1]) and `labels` a Uint32Array.
#[wasm_bindgen(js_name = trainDigits)]
pub fn train_digits(images: &[u8], labels: &[u8]) -> Result<JsValue, JsError> {
    let train = split_digits(images, labels)?.train;
    let result = js_sys::Object::new();
    let set = |key: &str, value: JsValue| js_sys::Reflect::set(&result, &key.into(), &value);
    set(
        "images",
        js_sys::Float32Array::from(&train.images[..]).into(),
    )
    .and(set(
        "labels",
        js_sys::Uint32Array::from(&train.labels[..]).into(),
    ))
    .and(set("count", train.len().into()))
    .and(set(
        "shape",
        to_js(&[train.height, train.width, train.channels]),
    ))
    .map_err(|_| js_error("building the digits object failed"))?;
    Ok(result.into())
}

//! Methods of [`Trainer`] that only the pages in `www/` call: the trainer page's digits, test
//! examples, warm-up and inspection views, and the face page's rebuild and features. The npm
//! package's wasm core is built without them (Cargo feature `pages`).

use crate::json::{self, to_json, ToJson};
use wasm_bindgen::prelude::*;

use super::{Engine, State, Trainer, EVAL_BATCH};
use crate::data::DataSplit;
use crate::model::ModelConfig;
use crate::optim::OptimizerConfig;
use crate::train::{RunOutcome, TrainConfig};
use crate::wasm::{from_js, inspect, js_error, split_digits, to_js};

/// Digits of [`Trainer::warm_up`]: after a quarter goes to validation, a full batch of 32 and a
/// partial one.
const WARM_UP_EXAMPLES: usize = 50;

/// Evaluation on the test set, with the misclassified examples listed.
struct TestResult {
    /// Loss, accuracy, confusion matrix and per-class metrics, written as fields of the result.
    evaluation: crate::train::Evaluation,
    /// Test examples whose prediction is wrong: `[index, true label, predicted label]`.
    misclassified: Vec<[u32; 3]>,
}

impl ToJson for TestResult {
    fn write_json(&self, out: &mut String) {
        let misclassified: &dyn ToJson = &self.misclassified;
        json::write_merged(out, &[("misclassified", misclassified)], &self.evaluation);
    }
}

/// Result of [`Trainer::load_data`]: example counts, class count and image shape.
struct DataSummary {
    train: usize,
    test: usize,
    classes: usize,
    /// [height, width, channels] of one image.
    shape: [usize; 3],
}

to_json!(DataSummary {
    train,
    test,
    classes,
    shape,
});

#[wasm_bindgen]
impl Trainer {
    /// Parses the plain (not gzipped) IDX images and labels and splits them 7:3 into train and
    /// test parts with the seed the native CLI uses. Returns `{train, test, classes, shape}`.
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(&mut self, images: &[u8], labels: &[u8]) -> Result<JsValue, JsError> {
        let split = split_digits(images, labels)?;
        let (train, test) = (&split.train, &split.test);
        let summary = DataSummary {
            train: train.len(),
            test: test.len(),
            classes: train.num_classes,
            shape: [train.height, train.width, train.channels],
        };
        self.data = Some(split);
        Ok(to_js(&summary))
    }

    /// Rebuilds the current model as `config`, keeping every weight whose name and shape stay
    /// the same and drawing the others from `seed`: for example a last layer with one more
    /// unit for a new class, to fine-tune the rest. Raises, keeping the model, when the config
    /// is invalid. The optimizer state starts fresh. Returns the names of the weights drawn anew.
    pub async fn rebuild(&mut self, config: JsValue, seed: u32) -> Result<JsValue, JsError> {
        let config: ModelConfig = from_js(&config, "model config")?;
        if matches!(self.state, State::Training(_)) {
            return Err(js_error("a training run is in progress; stop it first"));
        }
        let current = self.net()?.weights().await.map_err(js_error)?;
        let fresh = self
            .engine
            .build(config.clone(), u64::from(seed))
            .map_err(js_error)?;
        let mut weights = fresh.as_ref().weights().await.map_err(js_error)?;
        let mut drawn = Vec::new();
        for (name, shape, values) in &mut weights {
            match current.iter().find(|(n, s, _)| n == name && s == shape) {
                Some((_, _, kept)) => values.clone_from(kept),
                None => drawn.push(name.clone()),
            }
        }
        let bytes = crate::io::encode(&config, &weights).map_err(js_error)?;
        let net = self
            .engine
            .load(&bytes, "the rebuilt model")
            .map_err(js_error)?;
        self.state = State::Idle(net, None);
        Ok(to_js(&drawn))
    }

    /// Runs `images` (whole images, HWC, flat) through the current model once and returns the
    /// outputs of `layers` (ascending indices), layer after layer, each for every image, flat:
    /// for example the features before the last layer and the class probabilities.
    pub async fn features(
        &self,
        images: Vec<f32>,
        layers: Vec<usize>,
    ) -> Result<Vec<f32>, JsError> {
        inspect::features(self.net()?, &images, &layers)
            .await
            .map_err(js_error)
    }

    /// Compiles the GPU kernels that training `config` uses, by training a throwaway copy for
    /// two steps on 50 digits and predicting one. Chromium compiles WebGPU pipelines on the
    /// thread that also draws the page, so compiling them here, while the page loads, keeps
    /// the first seconds of training from freezing its animations. Does nothing on the CPU.
    #[wasm_bindgen(js_name = warmUp)]
    pub async fn warm_up(&self, config: JsValue) -> Result<(), JsError> {
        if matches!(self.engine, Engine::Cpu) {
            return Ok(());
        }
        let config: ModelConfig = from_js(&config, "model config")?;
        let data = self.data()?;
        let indices: Vec<usize> = (0..WARM_UP_EXAMPLES.min(data.train.len())).collect();
        let sample = data.train.subset(&indices);
        let settings = TrainConfig {
            epochs: 1,
            validation_split: 0.25,
            ..TrainConfig::default()
        };
        let net = self.engine.build(config, 0).map_err(js_error)?;
        let mut run = self
            .engine
            .start(net, None, &OptimizerConfig::default(), &sample, &settings)
            .map_err(js_error)?;
        while !matches!(
            run.run(usize::MAX).await.map_err(js_error)?,
            RunOutcome::Done
        ) {}
        run.net()
            .predict(sample.image(0), 1)
            .await
            .map_err(js_error)?;
        Ok(())
    }

    /// Evaluates the current model on the test part. Returns `{loss, accuracy, confusion,
    /// per_class, predictions, misclassified}`.
    pub async fn evaluate(&self) -> Result<JsValue, JsError> {
        let test = &self.data()?.test;
        let evaluation = self
            .net()?
            .evaluate(test, EVAL_BATCH)
            .await
            .map_err(js_error)?;
        let misclassified = evaluation
            .predictions
            .iter()
            .zip(&test.labels)
            .enumerate()
            .filter(|(_, (predicted, label))| predicted != label)
            .map(|(index, (&predicted, &label))| [index as u32, label, predicted])
            .collect();
        Ok(to_js(&TestResult {
            evaluation,
            misclassified,
        }))
    }

    /// Number of test examples.
    #[wasm_bindgen(js_name = testCount)]
    pub fn test_count(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.test.len())
    }

    /// Pixels (HWC, 0 to 1) of test example `index`.
    #[wasm_bindgen(js_name = testImage)]
    pub fn test_image(&self, index: usize) -> Result<Vec<f32>, JsError> {
        let test = &self.data()?.test;
        if index >= test.len() {
            return Err(js_error(format!(
                "test example {index} does not exist; there are {}",
                test.len()
            )));
        }
        Ok(test.image(index).to_vec())
    }

    /// Label of test example `index`.
    #[wasm_bindgen(js_name = testLabel)]
    pub fn test_label(&self, index: usize) -> Option<u32> {
        self.data.as_ref()?.test.labels.get(index).copied()
    }

    /// Kernels of every conv layer: `[{layer, shape, values}]`, HWIO.
    pub async fn kernels(&self) -> Result<JsValue, JsError> {
        let kernels = inspect::conv_kernels(self.net()?).await.map_err(js_error)?;
        Ok(to_js(&kernels))
    }

    /// Image-shaped layer outputs for test example `index`: `[{layer, kind, shape, values}]`.
    pub async fn activations(&self, index: usize) -> Result<JsValue, JsError> {
        let image = self.test_image(index)?;
        let outputs = inspect::activations(self.net()?, &image)
            .await
            .map_err(js_error)?;
        Ok(to_js(&outputs))
    }

    /// Buffers created on the device so far: `{count, bytes}`.
    #[wasm_bindgen(js_name = bufferStats)]
    pub fn buffer_stats(&self) -> Result<JsValue, JsError> {
        Ok(to_js(&self.engine.buffer_stats()))
    }
}

impl Trainer {
    fn data(&self) -> Result<&DataSplit, JsError> {
        self.data
            .as_ref()
            .ok_or_else(|| js_error("the digits are not loaded yet"))
    }
}

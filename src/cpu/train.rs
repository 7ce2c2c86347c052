//! Training, evaluation and prediction on the CPU, with the batching, shuffling, validation split
//! and dropout seeds of [`crate::train::Session`], so that the same seed gives the same batches.

use crate::number::Shortest;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::data::Dataset;
use crate::ops::augment::AugmentConfig;
use crate::optim::OptimizerConfig;
use crate::reference::{argmax_rows, augment, softmax_cross_entropy};
use crate::train::{
    class_metrics, BatchReport, EpochReport, Evaluation, MetricSums, RunOutcome, StepReport,
    TrainConfig,
};
use crate::{clock, Error, Result};

use super::{CpuModel, CpuOptimizer};

/// A CPU training run that advances a few steps at a time, as [`crate::train::Session`] does on
/// the GPU. Owns the model and the optimizer.
pub struct CpuSession {
    model: CpuModel,
    optimizer: CpuOptimizer,
    train: Dataset,
    validation: Option<Dataset>,
    config: TrainConfig,
    rng: rand_pcg::Pcg64,
    order: Vec<usize>,
    epoch: usize,
    next_batch: usize,
    epoch_started: f64,
    train_seconds: f64,
    metrics: MetricSums,
    reports: Vec<EpochReport>,
    augment: Option<AugmentConfig>,
    /// The parameters at the start of the current epoch, restored if the epoch diverges.
    checkpoint: Vec<f32>,
}

impl CpuSession {
    /// Prepares training `model` on `data` (the validation split is taken from it) with fresh
    /// optimizer state.
    pub fn new(
        model: CpuModel,
        optimizer: OptimizerConfig,
        data: &Dataset,
        config: &TrainConfig,
    ) -> Result<Self> {
        let optimizer = CpuOptimizer::new(&model, optimizer)?;
        Self::with_optimizer(model, optimizer, data, config)
    }

    /// Prepares training `model` on `data` with `optimizer`, which may carry the state of an
    /// earlier run (see [`CpuOptimizer::resume`]).
    pub fn with_optimizer(
        model: CpuModel,
        optimizer: CpuOptimizer,
        data: &Dataset,
        config: &TrainConfig,
    ) -> Result<Self> {
        config.validate()?;
        check_dataset(&model, data)?;
        let (train, validation) = crate::train::split_validation(data, config)?;
        log::info!(
            "training on the CPU on {} ({} validation), batch size {}, {}",
            crate::error::counted(train.len(), "example"),
            validation.as_ref().map_or(0, Dataset::len),
            config.batch_size,
            crate::error::counted(config.epochs, "epoch")
        );
        Ok(Self {
            rng: rand_pcg::Pcg64::seed_from_u64(config.seed),
            order: (0..train.len()).collect(),
            epoch: 0,
            next_batch: 0,
            epoch_started: 0.0,
            train_seconds: 0.0,
            metrics: MetricSums::default(),
            reports: Vec::new(),
            augment: None,
            checkpoint: Vec::new(),
            model,
            optimizer,
            train,
            validation,
            config: config.clone(),
        })
    }

    /// Warps every training image from now on by a random transform drawn within `config`, the
    /// same transforms the GPU session draws for the same step. Validation and test images stay
    /// as they are, and a config that changes nothing ([`AugmentConfig::is_identity`]) turns
    /// augmentation off.
    pub fn set_augment(&mut self, config: AugmentConfig) -> Result<()> {
        config.validate(self.train.height, self.train.width)?;
        self.augment = (!config.is_identity()).then_some(config);
        Ok(())
    }

    /// The model being trained.
    pub fn model(&self) -> &CpuModel {
        &self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> CpuModel {
        self.model
    }

    /// Gives the model and the optimizer back.
    pub fn into_parts(self) -> (CpuModel, CpuOptimizer) {
        (self.model, self.optimizer)
    }

    /// Reports of the finished epochs.
    pub fn reports(&self) -> &[EpochReport] {
        &self.reports
    }

    /// Steps per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.train.len().div_ceil(self.config.batch_size)
    }

    // TODO: share this epoch and batch scheduling with `train::Session` through a backend
    // trait; the two copies must change together until then.
    /// Runs up to `max_steps` steps of the current epoch, finishing the epoch (validation and
    /// report) when its last batch has run.
    pub fn run(&mut self, max_steps: usize) -> Result<RunOutcome> {
        if self.epoch == 0 || self.next_batch == 0 {
            if self.epoch == self.config.epochs {
                return Ok(RunOutcome::Done);
            }
            self.start_epoch();
        }
        let steps = self.steps_per_epoch();
        let started = clock::now_seconds();
        let end = (self.next_batch + max_steps.max(1)).min(steps);
        let batches = (self.next_batch..end)
            .map(|index| self.train_batch(index))
            .collect();
        self.next_batch = end % steps;
        self.train_seconds += clock::now_seconds() - started;
        if self.next_batch != 0 {
            return Ok(RunOutcome::Steps { batches });
        }
        let (loss, _) = self.metrics.means();
        if let Err(diverged) = crate::train::check_finite(loss, self.epoch) {
            self.model.params_mut().copy_from_slice(&self.checkpoint);
            return Err(diverged);
        }
        let report = self.finish_epoch()?;
        Ok(RunOutcome::Epoch { report, batches })
    }

    /// Metrics of the current epoch so far.
    pub fn progress(&self) -> StepReport {
        let (loss, accuracy) = self.metrics.means();
        StepReport {
            epoch: self.epoch,
            step: self.next_batch,
            steps: self.steps_per_epoch(),
            loss,
            accuracy,
            examples_per_second: self.metrics.count.max(1.0) / self.train_seconds.max(1e-9),
        }
    }

    fn start_epoch(&mut self) {
        self.checkpoint.clear();
        self.checkpoint.extend_from_slice(self.model.params());
        self.epoch += 1;
        if self.config.shuffle {
            self.order.shuffle(&mut self.rng);
        }
        self.metrics = MetricSums::default();
        self.epoch_started = clock::now_seconds();
        self.train_seconds = 0.0;
    }

    /// Trains on batch `index` of the epoch: forward, loss, backward and one optimizer update.
    /// Returns the batch's loss and accuracy.
    fn train_batch(&mut self, index: usize) -> BatchReport {
        let size = self.config.batch_size;
        let batch = &self.order[index * size..((index + 1) * size).min(self.order.len())];
        // The dropout seed of the step, as the GPU session computes it.
        let global_step = ((self.epoch - 1) * self.steps_per_epoch() + index) as u32;
        let seed = (self.config.seed as u32) ^ global_step.wrapping_mul(0x9e37_79b9);

        let (mut images, labels) = gather(&self.train, batch);
        if let Some(config) = &self.augment {
            // The GPU session seeds chunk c of a split batch with (c << 32) | seed; the CPU
            // path runs the batch as one chunk.
            let transforms = config.transforms(batch.len(), u64::from(seed));
            let [h, w, c] = self.model.input_shape();
            images = augment::warp(&images, [batch.len(), h, w, c], &transforms);
        }
        let classes = self.model.classes();
        let trace = self
            .model
            .forward_trace(&images, batch.len(), true, true, seed);
        let (losses, dlogits) = softmax_cross_entropy(trace.output(), &labels, classes);
        let predictions = argmax_rows(trace.output(), classes);
        let sums = MetricSums::of_batch(&losses, &predictions, &labels);
        self.metrics.add(&sums);
        let grads = self.model.backward(&trace, &dlogits);
        self.optimizer.update(&mut self.model, &grads);
        sums.batch_report(index)
    }

    fn finish_epoch(&mut self) -> Result<EpochReport> {
        let validation = match &self.validation {
            Some(data) => Some(evaluate(&self.model, data, self.config.batch_size)?),
            None => None,
        };
        let (loss, accuracy) = self.metrics.means();
        let report = EpochReport {
            epoch: self.epoch,
            loss,
            accuracy,
            val_loss: validation.as_ref().map(|v| v.loss),
            val_accuracy: validation.as_ref().map(|v| v.accuracy),
            examples_per_second: self.metrics.count / self.train_seconds,
            seconds: clock::now_seconds() - self.epoch_started,
            // No GPU buffers on the CPU path.
            buffers: Default::default(),
        };
        log::info!(
            "epoch {} on the CPU: {}",
            self.epoch,
            crate::json::to_string(&report)
        );
        self.reports.push(report.clone());
        Ok(report)
    }
}

/// Copies the images and labels of `indices` into `[n, H, W, C]` and `[n]`.
fn gather(data: &Dataset, indices: &[usize]) -> (Vec<f32>, Vec<u32>) {
    let mut images = Vec::with_capacity(indices.len() * data.image_len());
    for &i in indices {
        images.extend_from_slice(data.image(i));
    }
    let labels = indices.iter().map(|&i| data.labels[i]).collect();
    (images, labels)
}

/// Checks that `data` fits the model's input shape and classes, with the messages of the GPU
/// path.
fn check_dataset(model: &CpuModel, data: &Dataset) -> Result<()> {
    crate::train::check_dataset_fits(model.input_shape(), model.classes(), data)
}

/// Loss, accuracy, confusion matrix and per-class metrics of `model` on `data`, computed in
/// batches of `batch_size` examples.
pub fn evaluate(model: &CpuModel, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
    check_dataset(model, data)?;
    let classes = model.classes();
    let mut metrics = MetricSums::default();
    let mut confusion = vec![vec![0u32; classes]; classes];
    let mut predictions = Vec::with_capacity(data.len());
    let order: Vec<usize> = (0..data.len()).collect();
    for batch in order.chunks(batch_size.max(1)) {
        let (images, labels) = gather(data, batch);
        let trace = model.forward_trace(&images, batch.len(), false, true, 0);
        let (losses, _) = softmax_cross_entropy(trace.output(), &labels, classes);
        let batch_predictions = argmax_rows(trace.output(), classes);
        metrics.add(&MetricSums::of_batch(&losses, &batch_predictions, &labels));
        for (&label, &prediction) in labels.iter().zip(&batch_predictions) {
            confusion[label as usize][prediction as usize] += 1;
        }
        predictions.extend(batch_predictions);
    }
    let (loss, accuracy) = metrics.means();
    Ok(Evaluation {
        loss,
        accuracy,
        per_class: class_metrics(&confusion),
        confusion,
        predictions,
    })
}

/// Computes the model outputs (class probabilities for a softmax model) `[n, classes]` for images
/// `[n, H, W, C]` given as one flat slice, computed in batches of `batch_size` images.
pub fn predict(model: &CpuModel, images: &[f32], batch_size: usize) -> Result<Vec<f32>> {
    let [h, w, c] = model.input_shape();
    let per_image = h * w * c;
    if images.is_empty() || !images.len().is_multiple_of(per_image) {
        return Err(Error::Config(format!(
            "predict needs a whole number of {h}x{w}x{c} images ({per_image} values each), got {} \
             values",
            images.len()
        )));
    }
    if let Some(i) = images.iter().position(|v| !v.is_finite()) {
        return Err(Error::Config(format!(
            "predict input value {i} (image {}) is {}; pass finite pixel values",
            i / per_image,
            Shortest(images[i])
        )));
    }
    let mut outputs = Vec::with_capacity(images.len() / per_image * model.classes());
    for chunk in images.chunks(batch_size.max(1) * per_image) {
        outputs.extend(model.forward(chunk, chunk.len() / per_image, false, 0));
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    /// A tiny softmax classifier on 4x4x1 images.
    fn tiny_model(seed: u64) -> CpuModel {
        let config = ModelConfig::from_json(
            r#"{"input_shape": [4, 4, 1], "layers": [
                {"type": "conv2d", "filters": 2, "kernel_size": [2, 2], "activation": "relu"},
                {"type": "max_pool2d", "pool_size": [2, 2], "strides": [1, 1]},
                {"type": "flatten"},
                {"type": "dense", "units": 3, "activation": "softmax"}
            ]}"#,
        )
        .unwrap();
        CpuModel::new(config, seed).unwrap()
    }

    /// `len` images with a bright 2x2 block in the top-left (label 0), top-right (label 1) or
    /// bottom-left (label 2) quadrant, over a faint background that differs per image.
    fn tiny_data(len: usize) -> Dataset {
        let labels: Vec<u32> = (0..len as u32).map(|i| i % 3).collect();
        let pixel = |i: usize, label: u32, p: usize| {
            let quadrant = (p / 8) * 2 + (p % 4) / 2;
            let bright = if quadrant == label as usize { 1.0 } else { 0.0 };
            bright + ((p * 7 + i * 3) % 11) as f32 * 0.01
        };
        let images = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &label)| (0..16).map(move |p| pixel(i, label, p)))
            .collect();
        Dataset::from_parts("tiny", images, labels, 4, 4, 1, 3).unwrap()
    }

    fn config(epochs: usize, batch_size: usize) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size,
            validation_split: 0.0,
            seed: 4,
            shuffle: true,
        }
    }

    fn train(data: &Dataset, config: &TrainConfig) -> CpuSession {
        let optimizer = OptimizerConfig::named("adam", Some(0.01)).unwrap();
        let mut session = CpuSession::new(tiny_model(2), optimizer, data, config).unwrap();
        while session.run(3).unwrap() != RunOutcome::Done {}
        session
    }

    #[test]
    fn session_runs_ragged_epochs() {
        // 10 examples in batches of 4: steps of 4, 4 and 2 examples.
        let data = tiny_data(10);
        let optimizer = OptimizerConfig::default();
        let mut session = CpuSession::new(tiny_model(2), optimizer, &data, &config(2, 4)).unwrap();
        assert_eq!(session.steps_per_epoch(), 3);
        let RunOutcome::Steps { batches: first } = session.run(2).unwrap() else {
            panic!("the first epoch ended after 2 of 3 steps");
        };
        let progress = session.progress();
        assert_eq!((progress.epoch, progress.step, progress.steps), (1, 2, 3));
        let RunOutcome::Epoch { report, batches } = session.run(5).unwrap() else {
            panic!("the first epoch did not end");
        };
        assert_eq!(report.epoch, 1);
        assert!(report.loss.is_finite(), "{report:?}");
        assert!(report.loss > 0.0, "{report:?}");
        assert_eq!(report.val_accuracy, None);
        let indices: Vec<usize> = first.iter().chain(&batches).map(|b| b.batch).collect();
        assert_eq!(indices, [0, 1, 2]);
        // The epoch's mean loss weights each batch by its size: 4, 4 and 2 examples.
        let weighted = (first[0].loss * 4.0 + first[1].loss * 4.0 + batches[0].loss * 2.0) / 10.0;
        assert!(
            (weighted - report.loss).abs() < 1e-12,
            "{weighted} vs {report:?}"
        );
        let RunOutcome::Epoch { batches, .. } = session.run(10).unwrap() else {
            panic!("the second epoch did not end");
        };
        assert_eq!(
            batches.iter().map(|b| b.batch).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(session.run(1).unwrap(), RunOutcome::Done);
        assert_eq!(session.reports().len(), 2);
    }

    /// Runs `session` to its end, `steps` steps per call, and returns the batch reports in order.
    fn run_to_end(session: &mut CpuSession, steps: usize) -> Vec<BatchReport> {
        let mut all = Vec::new();
        loop {
            match session.run(steps).unwrap() {
                RunOutcome::Steps { batches } | RunOutcome::Epoch { batches, .. } => {
                    all.extend(batches)
                }
                RunOutcome::Done => return all,
            }
        }
    }

    /// Trains `model` on `data` for `epochs` epochs of 2 batches, in the same order each epoch.
    fn train_with(
        model: CpuModel,
        optimizer: CpuOptimizer,
        data: &Dataset,
        epochs: usize,
    ) -> (CpuModel, CpuOptimizer) {
        let settings = TrainConfig {
            shuffle: false,
            ..config(epochs, data.len().div_ceil(2))
        };
        let mut session = CpuSession::with_optimizer(model, optimizer, data, &settings).unwrap();
        run_to_end(&mut session, usize::MAX);
        session.into_parts()
    }

    #[test]
    fn continued_session_keeps_optimizer_state() {
        let data = tiny_data(12);
        let adam = OptimizerConfig::named("adam", Some(0.01)).unwrap();
        let faster = OptimizerConfig::named("adam", Some(0.02)).unwrap();
        let start = |config: &OptimizerConfig| {
            let model = tiny_model(2);
            let optimizer = CpuOptimizer::new(&model, config.clone()).unwrap();
            (model, optimizer)
        };
        let first_epoch = || {
            let (model, optimizer) = start(&adam);
            train_with(model, optimizer, &data, 1)
        };

        let (model, optimizer) = start(&adam);
        let (whole, _) = train_with(model, optimizer, &data, 2);

        let (model, kept) = first_epoch();
        let resumed = CpuOptimizer::resume(Some(kept), &model, adam.clone()).unwrap();
        assert_eq!(resumed.steps(), 2);
        let (continued, optimizer) = train_with(model, resumed, &data, 1);
        assert_eq!(optimizer.steps(), 4);
        assert_eq!(continued.params(), whole.params());

        // Fresh state after the first epoch ends elsewhere, so the kept state mattered.
        let (model, _) = first_epoch();
        let fresh = CpuOptimizer::new(&model, adam.clone()).unwrap();
        let (restarted, _) = train_with(model, fresh, &data, 1);
        assert_ne!(restarted.params(), whole.params());

        // A changed learning rate starts fresh state.
        let (model, kept) = first_epoch();
        let reset = CpuOptimizer::resume(Some(kept), &model, faster.clone()).unwrap();
        assert_eq!(reset.steps(), 0);
        let (changed, _) = train_with(model, reset, &data, 1);
        let (model, _) = first_epoch();
        let fresh = CpuOptimizer::new(&model, faster).unwrap();
        let (expected, _) = train_with(model, fresh, &data, 1);
        assert_eq!(changed.params(), expected.params());
    }

    #[test]
    fn diverged_epoch_restores_weights() {
        let data = tiny_data(12);
        let adam = OptimizerConfig::named("adam", Some(0.01)).unwrap();
        let optimizer = CpuOptimizer::new(&tiny_model(2), adam).unwrap();
        let (trained, _) = train_with(tiny_model(2), optimizer, &data, 1);
        let before = trained.params().to_vec();

        // A learning rate that is infinite as f32 turns the weights to NaN in the first step.
        let huge = OptimizerConfig::named("sgd", Some(1e300)).unwrap();
        let optimizer = CpuOptimizer::new(&trained, huge).unwrap();
        let settings = config(2, 6);
        let mut session = CpuSession::with_optimizer(trained, optimizer, &data, &settings).unwrap();
        let error = loop {
            match session.run(1) {
                Ok(RunOutcome::Steps { .. }) => {}
                other => break other.unwrap_err(),
            }
        };
        assert!(matches!(error, Error::Diverged { epoch: 1, .. }), "{error}");
        assert!(error.to_string().contains("back at its weights"), "{error}");
        assert_eq!(session.into_model().params(), before.as_slice());
    }

    #[test]
    fn grouped_steps_report_each_batch() {
        // 10 examples in batches of 4: steps of 4, 4 and 2 examples.
        let data = tiny_data(10);
        let start = || {
            let optimizer = OptimizerConfig::default();
            CpuSession::new(tiny_model(2), optimizer, &data, &config(2, 4)).unwrap()
        };
        let grouped = run_to_end(&mut start(), 2);
        let single = run_to_end(&mut start(), 1);
        assert_eq!(grouped, single);
        let indices: Vec<usize> = grouped.iter().map(|b| b.batch).collect();
        assert_eq!(indices, [0, 1, 2, 0, 1, 2]);
        for batch in &grouped {
            assert!(batch.loss.is_finite(), "{batch:?}");
            assert!(batch.loss > 0.0, "{batch:?}");
        }
    }

    #[test]
    fn seeded_session_repeats_exactly() {
        let data = tiny_data(30);
        let first = train(&data, &config(2, 8));
        let second = train(&data, &config(2, 8));
        assert_eq!(first.model().params(), second.model().params());
        assert_eq!(first.reports()[1].loss, second.reports()[1].loss);
    }

    #[test]
    fn session_learns_and_validates() {
        let data = tiny_data(90);
        let mut settings = config(30, 8);
        settings.validation_split = 0.2;
        let session = train(&data, &settings);
        let last = session.reports().last().unwrap();
        assert!(
            last.loss < session.reports()[0].loss,
            "{:?}",
            session.reports()
        );
        assert_eq!(last.val_accuracy, Some(1.0), "{last:?}");
    }

    #[test]
    fn evaluate_counts_confusion() {
        let data = tiny_data(7);
        let model = tiny_model(3);
        let evaluation = evaluate(&model, &data, 3).unwrap();
        assert_eq!(evaluation.predictions.len(), 7);
        let total: u32 = evaluation.confusion.iter().flatten().sum();
        assert_eq!(total, 7);
        let correct = (0..3).map(|c| evaluation.confusion[c][c]).sum::<u32>();
        assert_eq!(evaluation.accuracy, f64::from(correct) / 7.0);
        let outputs = predict(&model, &data.images, 2).unwrap();
        let predictions = argmax_rows(&outputs, 3);
        assert_eq!(predictions, evaluation.predictions);
    }

    #[test]
    fn session_rejects_mismatched_dataset() {
        let data = tiny_data(6);
        let wrong = Dataset::from_parts("wide", vec![0.0; 6 * 20], vec![0; 6], 4, 5, 1, 3).unwrap();
        let error = CpuSession::new(
            tiny_model(1),
            OptimizerConfig::default(),
            &wrong,
            &config(1, 2),
        )
        .err()
        .expect("a shape error");
        assert!(error
            .to_string()
            .contains("has images of shape [4, 5, 1] but the model expects [4, 4, 1]"));
        let mut many = data.clone();
        many.num_classes = 5;
        many.labels[1] = 4;
        let error = evaluate(&tiny_model(1), &many, 2).unwrap_err();
        assert!(error
            .to_string()
            .contains("sample 1 has label 4, but the model's last layer has 3 units"));
    }

    #[test]
    fn predict_rejects_partial_and_non_finite_images() {
        let model = tiny_model(1);
        let error = predict(&model, &[0.0; 20], 4).unwrap_err();
        assert!(
            error.to_string().contains("whole number of 4x4x1 images"),
            "{error}"
        );
        let error = predict(&model, &[], 4).unwrap_err();
        assert!(error.to_string().contains("got 0 values"), "{error}");
        let mut images = vec![0.0; 32];
        images[17] = f32::NAN;
        let error = predict(&model, &images, 4).unwrap_err();
        assert!(
            error.to_string().contains("value 17 (image 1) is NaN"),
            "{error}"
        );
    }
}

//! fit / evaluate / predict. A training step records one command buffer and one submit. Each
//! step sums its loss and accuracy on the GPU into its own row of a per-epoch buffer, and each
//! [`Session::run`] call reads back the rows of its steps in one readback at its end.

mod metrics;

use crate::number::Shortest;
use std::ops::Range;

use rand::seq::SliceRandom;
use rand::SeedableRng;

pub(crate) use metrics::MetricSums;
pub use metrics::{class_metrics, BatchReport, ClassMetrics};

use crate::data::{stratified_split, DataError, Dataset};
use crate::gpu::BufferStats;
use crate::json::{self, from_json, to_json};
use crate::model::Model;
use crate::ops::augment::{self, AugmentConfig, Transform, TRANSFORM_LEN};
use crate::ops::loss;
use crate::optim::Optimizer;
use crate::tensor::Tensor;
use crate::{clock, Error, Result};

/// Training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set; default 5.
    pub epochs: usize,
    /// Examples per step; default 32. The last, smaller batch is averaged over its own size.
    pub batch_size: usize,
    /// Fraction of the training set held out for validation after each epoch, class-balanced;
    /// default 0.1 (0 disables validation).
    pub validation_split: f64,
    /// Seed of the shuffling, the validation split and dropout; default 1.
    pub seed: u64,
    /// Whether to shuffle the training set every epoch; default true.
    pub shuffle: bool,
}

to_json!(TrainConfig {
    epochs,
    batch_size,
    validation_split,
    seed,
    shuffle,
});
from_json!(TrainConfig {
    epochs = Self::default().epochs,
    batch_size = Self::default().batch_size,
    validation_split = Self::default().validation_split,
    seed = Self::default().seed,
    shuffle = Self::default().shuffle,
});

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch_size: 32,
            validation_split: 0.1,
            seed: 1,
            shuffle: true,
        }
    }
}

impl TrainConfig {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::Config("epochs must be at least 1, got 0".into()));
        }
        if self.batch_size == 0 {
            return Err(Error::Config(
                "batch size must be at least 1, got 0; try 32".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(Error::Config(format!(
                "validation split must be in [0, 1), got {}; try 0.1",
                Shortest(self.validation_split)
            )));
        }
        Ok(())
    }
}

/// Metrics of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
    /// Training accuracy over the epoch.
    pub accuracy: f64,
    /// Validation loss (when a validation split is set).
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Training examples per second (training steps only, validation excluded).
    pub examples_per_second: f64,
    /// Wall time of the epoch including validation, in seconds.
    pub seconds: f64,
    /// GPU buffers created so far.
    pub buffers: BufferStats,
}

to_json!(EpochReport {
    epoch,
    loss,
    accuracy,
    val_loss,
    val_accuracy,
    examples_per_second,
    seconds,
    buffers,
});

/// Progress within an epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct StepReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps per epoch.
    pub steps: usize,
    /// Mean training loss so far in this epoch.
    pub loss: f64,
    /// Training accuracy so far in this epoch.
    pub accuracy: f64,
    /// Examples per second so far in this epoch.
    pub examples_per_second: f64,
}

to_json!(StepReport {
    epoch,
    step,
    steps,
    loss,
    accuracy,
    examples_per_second,
});

/// Callbacks and progress settings of [`fit`].
pub struct Callbacks<'a> {
    /// Called after each epoch.
    pub on_epoch: Box<dyn FnMut(&EpochReport) + 'a>,
    /// Called every `progress_every` steps with the metrics so far (each call reads back).
    pub on_progress: Box<dyn FnMut(&StepReport) + 'a>,
    /// Steps between progress reports; 0 reports only at epoch ends.
    pub progress_every: usize,
}

impl Default for Callbacks<'_> {
    fn default() -> Self {
        Self {
            on_epoch: Box::new(|_| {}),
            on_progress: Box::new(|_| {}),
            progress_every: 0,
        }
    }
}

/// Result of [`evaluate`].
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Confusion matrix `[true label][prediction]`.
    pub confusion: Vec<Vec<u32>>,
    /// Precision, recall and F1 per class.
    pub per_class: Vec<ClassMetrics>,
    /// Predicted class of every example, in order.
    pub predictions: Vec<u32>,
}

to_json!(Evaluation {
    loss,
    accuracy,
    confusion,
    per_class,
    predictions,
});

/// A training run that advances a few steps at a time, so a caller (the browser worker) can
/// pause, resume or stop between calls. Owns the model and the optimizer.
pub struct Session {
    model: Model,
    optimizer: Optimizer,
    train: Dataset,
    validation: Option<Dataset>,
    config: TrainConfig,
    rng: rand_pcg::Pcg64,
    order: Vec<usize>,
    epoch: usize,
    next_batch: usize,
    epoch_started: f64,
    train_seconds: f64,
    step: Tensor,
    /// Loss sum, correct count and example count of the step being recorded `[3]`.
    step_metrics: Tensor,
    /// The step metrics of every batch of the epoch, one row each `[steps per epoch, 3]`.
    batch_metrics: Tensor,
    /// Sums of the batches of this epoch read back so far.
    epoch_metrics: MetricSums,
    reports: Vec<EpochReport>,
    augment: Option<AugmentConfig>,
    /// The parameters at the start of the current epoch, restored if the epoch diverges.
    checkpoint: Tensor,
}

/// Outcome of one [`Session::run`] call.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    /// Steps ran and the epoch goes on.
    Steps {
        /// Loss and accuracy of each batch the call ran, in order.
        batches: Vec<BatchReport>,
    },
    /// The epoch ended (validation done).
    Epoch {
        /// Report of the epoch.
        report: EpochReport,
        /// Loss and accuracy of each batch the call ran, in order.
        batches: Vec<BatchReport>,
    },
    /// Every epoch has run.
    Done,
}

impl Session {
    /// Prepares training `model` on `data` (the validation split is taken from it).
    pub fn new(
        model: Model,
        optimizer: Optimizer,
        data: &Dataset,
        config: &TrainConfig,
    ) -> Result<Self> {
        config.validate()?;
        check_dataset(&model, data)?;
        let (train, validation) = split_validation(data, config)?;
        log::info!(
            "training on {} ({} validation), batch size {}, {}",
            crate::error::counted(train.len(), "example"),
            validation.as_ref().map_or(0, Dataset::len),
            config.batch_size,
            crate::error::counted(config.epochs, "epoch")
        );
        let gpu = model.gpu().clone();
        let steps = train.len().div_ceil(config.batch_size);
        Ok(Self {
            step: Tensor::from_slice(&gpu, &[0.0f32; 4], &[4]),
            step_metrics: Tensor::empty(&gpu, &[3]),
            batch_metrics: Tensor::empty(&gpu, &[steps, 3]),
            checkpoint: Tensor::empty(&gpu, model.params().shape()),
            epoch_metrics: MetricSums::default(),
            rng: rand_pcg::Pcg64::seed_from_u64(config.seed),
            order: (0..train.len()).collect(),
            epoch: 0,
            next_batch: 0,
            epoch_started: 0.0,
            train_seconds: 0.0,
            reports: Vec::new(),
            augment: None,
            model,
            optimizer,
            train,
            validation,
            config: config.clone(),
        })
    }

    /// Warps every training image from now on by a random transform drawn within `config`, on
    /// the GPU and seeded by the step. Validation and test images stay as they are. A config
    /// that changes nothing ([`AugmentConfig::is_identity`]) turns augmentation off.
    pub fn set_augment(&mut self, config: AugmentConfig) -> Result<()> {
        config.validate(self.train.height, self.train.width)?;
        self.augment = (!config.is_identity()).then_some(config);
        Ok(())
    }

    /// The model being trained.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Gives the model and optimizer back.
    pub fn into_parts(self) -> (Model, Optimizer) {
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

    /// Runs up to `max_steps` steps of the current epoch and reads their metrics back (which
    /// waits until the GPU has run them), finishing the epoch (validation and report) when its
    /// last batch has run.
    pub async fn run(&mut self, max_steps: usize) -> Result<RunOutcome> {
        if self.epoch == 0 || self.next_batch == 0 {
            if self.epoch == self.config.epochs {
                return Ok(RunOutcome::Done);
            }
            self.start_epoch();
        }
        let steps = self.steps_per_epoch();
        let started = clock::now_seconds();
        let first = self.next_batch;
        let end = (first + max_steps.max(1)).min(steps);
        for index in first..end {
            self.train_batch(index);
        }
        let batches = self.read_batches(first..end).await?;
        self.train_seconds += clock::now_seconds() - started;
        self.next_batch = end % steps;
        if self.next_batch != 0 {
            return Ok(RunOutcome::Steps { batches });
        }
        let (loss, _) = self.epoch_metrics.means();
        if let Err(diverged) = check_finite(loss, self.epoch) {
            let gpu = self.model.gpu();
            gpu.copy(&self.checkpoint.binding(), &self.model.params().binding());
            gpu.submit();
            return Err(diverged);
        }
        let report = self.finish_epoch().await?;
        Ok(RunOutcome::Epoch { report, batches })
    }

    /// Metrics of the current epoch so far, as of the last [`Session::run`] call.
    pub fn progress(&self) -> StepReport {
        let (loss, accuracy) = self.epoch_metrics.means();
        StepReport {
            epoch: self.epoch,
            step: self.next_batch,
            steps: self.steps_per_epoch(),
            loss,
            accuracy,
            examples_per_second: self.epoch_metrics.count / self.train_seconds.max(1e-9),
        }
    }

    fn start_epoch(&mut self) {
        // Submitted at once, because while a command is pending the pool does not reuse the
        // buffers freed since the last submit, and the epoch's first step would create new ones.
        let gpu = self.model.gpu();
        gpu.copy(&self.model.params().binding(), &self.checkpoint.binding());
        gpu.submit();
        self.epoch += 1;
        if self.config.shuffle {
            self.order.shuffle(&mut self.rng);
        }
        self.epoch_metrics = MetricSums::default();
        self.epoch_started = clock::now_seconds();
        self.train_seconds = 0.0;
    }

    /// Reads back the rows of batches `range` of this epoch, adds them to the epoch's sums and
    /// returns the batches' reports.
    async fn read_batches(&mut self, range: Range<usize>) -> Result<Vec<BatchReport>> {
        // A copy (unlike a kernel binding) takes any 4-byte-aligned offset, so the rows of
        // `range` read back as one view.
        let rows = self
            .batch_metrics
            .view(range.start * 3, &[range.len() * 3])
            .to_vec(self.model.gpu())
            .await?;
        let mut reports = Vec::with_capacity(range.len());
        for (row, batch) in rows.chunks_exact(3).zip(range) {
            let sums = MetricSums {
                loss: f64::from(row[0]),
                correct: f64::from(row[1]),
                count: f64::from(row[2]),
            };
            self.epoch_metrics.add(&sums);
            reports.push(sums.batch_report(batch));
        }
        Ok(reports)
    }

    fn train_batch(&mut self, index: usize) {
        let size = self.config.batch_size;
        let batch = &self.order[index * size..((index + 1) * size).min(self.order.len())];
        let global_step = ((self.epoch - 1) * self.steps_per_epoch() + index) as u32;
        let seed = (self.config.seed as u32) ^ global_step.wrapping_mul(0x9e37_79b9);
        let row = self.batch_metrics.view(index * 3, &[3]);
        train_step(
            &self.model,
            &mut self.optimizer,
            &self.train,
            batch,
            [&self.step, &self.step_metrics, &row],
            seed,
            self.augment.as_ref(),
        );
    }

    async fn finish_epoch(&mut self) -> Result<EpochReport> {
        let val = match &self.validation {
            Some(v) => Some(evaluate(&self.model, v, self.config.batch_size).await?),
            None => None,
        };
        let (loss, accuracy) = self.epoch_metrics.means();
        let report = EpochReport {
            epoch: self.epoch,
            loss,
            accuracy,
            val_loss: val.as_ref().map(|v| v.loss),
            val_accuracy: val.as_ref().map(|v| v.accuracy),
            examples_per_second: self.epoch_metrics.count / self.train_seconds,
            seconds: clock::now_seconds() - self.epoch_started,
            buffers: self.model.gpu().buffer_stats(),
        };
        log::info!("epoch {}: {}", self.epoch, json::to_string(&report));
        self.reports.push(report.clone());
        Ok(report)
    }
}

/// Runs every epoch of `session`, calling back after each epoch and every
/// `callbacks.progress_every` steps. Returns one report per epoch.
pub async fn fit(session: &mut Session, mut callbacks: Callbacks<'_>) -> Result<Vec<EpochReport>> {
    let chunk = match callbacks.progress_every {
        0 => usize::MAX,
        n => n,
    };
    loop {
        match session.run(chunk).await? {
            RunOutcome::Steps { .. } => (callbacks.on_progress)(&session.progress()),
            RunOutcome::Epoch { report, .. } => (callbacks.on_epoch)(&report),
            RunOutcome::Done => return Ok(session.reports().to_vec()),
        }
    }
}

/// Records and submits one training step on the examples `batch` of `data`. The step's loss
/// sum, correct count and example count accumulate in `metrics` `[3]` and are copied to `row`.
fn train_step(
    model: &Model,
    optimizer: &mut Optimizer,
    data: &Dataset,
    batch: &[usize],
    [step, metrics, row]: [&Tensor; 3],
    seed: u32,
    augment: Option<&AugmentConfig>,
) {
    let gpu = model.gpu();
    let [lr, c1, c2] = optimizer.next_scalars();
    let scalars = [lr.to_bits(), c1.to_bits(), c2.to_bits(), seed];
    gpu.write(step.buffer(), step.byte_offset(), &scalars);
    // Writes land before the commands of the next submit, so after the previous step's copy.
    gpu.write(metrics.buffer(), metrics.byte_offset(), &[0.0f32; 3]);

    for (chunk_index, chunk) in batch.chunks(model.max_chunk()).enumerate() {
        let (x, labels) = upload_batch(model, data, chunk);
        let x = match augment {
            Some(config) => augment_batch(gpu, config, &x, seed, chunk_index),
            None => x,
        };
        let (logits, saved) = model.forward(&x, step, true, true);
        let out = loss::softmax_cross_entropy(gpu, &logits, &labels, batch.len());
        loss::accumulate_metrics(gpu, &out, &labels, metrics);
        model.backward(&saved, &out.dlogits, step, chunk_index > 0);
    }
    gpu.copy(&metrics.binding(), &row.binding());
    optimizer.update(model, step);
    gpu.submit();
}

/// Warps the images `x` `[n, H, W, C]` by transforms drawn from `config`, seeded by the step
/// seed and the chunk of a split batch.
fn augment_batch(
    gpu: &crate::gpu::Gpu,
    config: &AugmentConfig,
    x: &Tensor,
    seed: u32,
    chunk_index: usize,
) -> Tensor {
    let images = x.shape()[0];
    let transforms = config.transforms(images, ((chunk_index as u64) << 32) | seed as u64);
    let transforms = Tensor::from_slice(
        gpu,
        bytemuck::cast_slice::<Transform, f32>(&transforms),
        &[images, TRANSFORM_LEN],
    );
    augment::warp(gpu, x, &transforms)
}

/// Uploads the images and labels of `indices` as `[n, H, W, C]` and `[n]` tensors.
fn upload_batch(model: &Model, data: &Dataset, indices: &[usize]) -> (Tensor, Tensor) {
    let gpu = model.gpu();
    let mut images = Vec::with_capacity(indices.len() * data.image_len());
    for &i in indices {
        images.extend_from_slice(data.image(i));
    }
    let labels: Vec<u32> = indices.iter().map(|&i| data.labels[i]).collect();
    let [h, w, c] = model.input_shape();
    let x = Tensor::from_slice(gpu, &images, &[indices.len(), h, w, c]);
    let y = Tensor::from_slice(gpu, &labels, &[indices.len()]);
    (x, y)
}

async fn read_metrics(metrics: &Tensor, model: &Model) -> Result<[f64; 3]> {
    let values = metrics.to_vec(model.gpu()).await?;
    Ok([
        values[0] as f64,
        values[1] as f64,
        values[2].max(1.0) as f64,
    ])
}

/// Fails with [`Error::Diverged`] when the mean loss of `epoch` is NaN or infinite.
pub(crate) fn check_finite(loss: f64, epoch: usize) -> Result<()> {
    if loss.is_finite() {
        return Ok(());
    }
    Err(Error::Diverged { epoch, loss })
}

/// Checks that `data` fits the model's input shape and classes.
fn check_dataset(model: &Model, data: &Dataset) -> Result<()> {
    check_dataset_fits(model.input_shape(), model.classes(), data)
}

/// Splits the validation part off `data` by `config.validation_split` (none for a split of 0).
pub fn split_validation(
    data: &Dataset,
    config: &TrainConfig,
) -> Result<(Dataset, Option<Dataset>)> {
    if config.validation_split == 0.0 {
        return Ok((data.clone(), None));
    }
    match stratified_split(data, config.validation_split, config.seed) {
        Ok((train, validation)) => Ok((train, Some(validation))),
        Err(DataError::EmptySplit { len, .. }) => Err(Error::Config(format!(
            "a validation split of {} leaves no example in one part of the {len} training \
             examples; use validation split 0 or train on more examples",
            Shortest(config.validation_split)
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Checks that `data` is non-empty, has images of `input_shape` and only labels below `classes`
/// (shared by the GPU and CPU paths).
pub fn check_dataset_fits(input_shape: [usize; 3], classes: usize, data: &Dataset) -> Result<()> {
    let shape = [data.height, data.width, data.channels];
    if shape != input_shape {
        return Err(Error::Config(format!(
            "dataset {} has images of shape {shape:?} but the model expects {input_shape:?}; \
             change the model's input_shape",
            data.name,
        )));
    }
    if let Some(index) = data
        .labels
        .iter()
        .position(|&label| label as usize >= classes)
    {
        let label = data.labels[index];
        return Err(Error::Config(format!(
            "dataset {} sample {index} has label {label}, but the model's last layer has \
             {classes} units, so labels must be below {classes}; fix the labels or set the last \
             layer's units to {}",
            data.name, data.num_classes
        )));
    }
    if data.is_empty() {
        return Err(Error::Config(format!(
            "dataset {} is empty; give it at least one example",
            data.name
        )));
    }
    Ok(())
}

/// Loss, accuracy, confusion matrix and per-class metrics of `model` on `data`.
pub async fn evaluate(model: &Model, data: &Dataset, batch_size: usize) -> Result<Evaluation> {
    check_dataset(model, data)?;
    let gpu = model.gpu();
    let classes = model.classes();
    let step = Tensor::from_slice(gpu, &[0.0f32; 4], &[4]);
    let metrics = Tensor::from_slice(gpu, &[0.0f32; 3], &[3]);
    let confusion = Tensor::from_slice(gpu, &vec![0u32; classes * classes], &[classes, classes]);
    let predictions = Tensor::empty(gpu, &[data.len()]);
    let order: Vec<usize> = (0..data.len()).collect();
    let chunk = batch_size.max(1).min(model.max_chunk());

    for (index, batch) in order.chunks(chunk).enumerate() {
        let (x, labels) = upload_batch(model, data, batch);
        let (logits, _) = model.forward(&x, &step, false, true);
        let out = loss::softmax_cross_entropy(gpu, &logits, &labels, batch.len());
        loss::accumulate_metrics(gpu, &out, &labels, &metrics);
        loss::accumulate_confusion(gpu, &out.pred, &labels, &confusion);
        gpu.copy(
            &out.pred.binding(),
            &predictions.view(index * chunk, &[batch.len()]).binding(),
        );
        gpu.submit();
    }

    let [loss_sum, correct, count] = read_metrics(&metrics, model).await?;
    let counts = confusion.to_vec_u32(gpu).await?;
    let confusion: Vec<Vec<u32>> = counts.chunks(classes).map(<[u32]>::to_vec).collect();
    Ok(Evaluation {
        loss: loss_sum / count,
        accuracy: correct / count,
        per_class: class_metrics(&confusion),
        confusion,
        predictions: predictions.to_vec_u32(gpu).await?,
    })
}

/// Model outputs (class probabilities for a softmax model) `[n, classes]` for images
/// `[n, H, W, C]` given as one flat slice.
pub async fn predict(model: &Model, images: &[f32], batch_size: usize) -> Result<Vec<f32>> {
    let [h, w, c] = model.input_shape();
    let per_image = h * w * c;
    if images.is_empty() || !images.len().is_multiple_of(per_image) {
        return Err(Error::Config(format!(
            "predict needs a whole number of {h}x{w}x{c} images ({per_image} values each), got {} values",
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
    let gpu = model.gpu();
    let n = images.len() / per_image;
    let classes = model.classes();
    let step = Tensor::from_slice(gpu, &[0.0f32; 4], &[4]);
    let outputs = Tensor::empty(gpu, &[n, classes]);
    let chunk = batch_size.max(1).min(model.max_chunk());
    for start in (0..n).step_by(chunk) {
        let count = chunk.min(n - start);
        let slice = &images[start * per_image..(start + count) * per_image];
        let x = Tensor::from_slice(gpu, slice, &[count, h, w, c]);
        let (y, _) = model.forward(&x, &step, false, false);
        gpu.copy(
            &y.binding(),
            &outputs.view(start * classes, &[count, classes]).binding(),
        );
        gpu.submit();
    }
    outputs.to_vec(gpu).await
}

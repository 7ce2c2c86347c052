//! Softmax + sparse categorical cross-entropy, fused (loss.wgsl), and the metrics reduced on the
//! GPU from its outputs.

use crate::gpu::{Gpu, Kernel};
use crate::tensor::Tensor;

/// Uniform of loss.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LossParams {
    batch: u32,
    classes: u32,
    scale: f32,
    pad: u32,
}

/// Outputs of the fused loss for one batch.
pub struct LossOutput {
    /// Per-sample loss `[batch]`.
    pub loss: Tensor,
    /// Gradient of the mean loss wrt the logits `[batch, classes]`.
    pub dlogits: Tensor,
    /// Predicted class (first argmax) `[batch]`, u32.
    pub pred: Tensor,
}

fn params(batch: usize, classes: usize, scale: f32) -> LossParams {
    LossParams {
        batch: batch as u32,
        classes: classes as u32,
        scale,
        pad: 0,
    }
}

/// Loss, logits gradient and predictions for logits `[batch, classes]` and u32 labels `[batch]`.
/// The gradient is that of the loss summed over this batch and divided by `mean_over` (the
/// batch size, or the full batch when this is one chunk of a split batch).
pub fn softmax_cross_entropy(
    gpu: &Gpu,
    logits: &Tensor,
    labels: &Tensor,
    mean_over: usize,
) -> LossOutput {
    let batch = labels.len();
    let classes = logits.len() / batch;
    let out = LossOutput {
        loss: Tensor::empty(gpu, &[batch]),
        dlogits: Tensor::empty(gpu, &[batch, classes]),
        pred: Tensor::empty(gpu, &[batch]),
    };
    let kernel = Kernel::new("loss", "softmax_ce").define("SOFTMAX_CE", 1);
    let storage = [
        logits.binding(),
        labels.binding(),
        out.loss.binding(),
        out.dlogits.binding(),
        out.pred.binding(),
    ];
    let scale = 1.0 / mean_over as f32;
    gpu.dispatch(
        &kernel,
        &params(batch, classes, scale),
        &storage,
        gpu.grid_elements(batch),
    );
    out
}

/// Adds this batch's loss sum, correct count and sample count to `metrics` `[3]`.
pub fn accumulate_metrics(gpu: &Gpu, out: &LossOutput, labels: &Tensor, metrics: &Tensor) {
    let kernel = Kernel::new("loss", "metrics_sum").define("METRICS", 1);
    let storage = [
        out.loss.binding(),
        out.pred.binding(),
        labels.binding(),
        metrics.binding(),
    ];
    gpu.dispatch(&kernel, &params(labels.len(), 0, 0.0), &storage, [1, 1, 1]);
}

/// Counts (label, prediction) pairs into the u32 confusion matrix `[classes, classes]`.
pub fn accumulate_confusion(gpu: &Gpu, pred: &Tensor, labels: &Tensor, confusion: &Tensor) {
    let classes = (confusion.len() as f64).sqrt() as usize;
    let kernel = Kernel::new("loss", "confusion_count").define("CONFUSION", 1);
    let storage = [pred.binding(), labels.binding(), confusion.binding()];
    let grid = gpu.grid_elements(labels.len());
    gpu.dispatch(&kernel, &params(labels.len(), classes, 0.0), &storage, grid);
}

//! Throughput measurements shared by the native benchmark (`cargo bench --bench train`) and the
//! browser harness (`bench/browser/`, through `src/wasm/bench.rs`): the adapter's FMA peak
//! (shaders/peak.wgsl), the GFLOP/s of the conv and matmul kernels, and a seed-cnn training
//! loop with per-step GPU synchronisation. Every timing waits for the GPU to finish by awaiting
//! a readback, so it works the same way natively and on the web.

use std::rc::Rc;

use crate::json::to_json;

use crate::clock;
use crate::data::Dataset;
use crate::gpu::{Gpu, Kernel};
use crate::model::{Model, ModelConfig};
use crate::ops::{conv, matmul, Activation, Conv2dGeometry, Conv2dSpec, Padding};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::tensor::Tensor;
use crate::train::{RunOutcome, Session, TrainConfig};
use crate::{Error, Result};

/// Most repetitions of one timed kernel, however fast it is.
const MAX_REPS: usize = 50;
/// Maximum repetitions recorded between two waits for the GPU.
const MAX_BATCH: usize = 16;
/// Seconds that a batch of repetitions aims at, so that waiting for the GPU (a readback's round
/// trip) adds little to each repetition.
const BATCH_SECONDS: f64 = 0.05;

/// GFLOP/s of one conv shape's three kernels.
#[derive(Clone, Debug)]
pub struct ConvReport {
    /// Shape, e.g. `conv1 64x28x28x1 -> 32` (batch x height x width x channels -> filters).
    pub shape: String,
    /// Forward pass with bias and ReLU.
    pub forward: f64,
    /// Gradient with respect to the input.
    pub input_grad: f64,
    /// Gradient with respect to the filters.
    pub filter_grad: f64,
}

to_json!(ConvReport {
    shape,
    forward,
    input_grad,
    filter_grad,
});

/// Kernel throughput on one adapter, in GFLOP/s.
#[derive(Clone, Debug)]
pub struct KernelReport {
    /// Adapter name as wgpu reports it.
    pub adapter: String,
    /// Throughput of the FMA-bound shaders/peak.wgsl, the higher of two measurements.
    pub fma_peak_gflops: f64,
    /// Conv kernels on each measured shape.
    pub conv: Vec<ConvReport>,
    /// Side of the square matmul (1024 in a full run).
    pub matmul_size: usize,
    /// Throughput of the `matmul_size`^3 matmul.
    pub matmul_gflops: f64,
}

to_json!(KernelReport {
    adapter,
    fma_peak_gflops,
    conv,
    matmul_size,
    matmul_gflops,
});

/// Runs `record` (which records GPU work) once to compile its pipelines, then repeatedly until
/// `min_seconds` have passed (at least once, at most [`MAX_REPS`] times), in batches that wait
/// for the GPU once. Returns seconds per call.
pub async fn time_gpu(gpu: &Gpu, min_seconds: f64, mut record: impl FnMut()) -> Result<f64> {
    let sync = Tensor::empty(gpu, &[1]);
    record();
    gpu.read_words::<f32>(&sync.binding()).await?;

    let start = clock::now_seconds();
    record();
    gpu.read_words::<f32>(&sync.binding()).await?;
    let once = clock::now_seconds() - start;
    let batch = ((BATCH_SECONDS / once).ceil() as usize).clamp(1, MAX_BATCH);

    let start = clock::now_seconds();
    let mut reps = 0;
    while reps == 0 || (clock::now_seconds() - start < min_seconds && reps < MAX_REPS) {
        for _ in 0..batch {
            record();
        }
        gpu.read_words::<f32>(&sync.binding()).await?;
        reps += batch;
    }
    let seconds = (clock::now_seconds() - start) / reps as f64;
    log::debug!("timed {reps} runs: {:.1} ms each", seconds * 1e3);
    Ok(seconds)
}

/// FMA throughput of shaders/peak.wgsl in GFLOP/s.
pub async fn fma_peak(gpu: &Gpu, min_seconds: f64) -> Result<f64> {
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct PeakParams([u32; 4]);
    let (groups, iterations) = (256u32, 2048u32);
    let out = Tensor::empty(gpu, &[groups as usize * 64]);
    let kernel = Kernel::new("peak", "peak");
    let params = PeakParams([iterations, 0, 0, 0]);
    let seconds = time_gpu(gpu, min_seconds, || {
        gpu.dispatch(&kernel, &params, &[out.binding()], [groups, 1, 1])
    })
    .await?;
    let flops = groups as f64 * 64.0 * iterations as f64 * 8.0 * 4.0 * 2.0;
    Ok(flops / seconds / 1e9)
}

/// Deterministic values in [-1, 1).
fn pattern(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

/// GFLOP/s of forward, input gradient and filter gradient for one conv shape.
pub async fn conv_throughput(gpu: &Gpu, g: &Conv2dGeometry, min_seconds: f64) -> Result<[f64; 3]> {
    let x = Tensor::from_slice(gpu, &pattern(g.input_len()), &[g.input_len()]);
    let w = Tensor::from_slice(gpu, &pattern(g.weight_len()), &[g.weight_len()]);
    let b = Tensor::from_slice(gpu, &pattern(g.out_c), &[g.out_c]);
    let dy = Tensor::from_slice(gpu, &pattern(g.output_len()), &[g.output_len()]);
    let dw = Tensor::empty(gpu, &[g.weight_len()]);
    let forward = time_gpu(gpu, min_seconds, || {
        conv::conv2d_forward(gpu, g, &x, &w, &b, Activation::Relu);
    })
    .await?;
    let input_grad = time_gpu(gpu, min_seconds, || {
        conv::conv2d_backward_input(gpu, g, &dy, &w);
    })
    .await?;
    let filter_grad = time_gpu(gpu, min_seconds, || {
        conv::conv2d_backward_filter(gpu, g, &x, &dy, &dw, false);
    })
    .await?;
    let flops = 2.0 * g.macs() as f64;
    Ok([forward, input_grad, filter_grad].map(|s| flops / s / 1e9))
}

/// GFLOP/s of an `n`x`n` by `n`x`n` matmul.
pub async fn matmul_throughput(gpu: &Gpu, n: usize, min_seconds: f64) -> Result<f64> {
    let a = Tensor::from_slice(gpu, &pattern(n * n), &[n * n]);
    let b = Tensor::from_slice(gpu, &pattern(n * n), &[n * n]);
    let c = Tensor::empty(gpu, &[n * n]);
    let seconds = time_gpu(gpu, min_seconds, || {
        matmul::matmul_into(gpu, &a, &b, &c, [n, n, n], false, false, false)
    })
    .await?;
    Ok(2.0 * (n as f64).powi(3) / seconds / 1e9)
}

/// Returns the conv shapes of the benchmark: the seed CNN's two layers at batch 64 and, unless
/// `quick`, a 1x256x256x64 input with 128 3x3 filters.
pub fn conv_shapes(quick: bool) -> Vec<(&'static str, Conv2dGeometry)> {
    let spec = |filters| Conv2dSpec {
        kernel: [3, 3],
        filters,
        stride: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let mut shapes = vec![
        ("conv1 64x28x28x1 -> 32", (64, 28, 1, 32)),
        ("conv2 64x13x13x32 -> 64", (64, 13, 32, 64)),
    ];
    if !quick {
        shapes.push(("large 1x256x256x64 -> 128", (1, 256, 64, 128)));
    }
    shapes
        .into_iter()
        .map(|(name, (n, side, c, f))| {
            let g = Conv2dGeometry::new(n, side, side, c, &spec(f)).expect("valid bench shape");
            (name, g)
        })
        .collect()
}

/// Measures the FMA peak, the conv kernels on [`conv_shapes`] and a matmul (1024^3, or 256^3
/// when `quick`), each timed for at least `min_seconds`. The peak is measured before and after
/// the kernels and the higher figure kept, so a busy spell on a shared machine lowers it less.
pub async fn kernel_report(gpu: &Gpu, quick: bool, min_seconds: f64) -> Result<KernelReport> {
    let peak_before = fma_peak(gpu, min_seconds).await?;
    let mut convs = Vec::new();
    for (name, g) in conv_shapes(quick) {
        let [forward, input_grad, filter_grad] = conv_throughput(gpu, &g, min_seconds).await?;
        convs.push(ConvReport {
            shape: name.to_string(),
            forward,
            input_grad,
            filter_grad,
        });
    }
    let matmul_size = if quick { 256 } else { 1024 };
    let matmul_gflops = matmul_throughput(gpu, matmul_size, min_seconds).await?;
    let peak_after = fma_peak(gpu, min_seconds).await?;
    Ok(KernelReport {
        adapter: gpu.info.name.clone(),
        fma_peak_gflops: peak_before.max(peak_after),
        conv: convs,
        matmul_size,
        matmul_gflops,
    })
}

/// Time of one dispatch of a training step, replayed on its own.
#[derive(Clone, Debug)]
pub struct DispatchTime {
    /// Module, entry point and grid of the dispatch (see [`crate::gpu::CapturedDispatch`]).
    pub kernel: String,
    /// Milliseconds per run, less the time of a submit and readback with no dispatch.
    pub ms: f64,
}

to_json!(DispatchTime { kernel, ms });

/// Result of one [`TrainingBench::train`] call: the mean loss of its steps and the device's
/// counters.
#[derive(Clone, Debug)]
pub struct TrainingSample {
    /// Mean training loss over the steps of this call.
    pub loss: f64,
    /// Steps run so far.
    pub steps: usize,
    /// Compute dispatches recorded since the device was created.
    pub dispatches: u64,
    /// Command buffers submitted since the device was created.
    pub submits: u64,
    /// Buffers read back since the device was created.
    pub readbacks: u64,
}

to_json!(TrainingSample {
    loss,
    steps,
    dispatches,
    submits,
    readbacks,
});

/// Trains the seed CNN (the Keras MNIST CNN) with Adam at its defaults, without a validation
/// split, and waits for the GPU after every call.
pub struct TrainingBench {
    session: Session,
    /// Steps run so far.
    steps: usize,
}

impl TrainingBench {
    /// Builds the model on `gpu` (seeded weights and shuffling) for training on `data`.
    pub fn new(gpu: Rc<Gpu>, data: &Dataset, batch_size: usize, seed: u64) -> Result<Self> {
        let model = Model::new(gpu, ModelConfig::preset("seed-cnn")?, seed)?;
        let optimizer = Optimizer::new(&model, OptimizerConfig::default())?;
        let config = TrainConfig {
            epochs: 1,
            batch_size,
            validation_split: 0.0,
            seed,
            shuffle: true,
        };
        let session = Session::new(model, optimizer, data, &config)?;
        Ok(Self { session, steps: 0 })
    }

    /// Full batches in the epoch, the most steps this benchmark runs.
    pub fn max_steps(&self) -> usize {
        self.session.steps_per_epoch() - 1
    }

    /// Records `steps` training steps, submits them and awaits the metrics readback, which
    /// completes when the GPU has finished them. Errors when the steps would run past the
    /// epoch's last full batch.
    pub async fn train(&mut self, steps: usize) -> Result<TrainingSample> {
        let remaining = self.max_steps() - self.steps;
        if remaining == 0 {
            return Err(Error::Config(format!(
                "all {} full batches of the epoch have run; start a new training benchmark",
                self.max_steps()
            )));
        }
        if steps == 0 || steps > remaining {
            return Err(Error::Config(format!(
                "invalid step count {steps}: {remaining} of the epoch's {} full batches are \
                 left; request 1 to {remaining} steps",
                self.max_steps()
            )));
        }
        let RunOutcome::Steps { batches } = self.session.run(steps).await? else {
            panic!("the epoch ended early");
        };
        self.steps += steps;
        // Every batch is full, so the mean of the batch losses is the mean over the examples.
        let loss = batches.iter().map(|batch| batch.loss).sum::<f64>() / steps as f64;
        let gpu = self.session.model().gpu();
        let (dispatches, submits) = gpu.counters();
        Ok(TrainingSample {
            loss,
            steps: self.steps,
            dispatches,
            submits,
            readbacks: gpu.readbacks(),
        })
    }

    /// Runs one training step while capturing its dispatches, then times each dispatch replayed
    /// on its own for at least `min_seconds`, in step order. The replays change the weights.
    pub async fn profile(&mut self, min_seconds: f64) -> Result<Vec<DispatchTime>> {
        let gpu = self.session.model().gpu().clone();
        gpu.start_capture();
        let step = self.train(1).await;
        let captured = gpu.finish_capture();
        step?;
        let overhead = time_gpu(&gpu, min_seconds, || {}).await?;
        let mut times = Vec::with_capacity(captured.len());
        for dispatch in &captured {
            let seconds = time_gpu(&gpu, min_seconds, || gpu.replay(dispatch)).await?;
            times.push(DispatchTime {
                kernel: dispatch.label.clone(),
                ms: (seconds - overhead).max(0.0) * 1e3,
            });
        }
        Ok(times)
    }
}

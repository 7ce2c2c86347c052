//! Benchmarks (not timed tests): the adapter's FMA peak, GFLOP/s of each conv kernel on the seed
//! CNN's layers at batch 64, a 1024^3 matmul, and examples/s of training the seed CNN.
//!
//! Run: `cargo bench --bench train` (add `-- --json` for one JSON line at the end).

use std::rc::Rc;
use std::time::Instant;

use webcnn::data::embedded_mnist;
use webcnn::gpu::{Gpu, GpuOptions, Kernel};
use webcnn::model::{Model, ModelConfig};
use webcnn::ops::{conv, matmul, Activation, Conv2dGeometry, Conv2dSpec, Padding};
use webcnn::optim::{Optimizer, OptimizerConfig};
use webcnn::tensor::Tensor;
use webcnn::train::{Session, TrainConfig};

/// Runs `record` (which records GPU work) `reps` times after one warm-up and returns seconds per
/// repetition, waiting for the GPU each time.
fn time_gpu(gpu: &Gpu, reps: usize, mut record: impl FnMut()) -> f64 {
    let wait = |gpu: &Gpu| {
        gpu.submit();
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("GPU finished");
    };
    record();
    wait(gpu);
    let start = Instant::now();
    for _ in 0..reps {
        record();
        wait(gpu);
    }
    start.elapsed().as_secs_f64() / reps as f64
}

/// FMA throughput of peak.wgsl in GFLOP/s.
fn fma_peak(gpu: &Gpu) -> f64 {
    #[repr(C)]
    #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    struct PeakParams([u32; 4]);
    let (groups, iterations) = (256u32, 2048u32);
    let out = Tensor::empty(gpu, &[groups as usize * 64]);
    let kernel = Kernel::new("peak", "peak");
    let params = PeakParams([iterations, 0, 0, 0]);
    let seconds = time_gpu(gpu, 3, || {
        gpu.dispatch(&kernel, &params, &[out.binding()], [groups, 1, 1])
    });
    let flops = groups as f64 * 64.0 * iterations as f64 * 8.0 * 4.0 * 2.0;
    flops / seconds / 1e9
}

fn random(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

/// GFLOP/s of forward, input gradient and filter gradient for one conv shape.
fn conv_kernels(gpu: &Gpu, g: &Conv2dGeometry) -> [f64; 3] {
    let x = Tensor::from_slice(gpu, &random(g.input_len()), &[g.input_len()]);
    let w = Tensor::from_slice(gpu, &random(g.weight_len()), &[g.weight_len()]);
    let b = Tensor::from_slice(gpu, &random(g.out_c), &[g.out_c]);
    let dy = Tensor::from_slice(gpu, &random(g.output_len()), &[g.output_len()]);
    let dw = Tensor::empty(gpu, &[g.weight_len()]);
    let flops = 2.0 * g.macs() as f64;
    let reps = 5;
    let forward = time_gpu(gpu, reps, || {
        conv::conv2d_forward(gpu, g, &x, &w, &b, Activation::Relu);
    });
    let input_grad = time_gpu(gpu, reps, || {
        conv::conv2d_backward_input(gpu, g, &dy, &w);
    });
    let filter_grad = time_gpu(gpu, reps, || {
        conv::conv2d_backward_filter(gpu, g, &x, &dy, &dw, false);
    });
    [forward, input_grad, filter_grad].map(|s| flops / s / 1e9)
}

fn matmul_gflops(gpu: &Gpu, n: usize) -> f64 {
    let a = Tensor::from_slice(gpu, &random(n * n), &[n * n]);
    let b = Tensor::from_slice(gpu, &random(n * n), &[n * n]);
    let c = Tensor::empty(gpu, &[n * n]);
    let seconds = time_gpu(gpu, 2, || {
        matmul::matmul_into(gpu, &a, &b, &c, [n, n, n], false, false, false)
    });
    2.0 * (n * n * n) as f64 / seconds / 1e9
}

/// Examples per second of seed-cnn training (Adam, batch 64) over `steps` steps after a warm-up.
fn training_speed(gpu: Rc<Gpu>, steps: usize) -> f64 {
    let data = embedded_mnist().expect("embedded digits").train;
    let model = Model::new(gpu, ModelConfig::preset("seed-cnn").unwrap(), 1).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let config = TrainConfig {
        epochs: 1,
        batch_size: 64,
        validation_split: 0.0,
        seed: 1,
        shuffle: true,
    };
    let mut session = Session::new(model, optimizer, &data, &config).unwrap();
    pollster::block_on(session.run(2)).unwrap();
    pollster::block_on(session.progress()).unwrap();
    let start = Instant::now();
    pollster::block_on(session.run(steps)).unwrap();
    pollster::block_on(session.progress()).unwrap();
    (steps * 64) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("GPU adapter"));
    println!("adapter: {} ({:?})", gpu.info.name, gpu.info.backend);

    let peak = fma_peak(&gpu);
    println!("FMA peak: {peak:.1} GFLOP/s");

    let spec = |filters| Conv2dSpec {
        kernel: [3, 3],
        filters,
        stride: [1, 1],
        dilation: [1, 1],
        padding: Padding::Valid,
    };
    let shapes = [
        (
            "conv1 64x28x28x1 -> 32",
            Conv2dGeometry::new(64, 28, 28, 1, &spec(32)).unwrap(),
        ),
        (
            "conv2 64x13x13x32 -> 64",
            Conv2dGeometry::new(64, 13, 13, 32, &spec(64)).unwrap(),
        ),
        (
            "large 1x256x256x64 -> 128",
            Conv2dGeometry::new(1, 256, 256, 64, &spec(128)).unwrap(),
        ),
    ];
    let mut kernels = Vec::new();
    println!(
        "{:<28} {:>10} {:>10} {:>10}   (GFLOP/s, % of peak)",
        "conv", "forward", "input grad", "filter grad"
    );
    for (name, g) in &shapes {
        let r = conv_kernels(&gpu, g);
        println!(
            "{name:<28} {:>10} {:>10} {:>10}",
            format!("{:.1} {:.0}%", r[0], 100.0 * r[0] / peak),
            format!("{:.1} {:.0}%", r[1], 100.0 * r[1] / peak),
            format!("{:.1} {:.0}%", r[2], 100.0 * r[2] / peak),
        );
        kernels.push(serde_json::json!({"shape": name, "forward": r[0], "input_grad": r[1], "filter_grad": r[2]}));
    }
    let mm = matmul_gflops(&gpu, 1024);
    println!(
        "matmul 1024^3: {mm:.1} GFLOP/s ({:.0}% of peak)",
        100.0 * mm / peak
    );

    let speed = training_speed(gpu.clone(), 30);
    let (dispatches, submits) = gpu.counters();
    println!("seed-cnn training, batch 64, Adam: {speed:.0} examples/s");
    println!("dispatches so far {dispatches}, submits {submits}");
    if json {
        let summary = serde_json::json!({
            "adapter": gpu.info.name,
            "fma_peak_gflops": peak,
            "conv": kernels,
            "matmul_1024_gflops": mm,
            "train_examples_per_second": speed,
        });
        println!("{summary}");
    }
}

//! Benchmarks (not timed tests): the adapter's FMA peak, GFLOP/s of each conv kernel on the seed
//! CNN's layers at batch 64 and on a larger shape, a 1024^3 matmul, and examples/s of training
//! the seed CNN. The measurements are those of `webcnn::bench`, which the browser harness
//! (bench/browser/) runs on the browser's adapter.
//!
//! Run: `cargo bench --bench train` (add `-- --json` for one JSON line at the end).

use std::rc::Rc;
use std::time::Instant;

use webcnn::bench::{kernel_report, TrainingBench};
use webcnn::data::embedded_mnist;
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::json::{self, Object};

/// Seconds each kernel measurement runs for at least.
const MIN_SECONDS: f64 = 1.0;
/// Batch size of the training measurement.
const BATCH: usize = 64;

/// Examples per second of seed-cnn training (Adam, batch 64) over `steps` steps after a warm-up
/// of 2 steps, each call waiting for the GPU.
fn training_speed(gpu: Rc<Gpu>, steps: usize) -> f64 {
    let data = embedded_mnist().expect("embedded digits").train;
    let mut bench = TrainingBench::new(gpu, &data, BATCH, 1).expect("training benchmark");
    pollster::block_on(bench.train(2)).expect("warm-up steps");
    let start = Instant::now();
    pollster::block_on(bench.train(steps)).expect("timed steps");
    (steps * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("GPU adapter"));
    println!("adapter: {} ({:?})", gpu.info.name, gpu.info.backend);

    let report = pollster::block_on(kernel_report(&gpu, false, MIN_SECONDS)).expect("kernels");
    let peak = report.fma_peak_gflops;
    println!("FMA peak: {peak:.1} GFLOP/s");
    println!(
        "{:<28} {:>10} {:>10} {:>10}   (GFLOP/s, % of peak)",
        "conv", "forward", "input grad", "filter grad"
    );
    let cell = |gflops: f64| format!("{gflops:.1} {:.0}%", 100.0 * gflops / peak);
    for conv in &report.conv {
        println!(
            "{:<28} {:>10} {:>10} {:>10}",
            conv.shape,
            cell(conv.forward),
            cell(conv.input_grad),
            cell(conv.filter_grad)
        );
    }
    println!(
        "matmul {}^3: {:.1} GFLOP/s ({:.0}% of peak)",
        report.matmul_size,
        report.matmul_gflops,
        100.0 * report.matmul_gflops / peak
    );

    let speed = training_speed(gpu.clone(), 30);
    let (dispatches, submits) = gpu.counters();
    println!("seed-cnn training, batch {BATCH}, Adam: {speed:.0} examples/s");
    println!("dispatches so far {dispatches}, submits {submits}");
    if json {
        let summary = Object(&[
            ("adapter", &report.adapter),
            ("fma_peak_gflops", &peak),
            ("conv", &report.conv),
            ("matmul_1024_gflops", &report.matmul_gflops),
            ("train_examples_per_second", &speed),
        ]);
        println!("{}", json::to_string(&summary));
    }
}

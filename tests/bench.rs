//! The benchmark measurements (`webcnn::bench`) that `cargo bench --bench train` and the browser
//! harness share: they run on the real device, count what the training step does, and reject a
//! run that would leave the epoch.

mod common;

use std::rc::Rc;

use webcnn::bench::{kernel_report, TrainingBench};
use webcnn::data::embedded_mnist;

#[test]
fn quick_kernel_report_measures_every_kernel() {
    let gpu = common::gpu();
    let report = pollster::block_on(kernel_report(&gpu, true, 0.0)).expect("kernel report");
    assert!(
        report.fma_peak_gflops > 0.0,
        "FMA peak {}",
        report.fma_peak_gflops
    );
    assert_eq!(report.conv.len(), 2, "the seed CNN's two conv shapes");
    for conv in &report.conv {
        for value in [conv.forward, conv.input_grad, conv.filter_grad] {
            assert!(value > 0.0, "{}: {value}", conv.shape);
            assert!(value.is_finite(), "{}: {value}", conv.shape);
        }
    }
    assert_eq!(report.matmul_size, 256);
    assert!(
        report.matmul_gflops > 0.0,
        "matmul {}",
        report.matmul_gflops
    );
}

#[test]
fn training_bench_counts_steps_and_readbacks() {
    let gpu = Rc::new(common::gpu());
    let indices: Vec<usize> = (0..256).collect();
    let data = embedded_mnist()
        .expect("embedded digits")
        .train
        .subset(&indices);
    let mut bench = TrainingBench::new(gpu, &data, 64, 1).expect("training bench");
    assert_eq!(
        bench.max_steps(),
        3,
        "4 batches of 64, the last one kept out"
    );

    let error = pollster::block_on(bench.train(4)).unwrap_err().to_string();
    assert!(error.contains("request 1 to 3 steps"), "{error}");
    let first = pollster::block_on(bench.train(1)).expect("one step");
    let second = pollster::block_on(bench.train(2)).expect("two steps");
    assert_eq!(second.steps, 3);
    assert!(
        first.loss > 1.5 && first.loss < 3.0,
        "first loss {}",
        first.loss
    );
    assert!(second.loss.is_finite(), "loss {}", second.loss);
    assert_eq!(
        second.readbacks - first.readbacks,
        1,
        "one readback per call"
    );
    let dispatches = (second.dispatches - first.dispatches) / 2;
    assert!(dispatches >= 10, "{dispatches} dispatches per step");

    let error = pollster::block_on(bench.train(1)).unwrap_err().to_string();
    assert!(error.contains("all 3 full batches"), "{error}");
}

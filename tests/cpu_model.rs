//! The CPU training path against the GPU path (lavapipe natively): initial weights, training
//! steps, predictions and model files, plus a CPU training smoke test on the embedded digits.

mod common;

use std::rc::Rc;

use webcnn::cpu::{self, CpuModel, CpuSession};
use webcnn::data::{embedded_mnist, Dataset};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::io;
use webcnn::model::{Model, ModelConfig};
use webcnn::ops::augment::AugmentConfig;
use webcnn::optim::{Optimizer, OptimizerConfig};
use webcnn::reference;
use webcnn::train::{self, EpochReport, RunOutcome, Session, TrainConfig};

/// Relative tolerance of CPU against GPU values.
const RELATIVE: f64 = 1e-5;

/// Absolute floor of the tolerance for outputs and SGD parameters, which start near 0 (biases
/// start at 0). The largest observed differences are 7.5e-8 (outputs) and 6e-8 (SGD).
const ABSOLUTE: f64 = 1e-6;

/// Absolute floor of the tolerance for Adam parameters: 2% of Adam's learning rate (1e-3 here).
/// Adam moves a parameter by up to its learning rate whatever the gradient's size, so a gradient
/// near epsilon (1e-7), whose last bits depend on the summation order, moves it differently by
/// a fraction of a step. The largest observed difference is 8.2e-6 (lenet5).
const ADAM_ABSOLUTE: f64 = 2e-5;

fn gpu() -> Rc<Gpu> {
    Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU adapter"))
}

/// Returns the first `n` embedded training digits.
fn digits(n: usize) -> Dataset {
    let split = embedded_mnist().expect("embedded digits");
    let indices: Vec<usize> = (0..n).collect();
    split.train.subset(&indices)
}

/// A model with what the presets leave out: a frozen layer between trainable ones (so the
/// gradient flows through it), "same" padding, stride 2, average pooling, a standalone
/// activation and, with `dropout`, a dropout layer.
fn mixed_config(dropout: bool) -> ModelConfig {
    let rate = if dropout { 0.4 } else { 0.0 };
    let text = format!(
        r#"{{"input_shape": [28, 28, 1], "layers": [
            {{"type": "conv2d", "filters": 6, "kernel_size": [3, 3], "padding": "same",
              "activation": "relu"}},
            {{"type": "conv2d", "filters": 8, "kernel_size": [4, 4], "strides": [2, 2],
              "padding": "same", "activation": "tanh", "trainable": false}},
            {{"type": "avg_pool2d", "pool_size": [3, 3], "strides": [2, 2], "padding": "same"}},
            {{"type": "flatten"}},
            {{"type": "dense", "units": 24}},
            {{"type": "activation", "activation": "sigmoid"}},
            {{"type": "dropout", "rate": {rate}}},
            {{"type": "dense", "units": 10, "activation": "softmax"}}
        ]}}"#
    );
    ModelConfig::from_json(&text).expect("a valid config")
}

/// Separable blocks as the tiny face detector builds them: a depthwise convolution (stride 2,
/// depth multiplier 2, odd "same" padding) followed by a 1x1 conv2d, with leaky ReLU.
fn separable_config() -> ModelConfig {
    let leaky = r#"{"leaky_relu": {"alpha": 0.1}}"#;
    let text = format!(
        r#"{{"input_shape": [28, 28, 1], "layers": [
            {{"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "activation": {leaky}}},
            {{"type": "depthwise_conv2d", "kernel_size": [3, 3], "depth_multiplier": 2,
              "strides": [2, 2], "padding": "same"}},
            {{"type": "conv2d", "filters": 6, "kernel_size": [1, 1], "activation": {leaky}}},
            {{"type": "max_pool2d", "pool_size": [2, 2], "padding": "same"}},
            {{"type": "depthwise_conv2d", "kernel_size": [3, 3], "padding": "same",
              "activation": "tanh"}},
            {{"type": "flatten"}},
            {{"type": "dense", "units": 12, "activation": {leaky}}},
            {{"type": "dense", "units": 10, "activation": "softmax"}}
        ]}}"#
    );
    ModelConfig::from_json(&text).expect("a valid config")
}

/// The configs every comparison runs on, by name.
fn configs() -> Vec<(&'static str, ModelConfig)> {
    vec![
        ("seed-cnn", ModelConfig::preset("seed-cnn").unwrap()),
        ("lenet5", ModelConfig::preset("lenet5").unwrap()),
        ("mixed", mixed_config(false)),
        ("separable", separable_config()),
    ]
}

/// The optimizers every training comparison runs with, by name, with the absolute floor of the
/// tolerance on the parameters they update.
fn optimizers() -> Vec<(&'static str, OptimizerConfig, f64)> {
    vec![
        ("adam", OptimizerConfig::default(), ADAM_ABSOLUTE),
        (
            "sgd momentum",
            OptimizerConfig::Sgd {
                learning_rate: 0.05,
                momentum: 0.9,
            },
            ABSOLUTE,
        ),
    ]
}

fn settings(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        validation_split: 0.0,
        seed: 11,
        shuffle: false,
    }
}

fn gpu_weights(model: &Model) -> io::Weights {
    pollster::block_on(model.weights()).expect("weights readback")
}

/// Trains on the GPU until every epoch has run; returns the weights and the epoch reports.
fn train_gpu(
    gpu: &Rc<Gpu>,
    config: &ModelConfig,
    optimizer: &OptimizerConfig,
    data: &Dataset,
    settings: &TrainConfig,
) -> (io::Weights, Vec<EpochReport>) {
    let model = Model::new(gpu.clone(), config.clone(), 7).unwrap();
    let optimizer = Optimizer::new(&model, optimizer.clone()).unwrap();
    let mut session = Session::new(model, optimizer, data, settings).unwrap();
    while pollster::block_on(session.run(usize::MAX)).unwrap() != RunOutcome::Done {}
    (gpu_weights(session.model()), session.reports().to_vec())
}

/// Trains on the CPU until every epoch has run.
fn train_cpu(
    config: &ModelConfig,
    optimizer: &OptimizerConfig,
    data: &Dataset,
    settings: &TrainConfig,
) -> CpuSession {
    let model = CpuModel::new(config.clone(), 7).unwrap();
    let mut session = CpuSession::new(model, optimizer.clone(), data, settings).unwrap();
    while session.run(usize::MAX).unwrap() != RunOutcome::Done {}
    session
}

/// Largest differences `(absolute, relative)` of `cpu` against `gpu`, after asserting that
/// each element is within `RELATIVE * |gpu| + absolute`.
fn compare(what: &str, cpu: &[f32], gpu: &[f32], absolute: f64) -> (f64, f64) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths differ");
    let (mut max_absolute, mut max_relative) = (0.0f64, 0.0f64);
    for (i, (&c, &g)) in cpu.iter().zip(gpu).enumerate() {
        let (c, g) = (f64::from(c), f64::from(g));
        let difference = (c - g).abs();
        assert!(
            difference <= RELATIVE * g.abs() + absolute,
            "{what}: element {i} is {c} on the CPU and {g} on the GPU"
        );
        max_absolute = max_absolute.max(difference);
        if g != 0.0 {
            max_relative = max_relative.max(difference / g.abs());
        }
    }
    (max_absolute, max_relative)
}

/// Compares every named parameter; returns the largest differences over all of them.
fn compare_weights(what: &str, cpu: &io::Weights, gpu: &io::Weights, absolute: f64) -> (f64, f64) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: parameter counts differ");
    let mut worst = (0.0f64, 0.0f64);
    for ((cpu_name, cpu_shape, cpu_values), (gpu_name, gpu_shape, gpu_values)) in
        cpu.iter().zip(gpu)
    {
        assert_eq!(cpu_name, gpu_name, "{what}: parameter order");
        assert_eq!(cpu_shape, gpu_shape, "{what}: shape of {cpu_name}");
        let what = format!("{what}, {cpu_name}");
        let (max_absolute, max_relative) = compare(&what, cpu_values, gpu_values, absolute);
        worst = (worst.0.max(max_absolute), worst.1.max(max_relative));
    }
    worst
}

fn assert_reports_match(what: &str, cpu: &[EpochReport], gpu: &[EpochReport]) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: epoch counts differ");
    for (c, g) in cpu.iter().zip(gpu) {
        assert!(
            (c.loss - g.loss).abs() <= RELATIVE * g.loss.abs(),
            "{what}, epoch {}: loss {} on the CPU and {} on the GPU",
            g.epoch,
            c.loss,
            g.loss
        );
        assert_eq!(
            c.accuracy, g.accuracy,
            "{what}, epoch {}: accuracy",
            g.epoch
        );
        assert_eq!(c.val_accuracy, g.val_accuracy, "{what}, epoch {}", g.epoch);
    }
}

#[test]
fn initial_weights_equal_gpu() {
    let gpu = gpu();
    for (name, config) in configs() {
        let on_gpu = Model::new(gpu.clone(), config.clone(), 21).unwrap();
        let on_cpu = CpuModel::new(config, 21).unwrap();
        assert_eq!(on_cpu.weights(), gpu_weights(&on_gpu), "{name}");
        assert_eq!(on_cpu.classes(), on_gpu.classes(), "{name}");
        assert_eq!(on_cpu.parameter_count(), on_gpu.parameter_count(), "{name}");
    }
}

/// Trains `config` for `epochs` steps on one batch of 12 digits, on both devices, with every
/// optimizer, and compares the parameters and the epoch reports.
fn check_steps_on_one_batch(config_name: &str, config: &ModelConfig, epochs: usize) {
    let gpu = gpu();
    let data = digits(12);
    let settings = settings(epochs, 12);
    for (optimizer_name, optimizer, absolute) in optimizers() {
        let what = format!("{config_name}, {optimizer_name}, {epochs} steps");
        let cpu = train_cpu(config, &optimizer, &data, &settings);
        let (gpu_weights, gpu_reports) = train_gpu(&gpu, config, &optimizer, &data, &settings);
        let cpu_weights = cpu.model().weights();
        let (max_absolute, max_relative) =
            compare_weights(&what, &cpu_weights, &gpu_weights, absolute);
        eprintln!(
            "{what}: max difference {max_absolute:.2e} absolute, {max_relative:.2e} relative"
        );
        assert_reports_match(&what, cpu.reports(), &gpu_reports);
    }
}

#[test]
fn one_step_matches_gpu() {
    for (name, config) in configs() {
        check_steps_on_one_batch(name, &config, 1);
    }
}

#[test]
fn three_steps_match_gpu() {
    for (name, config) in configs() {
        check_steps_on_one_batch(name, &config, 3);
    }
}

#[test]
fn augmented_steps_match_gpu() {
    let gpu = gpu();
    let data = digits(12);
    let settings = settings(3, 12);
    let config = mixed_config(false);
    let (_, optimizer, absolute) = optimizers().remove(0);
    let augment = AugmentConfig {
        rotation_degrees: 15.0,
        translation_pixels: 2.0,
        scale: 0.1,
        flip: true,
        brightness: 0.2,
    };

    let model = Model::new(gpu.clone(), config.clone(), 7).unwrap();
    let gpu_optimizer = Optimizer::new(&model, optimizer.clone()).unwrap();
    let mut gpu_session = Session::new(model, gpu_optimizer, &data, &settings).unwrap();
    gpu_session.set_augment(augment).unwrap();
    while pollster::block_on(gpu_session.run(usize::MAX)).unwrap() != RunOutcome::Done {}

    let model = CpuModel::new(config.clone(), 7).unwrap();
    let mut cpu_session = CpuSession::new(model, optimizer.clone(), &data, &settings).unwrap();
    cpu_session.set_augment(augment).unwrap();
    while cpu_session.run(usize::MAX).unwrap() != RunOutcome::Done {}

    let what = "augmented, 3 steps";
    let gpu_weights = gpu_weights(gpu_session.model());
    compare_weights(what, &cpu_session.model().weights(), &gpu_weights, absolute);
    assert_reports_match(what, cpu_session.reports(), gpu_session.reports());

    // The warp took part: training without it ends elsewhere.
    let plain = train_cpu(&config, &optimizer, &data, &settings);
    let moved = plain
        .model()
        .weights()
        .iter()
        .zip(&gpu_weights)
        .any(|((_, _, a), (_, _, b))| a.iter().zip(b).any(|(x, y)| (x - y).abs() > 1e-3));
    assert!(moved, "augmentation left the weights as without it");
}

#[test]
fn dropout_steps_match_gpu() {
    let config = mixed_config(true);
    check_steps_on_one_batch("dropout", &config, 1);
    check_steps_on_one_batch("dropout", &config, 3);
}

#[test]
fn gradients_match_gpu() {
    let gpu = gpu();
    let data = digits(12);
    let settings = settings(1, 12);
    let optimizer = OptimizerConfig::default();
    for (name, config) in configs() {
        // One GPU step leaves that step's gradients in the gradient arena.
        let model = Model::new(gpu.clone(), config.clone(), 7).unwrap();
        let gpu_optimizer = Optimizer::new(&model, optimizer.clone()).unwrap();
        let mut session = Session::new(model, gpu_optimizer, &data, &settings).unwrap();
        pollster::block_on(session.run(1)).unwrap();
        let model = session.model();
        let gpu_grads = pollster::block_on(model.grads().to_vec(&gpu)).unwrap();

        // The same step on the CPU, from the same initial weights; the step seed of the first
        // step is the session seed.
        let cpu_model = CpuModel::new(config, 7).unwrap();
        let trace = cpu_model.forward_trace(&data.images, data.len(), true, true, 11);
        let (_, dlogits) = reference::softmax_cross_entropy(trace.output(), &data.labels, 10);
        let cpu_grads = cpu_model.backward(&trace, &dlogits);

        // The CPU arena stores the slots back to back, and the GPU arena aligns each one.
        let mut cpu_offset = 0;
        for (index, slot) in model.slots() {
            let what = format!("{name}, gradient of layers.{index}.{}", slot.name);
            let gpu_slot = &gpu_grads[slot.offset..slot.offset + slot.len()];
            let cpu_slot = &cpu_grads[cpu_offset..cpu_offset + slot.len()];
            cpu_offset += slot.len();
            if !model.is_trainable(index) {
                assert!(cpu_slot.iter().all(|&g| g == 0.0), "{what} is not 0");
                continue;
            }
            // Gradients are sums of many f32 products in different orders on the two devices,
            // so they are compared against the largest gradient of the tensor.
            let scale = gpu_slot.iter().fold(0.0f32, |max, g| max.max(g.abs()));
            let (max_absolute, _) = compare(&what, cpu_slot, gpu_slot, 1e-5 * f64::from(scale));
            eprintln!(
                "{what}: max difference {:.2e} of the largest",
                max_absolute / f64::from(scale)
            );
        }
    }
}

#[test]
fn shuffled_ragged_epochs_with_validation_match_gpu() {
    // 50 digits, 10 held out: batches of 16, 16 and 8, shuffled, over two epochs.
    let gpu = gpu();
    let data = digits(50);
    let settings = TrainConfig {
        epochs: 2,
        batch_size: 16,
        validation_split: 0.2,
        seed: 5,
        shuffle: true,
    };
    let config = mixed_config(false);
    let optimizer = OptimizerConfig::default();
    let cpu = train_cpu(&config, &optimizer, &data, &settings);
    assert_eq!(cpu.steps_per_epoch(), 3);
    let (gpu_weights, gpu_reports) = train_gpu(&gpu, &config, &optimizer, &data, &settings);
    let cpu_weights = cpu.model().weights();
    let (max_absolute, max_relative) =
        compare_weights("ragged", &cpu_weights, &gpu_weights, ADAM_ABSOLUTE);
    eprintln!(
        "ragged, 6 steps: max difference {max_absolute:.2e} absolute, {max_relative:.2e} relative"
    );
    assert_reports_match("ragged", cpu.reports(), &gpu_reports);
    let (c, g) = (&cpu.reports()[1], &gpu_reports[1]);
    let (c_loss, g_loss) = (c.val_loss.unwrap(), g.val_loss.unwrap());
    assert!(
        (c_loss - g_loss).abs() <= RELATIVE * g_loss,
        "validation loss {c_loss} on the CPU and {g_loss} on the GPU"
    );
}

#[test]
fn predictions_match_gpu() {
    let gpu = gpu();
    let data = digits(40);
    let images = &data.images[..];
    for (name, config) in configs() {
        let on_gpu = Model::new(gpu.clone(), config.clone(), 3).unwrap();
        let on_cpu = CpuModel::new(config, 3).unwrap();
        let gpu_outputs = pollster::block_on(train::predict(&on_gpu, images, 16)).unwrap();
        let cpu_outputs = cpu::predict(&on_cpu, images, 16).unwrap();
        let (max_absolute, max_relative) = compare(name, &cpu_outputs, &gpu_outputs, ABSOLUTE);
        eprintln!("{name} predict: max difference {max_absolute:.2e} absolute, {max_relative:.2e} relative");

        let gpu_evaluation = pollster::block_on(train::evaluate(&on_gpu, &data, 16)).unwrap();
        let cpu_evaluation = cpu::evaluate(&on_cpu, &data, 16).unwrap();
        assert_eq!(
            cpu_evaluation.predictions, gpu_evaluation.predictions,
            "{name}"
        );
        assert_eq!(cpu_evaluation.confusion, gpu_evaluation.confusion, "{name}");
        assert!(
            (cpu_evaluation.loss - gpu_evaluation.loss).abs() <= RELATIVE * gpu_evaluation.loss,
            "{name}: loss {} on the CPU and {} on the GPU",
            cpu_evaluation.loss,
            gpu_evaluation.loss
        );
    }
}

#[test]
fn model_files_move_between_cpu_and_gpu() {
    let gpu = gpu();
    let data = digits(24);
    let images = &data.images[..8 * 784];
    let settings = settings(1, 8);
    let config = ModelConfig::preset("lenet5").unwrap();
    let optimizer = OptimizerConfig::default();

    // Trained on the CPU, loaded on the GPU.
    let trained = train_cpu(&config, &optimizer, &data, &settings).into_model();
    let on_gpu = io::from_bytes(gpu.clone(), &trained.to_bytes().unwrap(), "cpu model").unwrap();
    assert_eq!(gpu_weights(&on_gpu), trained.weights());
    let gpu_outputs = pollster::block_on(train::predict(&on_gpu, images, 8)).unwrap();
    let cpu_outputs = cpu::predict(&trained, images, 8).unwrap();
    compare("cpu file on the gpu", &cpu_outputs, &gpu_outputs, ABSOLUTE);

    // Trained on the GPU, loaded on the CPU.
    let model = Model::new(gpu.clone(), config.clone(), 4).unwrap();
    let optimizer = Optimizer::new(&model, optimizer).unwrap();
    let mut session = Session::new(model, optimizer, &data, &settings).unwrap();
    pollster::block_on(train::fit(&mut session, train::Callbacks::default())).unwrap();
    let bytes = pollster::block_on(io::to_bytes(session.model())).unwrap();
    let on_cpu = CpuModel::from_bytes(&bytes, "gpu model").unwrap();
    assert_eq!(on_cpu.weights(), gpu_weights(session.model()));
    let gpu_outputs = pollster::block_on(train::predict(session.model(), images, 8)).unwrap();
    let cpu_outputs = cpu::predict(&on_cpu, images, 8).unwrap();
    compare("gpu file on the cpu", &cpu_outputs, &gpu_outputs, ABSOLUTE);
}

#[test]
fn cpu_trains_seed_cnn_on_digits() {
    let data = digits(1000);
    let settings = TrainConfig {
        epochs: 1,
        batch_size: 8,
        validation_split: 0.2,
        seed: 3,
        shuffle: true,
    };
    let model = CpuModel::new(ModelConfig::preset("seed-cnn").unwrap(), 3).unwrap();
    let mut session = CpuSession::new(model, OptimizerConfig::default(), &data, &settings).unwrap();
    let RunOutcome::Epoch { report, .. } = session.run(usize::MAX).unwrap() else {
        panic!("the epoch did not end");
    };
    eprintln!(
        "seed-cnn on the CPU: {:.0} examples/s, validation accuracy {:.3}, epoch {:.1} s",
        report.examples_per_second,
        report.val_accuracy.unwrap(),
        report.seconds
    );
    // Chance is 0.1 for ten classes.
    assert!(report.val_accuracy.unwrap() > 0.6, "{report:?}");
}

//! End-to-end training on the GPU: repeatability, batch splitting, model files, bad input.

mod common;

use std::rc::Rc;

use webcnn::data::{embedded_mnist, Dataset};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::io;
use webcnn::model::{Model, ModelConfig};
use webcnn::optim::{Optimizer, OptimizerConfig};
use webcnn::train::{self, BatchReport, Callbacks, RunOutcome, Session, TrainConfig};

fn gpu_with(options: GpuOptions) -> Rc<Gpu> {
    Rc::new(pollster::block_on(Gpu::new(options)).expect("a GPU adapter"))
}

/// The first `n` embedded training digits.
fn digits(n: usize) -> Dataset {
    let split = embedded_mnist().expect("embedded digits");
    let indices: Vec<usize> = (0..n).collect();
    split.train.subset(&indices)
}

fn config(epochs: usize, batch_size: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        validation_split: 0.0,
        seed: 3,
        shuffle: true,
    }
}

/// Trains `preset` from `seed` and returns the session.
fn train(gpu: Rc<Gpu>, preset: &str, data: &Dataset, config: &TrainConfig) -> Session {
    let model = Model::new(gpu, ModelConfig::preset(preset).unwrap(), 7).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let mut session = Session::new(model, optimizer, data, config).unwrap();
    pollster::block_on(train::fit(&mut session, Callbacks::default())).unwrap();
    session
}

fn weights(model: &Model) -> Vec<f32> {
    let all = pollster::block_on(model.weights()).unwrap();
    all.into_iter().flat_map(|(_, _, v)| v).collect()
}

#[test]
fn seeded_run_repeats_exactly() {
    let data = digits(300);
    let gpu = gpu_with(GpuOptions::default());
    let first = train(gpu.clone(), "seed-cnn", &data, &config(2, 32));
    let second = train(gpu, "seed-cnn", &data, &config(2, 32));
    assert_eq!(weights(first.model()), weights(second.model()));
    assert_eq!(first.reports()[1].loss, second.reports()[1].loss);
}

#[test]
fn split_batch_matches_unsplit_batch() {
    let data = digits(96);
    let whole = train(
        gpu_with(GpuOptions::default()),
        "lenet5",
        &data,
        &config(1, 48),
    );
    // 300 KB bindings hold lenet5's 247 KB of parameters but only 15 images of its largest
    // activation (28x28x6 floats, 18.8 KB each), so each batch of 48 runs in chunks.
    let small = GpuOptions {
        max_storage_binding: Some(300_000),
    };
    let split = train(gpu_with(small), "lenet5", &data, &config(1, 48));
    assert!(
        split.model().max_chunk() < 48,
        "chunk {}",
        split.model().max_chunk()
    );

    let (a, b) = (weights(whole.model()), weights(split.model()));
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + x.abs()),
            "weight {i}: {x} vs {y}"
        );
    }
    let images = &data.images[..16 * 784];
    let p_whole = pollster::block_on(train::predict(whole.model(), images, 16)).unwrap();
    let p_split = pollster::block_on(train::predict(split.model(), images, 16)).unwrap();
    for (x, y) in p_whole.iter().zip(&p_split) {
        assert!((x - y).abs() <= 1e-5, "prediction {x} vs {y}");
    }
}

#[test]
fn no_buffer_is_created_after_the_first_epoch() {
    let data = digits(200);
    let gpu = gpu_with(GpuOptions::default());
    let mut training = config(3, 64);
    training.validation_split = 0.2;
    let session = train(gpu, "seed-cnn", &data, &training);
    let reports = session.reports();
    assert_eq!(reports[0].buffers, reports[2].buffers);
    assert!(reports[0].buffers.count > 0);
}

#[test]
fn ragged_last_batch_counts_every_example() {
    let data = digits(70);
    let gpu = gpu_with(GpuOptions::default());
    let session = train(gpu, "seed-cnn", &data, &config(1, 32));
    assert_eq!(session.steps_per_epoch(), 3);
    let evaluation = pollster::block_on(train::evaluate(session.model(), &data, 32)).unwrap();
    let total: u32 = evaluation.confusion.iter().flatten().sum();
    assert_eq!(total, 70);
    assert_eq!(evaluation.predictions.len(), 70);
}

#[test]
fn model_file_round_trip_is_bit_exact() {
    let data = digits(100);
    let gpu = gpu_with(GpuOptions::default());
    let session = train(gpu.clone(), "seed-cnn", &data, &config(1, 50));
    let bytes = pollster::block_on(io::to_bytes(session.model())).unwrap();
    let loaded = io::from_bytes(gpu.clone(), &bytes, "memory").unwrap();
    let again = io::from_bytes(gpu, &bytes, "memory").unwrap();
    assert_eq!(weights(session.model()), weights(&loaded));

    let images = &data.images[..10 * 784];
    let original = pollster::block_on(train::predict(session.model(), images, 10)).unwrap();
    let first = pollster::block_on(train::predict(&loaded, images, 10)).unwrap();
    let second = pollster::block_on(train::predict(&again, images, 10)).unwrap();
    assert_eq!(original, first);
    assert_eq!(first, second);
}

#[test]
fn bad_model_files_are_rejected_with_reasons() {
    let gpu = gpu_with(GpuOptions::default());
    let model = Model::new(gpu.clone(), ModelConfig::preset("seed-cnn").unwrap(), 1).unwrap();
    let bytes = pollster::block_on(io::to_bytes(&model)).unwrap();

    let truncated = io::from_bytes(gpu.clone(), &bytes[..bytes.len() / 2], "half.safetensors");
    let message = truncated
        .err()
        .expect("truncated file is rejected")
        .to_string();
    assert!(message.contains("half.safetensors"), "{message}");
    assert!(message.contains("truncated"), "{message}");

    let garbage = io::from_bytes(gpu.clone(), b"not a model at all", "junk.bin");
    assert!(garbage.is_err());

    // A file whose weights do not fit its config: lenet5's config with seed-cnn's tensors.
    let (_, seed_weights) = io::decode(&bytes, "x").unwrap();
    let lenet = ModelConfig::preset("lenet5").unwrap();
    let mixed = io::encode(&lenet, &seed_weights).unwrap();
    let message = io::from_bytes(gpu, &mixed, "mixed.safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("layers.0.kernel"), "{message}");
}

#[test]
fn bad_configs_are_rejected_with_reasons() {
    let gpu = gpu_with(GpuOptions::default());
    let shrinking = r#"{"input_shape": [28, 28, 1], "layers": [
        {"type": "max_pool2d", "pool_size": [4, 4]},
        {"type": "max_pool2d", "pool_size": [4, 4]},
        {"type": "max_pool2d", "pool_size": [4, 4]},
        {"type": "flatten"},
        {"type": "dense", "units": 10, "activation": "softmax"}]}"#;
    let config = ModelConfig::from_json(shrinking).unwrap();
    let message = Model::new(gpu.clone(), config, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("layer 2"), "{message}");
    assert!(message.contains("below 1x1"), "{message}");

    let inner_softmax = r#"{"input_shape": [4, 4, 1], "layers": [
        {"type": "flatten"},
        {"type": "dense", "units": 8, "activation": "softmax"},
        {"type": "dense", "units": 3, "activation": "softmax"}]}"#;
    let config = ModelConfig::from_json(inner_softmax).unwrap();
    let message = Model::new(gpu.clone(), config, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(
        message.contains("layer 1 (dense) uses softmax"),
        "{message}"
    );

    let message = ModelConfig::preset("resnet").err().unwrap().to_string();
    assert!(message.contains("seed-cnn"), "{message}");

    let no_flatten = r#"{"input_shape": [28, 28, 1], "layers": [
        {"type": "dense", "units": 10, "activation": "softmax"}]}"#;
    let config = ModelConfig::from_json(no_flatten).unwrap();
    let message = Model::new(gpu.clone(), config, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("flatten"), "{message}");

    let model = Model::new(gpu, ModelConfig::preset("seed-cnn").unwrap(), 1).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let zero_batch = TrainConfig {
        batch_size: 0,
        ..TrainConfig::default()
    };
    let message = Session::new(model, optimizer, &digits(10), &zero_batch)
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("batch size"), "{message}");

    let message = OptimizerConfig::named("adam", Some(-1.0))
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("-1"), "{message}");
}

#[test]
fn oversized_and_headless_models_are_rejected() {
    let gpu = gpu_with(GpuOptions::default());
    let build = |json: &str| {
        let config = ModelConfig::from_json(json).unwrap();
        Model::new(gpu.clone(), config, 1)
            .err()
            .expect("rejected")
            .to_string()
    };

    // 26 x 26 x 100,000 floats per example exceed any storage binding; checked before allocating.
    let message = build(
        r#"{"input_shape": [28, 28, 1], "layers": [
        {"type": "conv2d", "filters": 100000, "kernel_size": [3, 3]},
        {"type": "flatten"}, {"type": "dense", "units": 10}]}"#,
    );
    assert!(message.contains("layer 0 (conv2d)"), "{message}");
    assert!(message.contains("bytes per buffer"), "{message}");

    let message = build(
        r#"{"input_shape": [28, 28, 1], "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 100000}]}"#,
    );
    assert!(message.contains("parameters need"), "{message}");

    let message = build(
        r#"{"input_shape": [28, 28, 1], "layers": [
        {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "flatten"}]}"#,
    );
    assert!(message.contains("must be dense"), "{message}");
}

#[test]
fn label_beyond_last_layer_names_sample() {
    let gpu = gpu_with(GpuOptions::default());
    let mut data = digits(20);
    data.labels[7] = 200;
    data.num_classes = 201;
    let model = Model::new(gpu, ModelConfig::preset("seed-cnn").unwrap(), 1).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let result = Session::new(model, optimizer, &data, &config(1, 8));
    let message = result.err().unwrap().to_string();
    assert!(message.contains("sample 7 has label 200"), "{message}");
    assert!(message.contains("below 10"), "{message}");
}

#[test]
fn validation_split_of_tiny_dataset_explains_fix() {
    let gpu = gpu_with(GpuOptions::default());
    let model = Model::new(gpu, ModelConfig::preset("seed-cnn").unwrap(), 1).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let training = TrainConfig {
        validation_split: 0.1,
        ..config(1, 8)
    };
    let result = Session::new(model, optimizer, &digits(1), &training);
    let message = result.err().unwrap().to_string();
    assert!(message.contains("validation split of 0.1"), "{message}");
    assert!(message.contains("validation split 0"), "{message}");
}

#[test]
fn wrong_input_shape_is_rejected() {
    let gpu = gpu_with(GpuOptions::default());
    let mut config = ModelConfig::preset("seed-cnn").unwrap();
    config.input_shape = [32, 32, 3];
    let model = Model::new(gpu, config, 1).unwrap();
    let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
    let result = Session::new(model, optimizer, &digits(10), &TrainConfig::default());
    let message = result.err().unwrap().to_string();
    assert!(message.contains("[28, 28, 1]"), "{message}");
    assert!(message.contains("[32, 32, 3]"), "{message}");
}

/// Builds a small conv net without dropout, so a step depends only on the weights, the optimizer
/// state and the batch.
fn small_model(gpu: &Rc<Gpu>) -> Model {
    let config = ModelConfig::from_json(
        r#"{"input_shape": [28, 28, 1], "layers": [
            {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "activation": "relu"},
            {"type": "max_pool2d", "pool_size": [2, 2]},
            {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"}
        ]}"#,
    )
    .unwrap();
    Model::new(gpu.clone(), config, 7).unwrap()
}

/// Returns settings for `epochs` epochs in batches of 16, in the same order every epoch.
fn unshuffled(epochs: usize) -> TrainConfig {
    TrainConfig {
        shuffle: false,
        ..config(epochs, 16)
    }
}

/// Runs `session` to its end, `steps` steps per call, and returns the batch reports in order.
fn run_to_end(session: &mut Session, steps: usize) -> Vec<BatchReport> {
    let mut all = Vec::new();
    loop {
        match pollster::block_on(session.run(steps)).unwrap() {
            RunOutcome::Steps { batches } | RunOutcome::Epoch { batches, .. } => {
                all.extend(batches)
            }
            RunOutcome::Done => return all,
        }
    }
}

/// Trains `model` for `epochs` with `optimizer` and returns the model and optimizer.
fn train_with(
    model: Model,
    optimizer: Optimizer,
    data: &Dataset,
    epochs: usize,
) -> (Model, Optimizer) {
    let mut session = Session::new(model, optimizer, data, &unshuffled(epochs)).unwrap();
    run_to_end(&mut session, usize::MAX);
    session.into_parts()
}

#[test]
fn diverged_epoch_restores_weights() {
    let gpu = gpu_with(GpuOptions::default());
    let data = digits(64);
    let optimizer = Optimizer::new(&small_model(&gpu), OptimizerConfig::default()).unwrap();
    let (trained, _) = train_with(small_model(&gpu), optimizer, &data, 1);
    let before = weights(&trained);

    // A learning rate that is infinite as f32 turns the weights to NaN in the first step.
    let huge = OptimizerConfig::named("sgd", Some(1e300)).unwrap();
    let optimizer = Optimizer::new(&trained, huge).unwrap();
    let mut session = Session::new(trained, optimizer, &data, &unshuffled(2)).unwrap();
    let error = loop {
        match pollster::block_on(session.run(1)) {
            Ok(RunOutcome::Steps { .. }) => {}
            other => break other.unwrap_err(),
        }
    };
    assert!(
        matches!(error, webcnn::Error::Diverged { epoch: 1, .. }),
        "{error}"
    );
    assert_eq!(weights(session.model()), before);
}

#[test]
fn continued_run_keeps_optimizer_state() {
    let gpu = gpu_with(GpuOptions::default());
    // 32 examples in batches of 16: 2 steps per epoch.
    let data = digits(32);
    let adam = OptimizerConfig::named("adam", Some(0.01)).unwrap();
    let faster = OptimizerConfig::named("adam", Some(0.02)).unwrap();
    let first_epoch = || {
        let model = small_model(&gpu);
        let optimizer = Optimizer::new(&model, adam.clone()).unwrap();
        train_with(model, optimizer, &data, 1)
    };

    let model = small_model(&gpu);
    let optimizer = Optimizer::new(&model, adam.clone()).unwrap();
    let (whole, _) = train_with(model, optimizer, &data, 2);

    let (model, kept) = first_epoch();
    let resumed = Optimizer::resume(Some(kept), &model, adam.clone()).unwrap();
    assert_eq!(resumed.steps(), 2);
    let (continued, optimizer) = train_with(model, resumed, &data, 1);
    assert_eq!(optimizer.steps(), 4);
    assert_eq!(weights(&continued), weights(&whole));

    // Fresh state after the first epoch ends elsewhere, so the kept state mattered.
    let (model, _) = first_epoch();
    let fresh = Optimizer::new(&model, adam.clone()).unwrap();
    let (restarted, _) = train_with(model, fresh, &data, 1);
    assert_ne!(weights(&restarted), weights(&whole));

    // A changed learning rate starts fresh state: the same as a new optimizer with that rate.
    let (model, kept) = first_epoch();
    let reset = Optimizer::resume(Some(kept), &model, faster.clone()).unwrap();
    assert_eq!(reset.steps(), 0);
    let (changed, _) = train_with(model, reset, &data, 1);
    let (model, _) = first_epoch();
    let fresh = Optimizer::new(&model, faster).unwrap();
    let (expected, _) = train_with(model, fresh, &data, 1);
    assert_eq!(weights(&changed), weights(&expected));
}

#[test]
fn run_reports_each_batch() {
    let gpu = gpu_with(GpuOptions::default());
    // 56 examples in batches of 16: 4 steps per epoch, the last of 8 examples.
    let data = digits(56);
    let start = |epochs| {
        let model = small_model(&gpu);
        let optimizer = Optimizer::new(&model, OptimizerConfig::default()).unwrap();
        Session::new(model, optimizer, &data, &unshuffled(epochs)).unwrap()
    };

    let mut grouped = start(2);
    let RunOutcome::Steps { batches: first } = pollster::block_on(grouped.run(3)).unwrap() else {
        panic!("the epoch ended after 3 of 4 steps");
    };
    let RunOutcome::Epoch { report, batches } = pollster::block_on(grouped.run(3)).unwrap() else {
        panic!("the epoch did not end after 4 steps");
    };
    let mut grouped_batches = [first, batches].concat();
    let indices: Vec<usize> = grouped_batches.iter().map(|b| b.batch).collect();
    assert_eq!(indices, [0, 1, 2, 3]);
    let sizes = [16.0, 16.0, 16.0, 8.0];
    let weighted: f64 = grouped_batches
        .iter()
        .zip(sizes)
        .map(|(batch, size)| batch.loss * size)
        .sum();
    let mean = weighted / 56.0;
    assert!(
        (mean - report.loss).abs() <= 1e-12 * report.loss,
        "batch losses give {mean}, the epoch report {}",
        report.loss
    );
    grouped_batches.extend(run_to_end(&mut grouped, 3));

    // One step per call gives the same batches.
    let single = run_to_end(&mut start(2), 1);
    assert_eq!(single, grouped_batches);

    // The first batch's loss is that of the initial model on examples 0 to 15.
    let model = small_model(&gpu);
    let first_batch = data.subset(&(0..16).collect::<Vec<_>>());
    let evaluation = pollster::block_on(train::evaluate(&model, &first_batch, 16)).unwrap();
    let loss = single[0].loss;
    assert!(
        (loss - evaluation.loss).abs() <= 1e-5 * evaluation.loss,
        "batch 0 loss {loss}, initial model's loss {}",
        evaluation.loss
    );
    for batch in &single {
        assert!(batch.loss.is_finite(), "{batch:?}");
        assert!(batch.loss > 0.0, "{batch:?}");
        assert!((0.0..=1.0).contains(&batch.accuracy), "{batch:?}");
    }
}

#[test]
fn seed_cnn_learns_digits() {
    let split = embedded_mnist().unwrap();
    let train_part = split.train.subset(&(0..2000).collect::<Vec<_>>());
    let gpu = gpu_with(GpuOptions::default());
    let session = train(gpu, "seed-cnn", &train_part, &config(1, 32));
    let evaluation = pollster::block_on(train::evaluate(session.model(), &split.test, 64)).unwrap();
    assert!(
        evaluation.accuracy > 0.85,
        "accuracy {}",
        evaluation.accuracy
    );
}

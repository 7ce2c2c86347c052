//! Import of models written by Python Keras through the tensorflowjs converter. The fixtures in
//! tests/data/keras come from scripts/keras-fixture/make_fixture.py (its README names the
//! versions), with Keras's own predictions on held-out embedded MNIST digits in expected.json.
//! webcnn must reproduce Keras's probabilities on the CPU and on the GPU, and its predicted
//! digit and accuracy on every held-out digit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use serde::Deserialize;
use webcnn::cpu::{self, CpuModel};
use webcnn::data::{read_idx_dataset, Dataset};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::io::{self, tfjs};

/// Largest absolute difference allowed between webcnn's and Keras's probabilities.
const TOLERANCE: f32 = 1e-4;
/// Fixture folders under tests/data/keras.
const FIXTURES: [&str; 5] = [
    "mnist-cnn",
    "mnist-cnn-uint8",
    "same-padding-float16",
    "same-padding-keras-file",
    "keras2-cnn",
];
const CLASSES: usize = 10;

/// Keras's side of a fixture, from its expected.json.
#[derive(Deserialize)]
struct Expected {
    /// Indices into the embedded MNIST files of the held-out digits.
    test_indices: Vec<usize>,
    /// Keras's predicted digit for each held-out digit.
    test_predictions: Vec<usize>,
    /// Held-out digits that Keras classifies correctly.
    test_correct: usize,
    /// Keras's `evaluate` accuracy on the held-out digits.
    test_accuracy: f64,
    /// Held-out digits whose top two probabilities differ by less than 2e-4.
    near_ties: Vec<NearTie>,
    /// Keras's probabilities for the first `probe_count` held-out digits.
    probe_probabilities: Vec<Vec<f32>>,
    probe_count: usize,
}

/// A held-out digit for which any implementation within [`TOLERANCE`] of Keras may predict
/// either of Keras's top two digits.
#[derive(Deserialize)]
struct NearTie {
    /// Position in `test_indices`.
    position: usize,
    /// Keras's most and second most probable digits.
    top2: [usize; 2],
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/keras")
        .join(name)
}

fn expected(name: &str) -> Expected {
    let path = fixture(name).join("expected.json");
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The 10,000 digits of data/, in file order, as the fixture script reads them.
fn digits() -> Dataset {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    read_idx_dataset(
        root.join("data/mnist-10k-images-idx3-ubyte.gz"),
        root.join("data/mnist-10k-labels-idx1-ubyte.gz"),
    )
    .unwrap()
}

/// The held-out digits of a fixture and their labels.
fn held_out(digits: &Dataset, expected: &Expected) -> (Vec<f32>, Vec<u32>) {
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for &index in &expected.test_indices {
        images.extend_from_slice(digits.image(index));
        labels.push(digits.labels[index]);
    }
    (images, labels)
}

fn argmax(probabilities: &[f32]) -> usize {
    let mut best = 0;
    for (i, &p) in probabilities.iter().enumerate() {
        if p > probabilities[best] {
            best = i;
        }
    }
    best
}

/// Largest absolute difference between webcnn's probabilities and Keras's for the probe
/// digits, which come first in `outputs`.
fn probe_difference(outputs: &[f32], expected: &Expected) -> f32 {
    assert_eq!(expected.probe_probabilities.len(), expected.probe_count);
    let mut worst = 0.0f32;
    for (digit, want) in expected.probe_probabilities.iter().enumerate() {
        assert_eq!(want.len(), CLASSES);
        let got = &outputs[digit * CLASSES..(digit + 1) * CLASSES];
        for (g, w) in got.iter().zip(want) {
            worst = worst.max((g - w).abs());
        }
    }
    worst
}

/// Checks webcnn's probabilities `outputs` for all held-out digits against Keras's: the probe
/// digits' probabilities, every predicted digit and the accuracy.
fn check_against_keras(case: &str, outputs: &[f32], expected: &Expected, labels: &[u32]) {
    assert_eq!(
        outputs.len(),
        labels.len() * CLASSES,
        "{case}: output length"
    );
    assert_eq!(labels.len(), expected.test_predictions.len());
    let worst = probe_difference(outputs, expected);
    println!("{case}: probabilities differ from Keras's by at most {worst:e}");
    assert!(
        worst <= TOLERANCE,
        "{case}: probabilities differ from Keras's by up to {worst}"
    );

    let predictions: Vec<usize> = outputs.chunks(CLASSES).map(argmax).collect();
    let mut disagreements = 0;
    for (i, (&got, &want)) in predictions
        .iter()
        .zip(&expected.test_predictions)
        .enumerate()
    {
        let file_index = expected.test_indices[i];
        match expected.near_ties.iter().find(|tie| tie.position == i) {
            Some(tie) => assert!(
                tie.top2.contains(&got),
                "{case}: held-out digit {i} (file index {file_index}) is predicted as {got}, \
                 but Keras's top two are {:?}",
                tie.top2
            ),
            None => assert_eq!(
                got, want,
                "{case}: held-out digit {i} (file index {file_index}) is predicted as {got}, \
                 Keras predicts {want}"
            ),
        }
        disagreements += usize::from(got != want);
    }

    let correct = predictions
        .iter()
        .zip(labels)
        .filter(|(&p, &l)| p == l as usize)
        .count();
    let accuracy = correct as f64 / labels.len() as f64;
    println!(
        "{case}: accuracy {accuracy} on {} held-out digits, Keras {}; {disagreements} near \
         ties decided differently",
        labels.len(),
        expected.test_accuracy
    );
    assert!(
        correct.abs_diff(expected.test_correct) <= disagreements,
        "{case}: {correct} digits correct, Keras {}",
        expected.test_correct
    );
    let keras_accuracy = expected.test_correct as f64 / labels.len() as f64;
    assert!(
        (keras_accuracy - expected.test_accuracy).abs() < 1e-6,
        "{case}: expected.json's accuracy {} disagrees with its count {}",
        expected.test_accuracy,
        expected.test_correct
    );
}

#[test]
fn keras_models_match_on_cpu() {
    let digits = digits();
    for name in FIXTURES {
        let expected = expected(name);
        // tfjs::import is what `webcnn import model.json` uses.
        let (config, weights) = tfjs::import(&fixture(name).join("model.json")).unwrap();
        let model = CpuModel::with_weights(config, &weights, name).unwrap();
        let (images, labels) = held_out(&digits, &expected);
        let outputs = cpu::predict(&model, &images, 100).unwrap();
        check_against_keras(&format!("{name} on the CPU"), &outputs, &expected, &labels);
    }
}

#[test]
fn keras_models_match_on_gpu() {
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).unwrap());
    let digits = digits();
    for name in FIXTURES {
        let expected = expected(name);
        // io::load is what `webcnn train --load model.json` uses.
        let model = io::load(gpu.clone(), &fixture(name).join("model.json")).unwrap();
        let (images, labels) = held_out(&digits, &expected);
        let outputs = pollster::block_on(webcnn::train::predict(&model, &images, 100)).unwrap();
        check_against_keras(&format!("{name} on the GPU"), &outputs, &expected, &labels);
    }
}

#[test]
fn cli_imports_keras_model() {
    let out_file = std::env::temp_dir().join(format!("webcnn-keras-{}.st", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_webcnn"))
        .arg("import")
        .arg(fixture("mnist-cnn").join("model.json"))
        .arg("--out")
        .arg(&out_file)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Conv2D 320 + Conv2D 18,496 + Dense 102,464 + Dense 650 parameters: the float32 weight
    // file's 487,720 bytes.
    assert!(
        stdout.contains("imported 7 layers, 121930 parameters"),
        "{stdout}"
    );
    let saved = std::fs::read(&out_file).unwrap();
    std::fs::remove_file(&out_file).unwrap();
    let (saved_config, mut saved_weights) = io::decode(&saved, "saved").unwrap();
    let (config, mut weights) = tfjs::import(&fixture("mnist-cnn").join("model.json")).unwrap();
    saved_weights.sort_by(|a, b| a.0.cmp(&b.0));
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(saved_config, config);
    assert_eq!(saved_weights, weights);
}

#[test]
fn keras_file_export_skips_optimizer_state() {
    // The converter names a .keras file's weights after each layer's class and position, not
    // its name (the conv layers' names are swapped), and adds the optimizer's state, including
    // Adam's int32 step count.
    let path = fixture("same-padding-keras-file").join("model.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let specs = json["weightsManifest"][0]["weights"].as_array().unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"layers/conv2d/vars/0"), "{names:?}");
    assert!(names.contains(&"layers/dense/vars/0"), "{names:?}");
    assert!(
        specs
            .iter()
            .any(|s| s["name"] == "optimizer/vars/0" && s["dtype"] == "int32"),
        "{names:?}"
    );

    let (config, weights) = tfjs::import(&path).unwrap();
    let (h5_config, h5_weights) =
        tfjs::import(&fixture("same-padding-float16").join("model.json")).unwrap();
    assert_eq!(config, h5_config);
    assert_eq!(weights, h5_weights);
}

#[test]
fn missing_keras_file_tensor_is_named() {
    let path = fixture("same-padding-keras-file").join("model.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let specs = json["weightsManifest"][0]["weights"]
        .as_array_mut()
        .unwrap();
    let position = specs
        .iter()
        .position(|s| s["name"] == "layers/dense/vars/0")
        .unwrap();
    specs.remove(position);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keras-file-missing-tensor");
    std::fs::create_dir_all(&dir).unwrap();
    let damaged = dir.join("model.json");
    std::fs::write(&damaged, json.to_string()).unwrap();

    let error = tfjs::import(&damaged).unwrap_err().to_string();
    assert!(error.contains("\"hidden/kernel\""), "{error}");
    assert!(error.contains("\"layers/dense/vars/0\""), "{error}");
    assert!(error.contains("missing"), "{error}");
}

/// Copies the mnist-cnn fixture (model.json and its shard) to a new folder `case`, lets
/// `change` edit the copy's model.json, and returns the copy's model.json.
fn damaged_mnist_cnn(case: &str, change: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(case);
    std::fs::create_dir_all(&dir).unwrap();
    let shard = "group1-shard1of1.bin";
    std::fs::copy(fixture("mnist-cnn").join(shard), dir.join(shard)).unwrap();
    let text = std::fs::read_to_string(fixture("mnist-cnn").join("model.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    change(&mut json);
    let path = dir.join("model.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

#[test]
fn empty_shard_path_is_named() {
    let path = damaged_mnist_cnn("keras-empty-shard-path", |json| {
        json["weightsManifest"][0]["paths"] = serde_json::json!(["group1-shard1of1.bin", ""]);
    });
    let error = tfjs::import(&path).unwrap_err().to_string();
    assert!(
        error.contains("weightsManifest group 0 has an empty shard path"),
        "{error}"
    );
    assert!(error.contains("entry 1"), "{error}");
    assert!(error.contains("write the shard's file name"), "{error}");
    assert!(!error.contains("outside the model's folder"), "{error}");
}

/// Imports a copy of mnist-cnn whose first manifest group lists an extra float32 tensor `name`
/// of shape [10] after the others, with the shard unchanged. Returns the error text.
fn import_error_with_extra_tensor(case: &str, name: &str) -> String {
    let path = damaged_mnist_cnn(case, |json| {
        let spec = serde_json::json!({"name": name, "shape": [10], "dtype": "float32"});
        let specs = json["weightsManifest"][0]["weights"]
            .as_array_mut()
            .unwrap();
        specs.push(spec);
    });
    tfjs::import(&path).unwrap_err().to_string()
}

#[test]
fn duplicated_tensor_is_named() {
    let error = import_error_with_extra_tensor("keras-duplicated-tensor", "mnist_cnn/dense_1/bias");
    assert!(
        error.contains("lists tensor \"mnist_cnn/dense_1/bias\" twice"),
        "{error}"
    );
    assert!(error.contains("remove the duplicate entry"), "{error}");
    assert!(!error.contains("truncated"), "{error}");
}

#[test]
fn tensor_listed_under_two_names_is_named() {
    // "dense_1/bias" and "mnist_cnn/dense_1/bias" are two names for the same weight.
    let error = import_error_with_extra_tensor("keras-tensor-two-names", "dense_1/bias");
    assert!(
        error.contains("tensors \"mnist_cnn/dense_1/bias\" and \"dense_1/bias\" both match"),
        "{error}"
    );
    assert!(error.contains("remove one of them"), "{error}");
    assert!(!error.contains("truncated"), "{error}");
}

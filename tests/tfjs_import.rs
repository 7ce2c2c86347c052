//! Import of Keras models saved by TensorFlow.js: the fixtures are written at test time by
//! tfjs 4.22.0 in Node (js/test/tfjs-fixtures.mjs), and webcnn's predictions on the GPU and on
//! the CPU must match tfjs's. Damaged copies of them must fail with errors that name the
//! problem.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::sync::OnceLock;

use serde_json::Value;
use webcnn::cpu::{self, CpuModel};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::io::{self, tfjs};

/// Largest difference allowed between webcnn's and tfjs's outputs.
const TOLERANCE: f32 = 1e-4;
const FIXTURES: [&str; 5] = [
    "mnist-cnn",
    "mixed",
    "mnist-cnn-uint8",
    "mixed-uint16",
    "mixed-float16",
];

/// Folder of the fixtures, written once per test binary.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tfjs-fixtures");
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        let out = Command::new("node")
            .arg(root.join("js/test/tfjs-fixtures.mjs"))
            .arg(&dir)
            .output()
            .expect("node runs; install Node.js 20.19 or newer");
        assert!(
            out.status.success(),
            "writing the tfjs fixtures failed (run scripts/install.sh for js/node_modules): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

struct Expected {
    inputs: Vec<f32>,
    outputs: Vec<f32>,
}

fn expected(name: &str) -> Expected {
    let text = std::fs::read_to_string(fixtures().join(name).join("expected.json")).unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    let floats = |key: &str| -> Vec<f32> {
        json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    Expected {
        inputs: floats("inputs"),
        outputs: floats("outputs"),
    }
}

fn model_json(name: &str) -> PathBuf {
    fixtures().join(name).join("model.json")
}

fn assert_matches_tfjs(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= TOLERANCE,
        "{what}: outputs differ from tfjs's by up to {worst}"
    );
}

#[test]
fn imported_models_predict_as_tfjs_on_the_cpu() {
    for name in FIXTURES {
        let (config, weights) = tfjs::import(&model_json(name)).unwrap();
        let model = CpuModel::with_weights(config, &weights, name).unwrap();
        let expected = expected(name);
        let outputs = cpu::predict(&model, &expected.inputs, 4).unwrap();
        assert_matches_tfjs(name, &outputs, &expected.outputs);
    }
}

#[test]
fn imported_models_predict_as_tfjs_on_the_gpu() {
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).unwrap());
    for name in FIXTURES {
        let model = io::load(gpu.clone(), &model_json(name)).unwrap();
        let expected = expected(name);
        let outputs =
            pollster::block_on(webcnn::train::predict(&model, &expected.inputs, 4)).unwrap();
        assert_matches_tfjs(name, &outputs, &expected.outputs);
    }
}

#[test]
fn keras_3_style_topology_imports() {
    // Keras 3 writes batch_shape, module and registered_name entries, dtype policies as
    // objects, the Sequential under model_config, and weight names with the model's name.
    let path = damaged("keras3", "mnist-cnn", |json, _| {
        let topology = json["modelTopology"].take();
        json["modelTopology"] = serde_json::json!({ "model_config": topology });
        let layers = json["modelTopology"]["model_config"]["config"]["layers"]
            .as_array_mut()
            .unwrap();
        let shape = layers[0]["config"]
            .as_object_mut()
            .unwrap()
            .remove("batch_input_shape")
            .unwrap();
        layers[0]["config"]["batch_shape"] = shape;
        for layer in layers {
            layer["module"] = "keras.layers".into();
            layer["registered_name"] = Value::Null;
            layer["config"]["dtype"] = serde_json::json!({
                "module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}
            });
        }
        for group in json["weightsManifest"].as_array_mut().unwrap() {
            for spec in group["weights"].as_array_mut().unwrap() {
                let name = spec["name"].as_str().unwrap();
                spec["name"] = format!("sequential/{name}").into();
            }
        }
    });
    let (config, weights) = tfjs::import(&path).unwrap();
    let model = CpuModel::with_weights(config, &weights, "keras3").unwrap();
    let expected = expected("mnist-cnn");
    let outputs = cpu::predict(&model, &expected.inputs, 4).unwrap();
    assert_matches_tfjs("keras3", &outputs, &expected.outputs);
}

#[test]
fn import_maps_keras_options() {
    let (config, weights) = tfjs::import(&model_json("mixed")).unwrap();
    let text: Value = serde_json::from_str(&webcnn::json::to_string(&config)).unwrap();
    assert_eq!(text["input_shape"], serde_json::json!([12, 10, 3]));
    let layers = text["layers"].as_array().unwrap();
    let kinds: Vec<&str> = layers.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "conv2d",
            "avg_pool2d",
            "conv2d",
            "activation",
            "max_pool2d",
            "flatten",
            "dense",
            "dense"
        ]
    );
    assert_eq!(layers[0]["strides"], serde_json::json!([2, 2]));
    assert_eq!(layers[0]["padding"], "same");
    assert_eq!(layers[2]["dilation"], serde_json::json!([2, 2]));
    assert_eq!(layers[2]["trainable"], false);
    assert_eq!(layers[4]["strides"], serde_json::json!([1, 2]));
    // use_bias: false imports as a zero bias.
    let (_, _, bias) = weights
        .iter()
        .find(|(n, _, _)| n == "layers.0.bias")
        .unwrap();
    assert!(bias.iter().all(|&b| b == 0.0));
}

#[test]
fn imported_model_round_trips_through_a_webcnn_file() {
    let (config, weights) = tfjs::import(&model_json("mnist-cnn")).unwrap();
    let bytes = io::encode(&config, &weights).unwrap();
    let (config2, weights2) = io::decode(&bytes, "round trip").unwrap();
    assert_eq!(config, config2);
    let (weights, weights2) = (by_name(weights), by_name(weights2));
    for ((n1, s1, v1), (n2, s2, v2)) in weights.iter().zip(&weights2) {
        assert_eq!((n1, s1), (n2, s2));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(v1), bits(v2), "{n1} changed in the round trip");
    }
}

/// Weights sorted by name (a safetensors file stores them in its own order).
fn by_name(mut weights: io::Weights) -> io::Weights {
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    weights
}

#[test]
fn cli_import_writes_a_model_the_cli_loads() {
    let out_file = std::env::temp_dir().join(format!("webcnn-import-{}.st", std::process::id()));
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_webcnn"))
            .args(args)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .unwrap()
    };
    let out = run(&[
        "import".as_ref(),
        model_json("mnist-cnn").as_os_str(),
        "--out".as_ref(),
        out_file.as_os_str(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Keras MNIST CNN has 34,826 parameters.
    assert!(
        stdout.contains("imported 7 layers, 34826 parameters"),
        "{stdout}"
    );
    let (config, weights) = tfjs::import(&model_json("mnist-cnn")).unwrap();
    let (saved_config, saved) = io::decode(&std::fs::read(&out_file).unwrap(), "saved").unwrap();
    assert_eq!((saved_config, by_name(saved)), (config, by_name(weights)));
    std::fs::remove_file(&out_file).unwrap();

    let bad = damaged("cli-bad", "mnist-cnn", |json, _| {
        json["modelTopology"]["config"]["layers"][0]["config"]["data_format"] =
            "channels_first".into();
    });
    let out = run(&[
        "import".as_ref(),
        bad.as_os_str(),
        "--out".as_ref(),
        out_file.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("channels_first"), "{stderr}");
    assert!(
        !out_file.exists(),
        "a failed import wrote {}",
        out_file.display()
    );
}

/// Copies fixture `from` to a new folder `name`, lets `change` edit its model.json and shard
/// folder, and returns the new model.json.
fn damaged(name: &str, from: &str, change: impl FnOnce(&mut Value, &Path)) -> PathBuf {
    let dir = fixtures().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixtures().join(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let path = dir.join("model.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    change(&mut json, &dir);
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

/// Imports `path` and returns the error text, failing if the import succeeds.
fn import_error(path: &Path) -> String {
    match tfjs::import(path) {
        Ok(_) => panic!("{} imported", path.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(error: &str, parts: &[&str]) {
    for part in parts {
        assert!(error.contains(part), "{part:?} is missing from: {error}");
    }
}

fn layer(json: &mut Value, index: usize) -> &mut Value {
    &mut json["modelTopology"]["config"]["layers"][index]
}

fn spec(json: &mut Value, group: usize, index: usize) -> &mut Value {
    &mut json["weightsManifest"][group]["weights"][index]
}

#[test]
fn truncated_and_missing_shards_are_named() {
    let path = damaged("truncated", "mnist-cnn", |_, dir| {
        let shard = dir.join("group2-shard1of1.bin");
        let bytes = std::fs::read(&shard).unwrap();
        std::fs::write(&shard, &bytes[..bytes.len() - 100]).unwrap();
    });
    let error = import_error(&path);
    assert_mentions(
        &error,
        &[
            "group2-shard1of1.bin",
            "truncated",
            "64196 bytes",
            "is cut off",
        ],
    );

    let path = damaged("missing-shard", "mnist-cnn", |_, dir| {
        std::fs::remove_file(dir.join("group1-shard3.bin")).unwrap();
    });
    assert_mentions(&import_error(&path), &["group1-shard3.bin"]);
}

#[test]
fn shard_path_outside_folder_is_rejected() {
    // The path leads to the real shard of the fixture folder beside this one, so an import that
    // followed it would succeed.
    let path = damaged("escaping-shard", "mnist-cnn", |json, _| {
        json["weightsManifest"][1]["paths"][0] = "../mnist-cnn/group2-shard1of1.bin".into();
    });
    assert_mentions(
        &import_error(&path),
        &[
            "../mnist-cnn/group2-shard1of1.bin",
            "outside the model's folder",
        ],
    );
}

#[test]
fn missing_and_misshaped_tensors_are_named() {
    let mut removed = String::new();
    let path = damaged("missing-tensor", "mnist-cnn", |json, _| {
        let weights = json["weightsManifest"][1]["weights"]
            .as_array_mut()
            .unwrap();
        removed = weights.pop().unwrap()["name"].as_str().unwrap().to_string();
    });
    assert_mentions(&import_error(&path), &[&removed, "missing"]);

    let mut kernel = String::new();
    let path = damaged("wrong-shape", "mnist-cnn", |json, _| {
        let spec = spec(json, 0, 0);
        kernel = spec["name"].as_str().unwrap().to_string();
        spec["shape"] = serde_json::json!([3, 3, 1, 16]);
    });
    assert_mentions(
        &import_error(&path),
        &[&kernel, "[3, 3, 1, 16]", "[3, 3, 1, 32]"],
    );

    let path = damaged("int-weights", "mnist-cnn", |json, _| {
        spec(json, 0, 1)["dtype"] = "int32".into();
    });
    // The message once named float32 alone, though quantised weights import too.
    assert_mentions(
        &import_error(&path),
        &["int32", "float32", "uint8", "float16"],
    );

    let path = damaged("foreign-tensor", "mnist-cnn", |json, _| {
        spec(json, 0, 1)["name"] = "other/bias".into();
    });
    assert_mentions(&import_error(&path), &["other/bias", "belongs to no layer"]);
}

#[test]
fn unsupported_layers_and_options_are_named() {
    let path = damaged("batch-norm", "mnist-cnn", |json, _| {
        layer(json, 1)["class_name"] = "BatchNormalization".into();
    });
    assert_mentions(
        &import_error(&path),
        &[
            "layer 1",
            "BatchNormalization",
            "it imports InputLayer, Conv2D",
        ],
    );

    let path = damaged("channels-first", "mnist-cnn", |json, _| {
        layer(json, 2)["config"]["data_format"] = "channels_first".into();
    });
    assert_mentions(&import_error(&path), &["layer 2 (Conv2D", "channels_first"]);

    let path = damaged("elu", "mixed", |json, _| {
        layer(json, 7)["config"]["activation"] = "elu".into();
    });
    assert_mentions(&import_error(&path), &["layer 7 (Dense", "\"elu\""]);

    let path = damaged("functional", "mnist-cnn", |json, _| {
        json["modelTopology"]["class_name"] = "Functional".into();
    });
    assert_mentions(&import_error(&path), &["Functional", "only Sequential"]);

    let path = damaged("no-topology", "mnist-cnn", |json, _| {
        json.as_object_mut().unwrap().remove("modelTopology");
    });
    assert_mentions(&import_error(&path), &["modelTopology"]);

    let path = damaged("not-json", "mnist-cnn", |_, _| {});
    std::fs::write(&path, "{\"modelTopology\": ").unwrap();
    assert_mentions(&import_error(&path), &["not valid JSON"]);
}

#[test]
fn unsupported_quantisation_is_named() {
    let path = damaged("int8", "mnist-cnn-uint8", |json, _| {
        spec(json, 0, 0)["quantization"]["dtype"] = "int8".into();
    });
    assert_mentions(&import_error(&path), &["quantised as \"int8\""]);
}

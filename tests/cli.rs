//! The `webcnn` command line: JSON summary and error messages.

use std::process::Command;

use webcnn::data::{write_idx_images, write_idx_labels, Dataset};

fn webcnn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_webcnn"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("the binary runs")
}

#[test]
fn train_json_summary_has_required_fields() {
    let out = webcnn(&[
        "train", "--limit", "300", "--epochs", "1", "--json", "--seed", "2",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("epoch 1: loss"), "{stdout}");
    let last = stdout.lines().last().expect("output");
    let summary: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    for key in [
        "test_accuracy",
        "test_loss",
        "epochs",
        "examples_per_second",
    ] {
        assert!(summary.get(key).is_some(), "missing {key} in {last}");
    }
    assert_eq!(summary["epochs"], 1);
    let accuracy = summary["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
}

#[test]
fn failed_save_keeps_earlier_model() {
    let folder = std::env::temp_dir().join(format!("webcnn-cli-save-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let model = folder.join("model.safetensors");
    let path = model.to_str().unwrap();
    let train = ["train", "--limit", "100", "--epochs", "1", "--save", path];
    let out = webcnn(&train);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = std::fs::read(&model).unwrap();

    // A file-size limit of 100 KiB (the model is about 490 KB) makes the second save fail while
    // it writes, as a full disk would.
    let script = format!(
        "trap '' XFSZ; ulimit -f 100; exec \"$0\" {}",
        train.join(" ")
    );
    let out = Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_webcnn")])
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the save past the limit succeeded");
    assert!(stderr.contains("writing"), "{stderr}");
    assert!(stderr.contains("free disk space"), "{stderr}");
    assert!(
        std::fs::read(&model).unwrap() == before,
        "the earlier model changed"
    );
    let files = std::fs::read_dir(&folder).unwrap().count();
    assert_eq!(files, 1, "a partial file was left beside the model");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn save_then_load_continues_training() {
    let path = std::env::temp_dir().join(format!("webcnn-cli-{}.safetensors", std::process::id()));
    let path = path.to_str().unwrap();
    let out = webcnn(&["train", "--limit", "100", "--epochs", "1", "--save", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = webcnn(&["train", "--limit", "100", "--epochs", "1", "--load", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(path).unwrap();
}

/// Runs `train` on 200 examples for one epoch with `extra` flags; returns the test loss.
fn test_loss_after_training(extra: &[&str]) -> f64 {
    let mut args = vec!["train", "--limit", "200", "--epochs", "1", "--json"];
    args.extend_from_slice(extra);
    let out = webcnn(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("output");
    let summary: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    summary["test_loss"]
        .as_f64()
        .expect("test_loss is a number")
}

#[test]
fn augmentation_flags_change_training() {
    let plain = test_loss_after_training(&[]);
    assert_eq!(
        plain,
        test_loss_after_training(&[]),
        "a run does not repeat"
    );
    let flags = [
        &["--flip"][..],
        &["--brightness", "0.5"],
        &[
            "--rotation-degrees",
            "15",
            "--translation-pixels",
            "2",
            "--scale",
            "0.1",
        ],
    ];
    for extra in flags {
        let augmented = test_loss_after_training(extra);
        assert_ne!(plain, augmented, "{extra:?} left training unchanged");
    }
}

#[test]
fn bad_arguments_fail_with_clear_messages() {
    let cases: [(&[&str], &str); 10] = [
        (
            &["train", "--batch-size", "0"],
            "batch size must be at least 1",
        ),
        (
            &["train", "--data", "/nonexistent/webcnn-data"],
            "/nonexistent/webcnn-data",
        ),
        (&["train", "--model", "resnet"], "resnet"),
        (&["train", "--optimizer", "rmsprop"], "rmsprop"),
        (
            &["train", "--brightness", "1.5"],
            "brightness must be between 0 and 1, got 1.5",
        ),
        // A negative value without `=` once failed as an unknown flag "-0".
        (
            &["train", "--learning-rate", "-0.1"],
            "learning rate must be a finite positive number, got -0.1",
        ),
        // clap took "-1e-3" for a flag and "-1" for "invalid digit found in string".
        (
            &["train", "--learning-rate", "-1e-3"],
            "learning rate must be a finite positive number, got -0.001",
        ),
        (
            &["train", "--epochs", "-1"],
            "expected a whole number, got -1",
        ),
        // Momentum was silently ignored with Adam.
        (
            &["train", "--momentum", "0.5"],
            "--momentum applies to --optimizer sgd only",
        ),
        // The size is checked before the folder is read.
        (
            &[
                "convert-face-detector",
                "/nonexistent",
                "out.safetensors",
                "--input-size",
                "31",
            ],
            "positive multiple of 32",
        ),
    ];
    for (args, expected) in cases {
        let out = webcnn(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn wrong_data_shape_fails_before_summary() {
    let dir = std::env::temp_dir().join(format!("webcnn-cli-8x8-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let images: Vec<f32> = (0..20 * 64).map(|i| (i % 7) as f32 / 7.0).collect();
    let labels: Vec<u32> = (0..20).map(|i| i % 2).collect();
    let dataset = Dataset::from_parts("small", images, labels, 8, 8, 1, 2).unwrap();
    write_idx_images(dir.join("small-images-idx3-ubyte"), &dataset).unwrap();
    write_idx_labels(dir.join("small-labels-idx1-ubyte"), &dataset).unwrap();

    let out = webcnn(&["train", "--data", dir.to_str().unwrap(), "--epochs", "1"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("[8, 8, 1]"), "{stderr}");
    assert!(!stdout.contains("total parameters"), "{stdout}");
}

#[test]
fn augmentation_errors_name_flags() {
    let cases = [
        (
            ["--translation-pixels", "100"],
            "--translation-pixels must be between 0 and 28 (the smaller side of the 28x28 \
             images), got 100",
            "translation_pixels",
        ),
        (
            ["--rotation-degrees", "200"],
            "--rotation-degrees must be between 0 and 180, got 200",
            "rotation_degrees",
        ),
        (
            ["--scale", "1"],
            "--scale must be between 0 and 0.9, got 1",
            "augmentation scale",
        ),
        (
            ["--brightness", "-0.5"],
            "--brightness must be between 0 and 1, got -0.5",
            "augmentation brightness",
        ),
    ];
    for (flag, expected, field) in cases {
        let out = webcnn(&["train", "--limit", "10", "--epochs", "1", flag[0], flag[1]]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag:?} succeeded");
        assert!(stderr.contains(expected), "{flag:?}: {stderr}");
        assert!(!stderr.contains(field), "{flag:?}: {stderr}");
    }
}

/// Writes a tfjs-layers model.json (Flatten, Dense 10) and its weights.bin into `folder`.
/// Runs `webcnn import MODEL --out OUT`.
fn import_model(model: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    webcnn(&[
        "import",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

fn tfjs_model(folder: &std::path::Path) -> std::path::PathBuf {
    std::fs::create_dir_all(folder).unwrap();
    let model = r#"{"format": "layers-model", "modelTopology": {"class_name": "Sequential",
        "config": {"name": "seq", "layers": [
            {"class_name": "Flatten", "config": {"name": "flatten",
                "batch_input_shape": [null, 28, 28, 1], "dtype": "float32"}},
            {"class_name": "Dense", "config": {"name": "dense", "units": 10,
                "activation": "softmax", "use_bias": true, "dtype": "float32"}}]}},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": [
            {"name": "dense/kernel", "shape": [784, 10], "dtype": "float32"},
            {"name": "dense/bias", "shape": [10], "dtype": "float32"}]}]}"#;
    let path = folder.join("model.json");
    std::fs::write(&path, model).unwrap();
    let weights: Vec<u8> = (0..7850)
        .flat_map(|i| (i as f32 * 1e-4).to_le_bytes())
        .collect();
    std::fs::write(folder.join("weights.bin"), weights).unwrap();
    path
}

#[test]
fn import_write_failure_names_writing() {
    let folder = std::env::temp_dir().join(format!("webcnn-cli-write-{}", std::process::id()));
    let model = tfjs_model(&folder);
    let out = folder.join("missing-folder").join("model.safetensors");
    let output = import_model(&model, &out);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "import into a missing folder succeeded"
    );
    assert!(
        stderr.contains(&format!("writing {} failed", out.display())),
        "{stderr}"
    );
    assert!(stderr.contains("check the path"), "{stderr}");
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn import_refuses_to_overwrite_its_inputs() {
    let folder = std::env::temp_dir().join(format!("webcnn-cli-import-{}", std::process::id()));
    let model = tfjs_model(&folder);
    let shard = folder.join("weights.bin");
    let before = [
        std::fs::read(&model).unwrap(),
        std::fs::read(&shard).unwrap(),
    ];

    for out in [&model, &shard] {
        let output = import_model(&model, out);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "import over {} succeeded",
            out.display()
        );
        assert!(stderr.contains("pass another output path"), "{stderr}");
    }
    assert_eq!(
        std::fs::read(&model).unwrap(),
        before[0],
        "model.json changed"
    );
    assert_eq!(
        std::fs::read(&shard).unwrap(),
        before[1],
        "weights.bin changed"
    );

    let out = folder.join("model.safetensors");
    let output = import_model(&model, &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn face_converter_refuses_to_overwrite_its_inputs() {
    let installed = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/face-detector/node_modules/@vladmandic/face-api/model");
    let folder = std::env::temp_dir().join(format!("webcnn-cli-face-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let names = [
        "tiny_face_detector_model-weights_manifest.json",
        "tiny_face_detector_model.bin",
    ];
    for name in names {
        std::fs::copy(installed.join(name), folder.join(name))
            .expect("face-api installed by scripts/fetch-face-detector.sh");
    }

    for name in names {
        let out = folder.join(name);
        let before = std::fs::read(&out).unwrap();
        let args = [
            "convert-face-detector",
            folder.to_str().unwrap(),
            out.to_str().unwrap(),
        ];
        let output = webcnn(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "conversion over {name} succeeded");
        assert!(stderr.contains("pass another output path"), "{stderr}");
        assert_eq!(std::fs::read(&out).unwrap(), before, "{name} changed");
    }
    std::fs::remove_dir_all(&folder).unwrap();
}

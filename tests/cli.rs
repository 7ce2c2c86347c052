//! The `webcnn` command line: JSON summary and error messages.

use std::process::Command;

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

#[test]
fn bad_arguments_fail_with_clear_messages() {
    let cases: [(&[&str], &str); 4] = [
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
    ];
    for (args, expected) in cases {
        let out = webcnn(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

//! face-api's tiny face detector, converted from the weights that scripts/fetch-face-detector.sh
//! installs from npm, on the astronaut portrait (lavapipe natively).

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use webcnn::cpu::CpuModel;
use webcnn::face::boxes::{iou, Detection};
use webcnn::face::{self, convert, DEFAULT_INPUT_SIZE, DEFAULT_SCORE_THRESHOLD};
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::io;

/// The face in tests/data/astronaut.png (512x512), in pixels: from the hairline (y 80) to just
/// below the chin (y 182), and from the left cheek (x 176) to the right cheek (x 274). Checked
/// by drawing the box on the photo and looking at a 3x enlarged crop of the head: each edge
/// touches the face's outline, the eyes sit at about y 100 and the mouth at about y 145.
const FACE: Detection = Detection {
    left: 176.0,
    top: 80.0,
    right: 274.0,
    bottom: 182.0,
    score: 1.0,
};

/// face-api's own detection on the same photo at 416x416: face-api 1.7.15 with TensorFlow.js
/// 4.22.0 on its CPU backend (`detectAllFaces` on the photo as an int32 tensor, Node.js 20).
/// face-api resizes tensors without half-pixel centres and webcnn with them, which moves the
/// box by a fraction of a pixel and the score in the third decimal.
const FACE_API: Detection = Detection {
    left: 163.25,
    top: 75.66,
    right: 279.29,
    bottom: 186.64,
    score: 0.9755,
};

/// face-api's `model/` folder as installed by scripts/fetch-face-detector.sh.
fn face_api_models() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/face-detector/node_modules/@vladmandic/face-api/model");
    assert!(
        dir.join(convert::MANIFEST).is_file(),
        "{} is missing; run scripts/fetch-face-detector.sh (scripts/install.sh runs it)",
        dir.display()
    );
    dir
}

/// Converts the detector and encodes it as a model file, with the encoder of `--save`.
fn detector_file(input_size: usize) -> Vec<u8> {
    let (config, weights) =
        convert::convert_dir(&face_api_models(), input_size).expect("conversion");
    io::encode(&config, &weights).expect("encoding")
}

/// Reads the astronaut portrait as a frame of RGBA pixels (red in the lowest byte), with its
/// width and height.
fn astronaut() -> (Vec<u32>, usize, usize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/astronaut.png");
    let file = std::fs::File::open(&path).expect("tests/data/astronaut.png");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut bytes = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut bytes).expect("PNG pixels");
    assert_eq!(info.color_type, png::ColorType::Rgb, "astronaut.png is RGB");
    let frame = bytes[..info.buffer_size()]
        .chunks_exact(3)
        .map(|rgb| u32::from_le_bytes([rgb[0], rgb[1], rgb[2], 255]))
        .collect();
    (frame, info.width as usize, info.height as usize)
}

#[test]
fn detector_finds_astronaut_face_on_gpu() {
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU"));
    let model = io::from_bytes(
        gpu,
        &detector_file(DEFAULT_INPUT_SIZE),
        "converted detector",
    )
    .expect("the model-file loader builds the detector");
    let (frame, width, height) = astronaut();

    let detect = || {
        pollster::block_on(face::detect(
            &model,
            &frame,
            width,
            height,
            DEFAULT_SCORE_THRESHOLD,
        ))
        .expect("detection")
    };
    // The first run compiles the pipelines; the second is timed.
    detect();
    let start = Instant::now();
    let faces = detect();
    let seconds = start.elapsed().as_secs_f64();
    println!("detection at {DEFAULT_INPUT_SIZE}x{DEFAULT_INPUT_SIZE}: {seconds:.3} s, {faces:?}");

    assert_eq!(faces.len(), 1, "one face in the portrait, found {faces:?}");
    let best = faces[0];
    let overlap = iou(&best, &FACE);
    println!("IoU with the hand-checked box: {overlap:.3}");
    assert!(
        overlap >= 0.5,
        "IoU {overlap} of {best:?} with the hand-checked box {FACE:?}"
    );

    let agreement = iou(&best, &FACE_API);
    assert!(
        agreement >= 0.97,
        "IoU {agreement} of {best:?} with face-api's {FACE_API:?}"
    );
    let score_gap = (best.score - FACE_API.score).abs();
    assert!(
        score_gap < 0.01,
        "score of {best:?} vs face-api's {FACE_API:?}"
    );

    // The square crop for recognition, centred on the detection, covers the whole face.
    let crop = face::face_crop(&best, 0.2);
    assert!(crop.left <= FACE.left, "{crop:?} vs {FACE:?}");
    assert!(crop.top <= FACE.top, "{crop:?} vs {FACE:?}");
    assert!(crop.left + crop.side >= FACE.right, "{crop:?} vs {FACE:?}");
    assert!(crop.top + crop.side >= FACE.bottom, "{crop:?} vs {FACE:?}");
}

/// Cuts columns `left..left + width` and rows `top..top + height` out of a frame.
fn cut(frame: &[u32], frame_width: usize, [left, top, width, height]: [usize; 4]) -> Vec<u32> {
    (top..top + height)
        .flat_map(|row| &frame[row * frame_width + left..][..width])
        .copied()
        .collect()
}

#[test]
fn detector_handles_wide_and_tall_frames() {
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU"));
    let model = io::from_bytes(
        gpu,
        &detector_file(DEFAULT_INPUT_SIZE),
        "converted detector",
    )
    .expect("the model-file loader builds the detector");
    let (frame, width, _) = astronaut();
    // A 4:3 frame (the top 384 rows, padded at the bottom) and a tall one (columns 100 to 419,
    // padded at the right); the face keeps its place relative to each frame's corner.
    for region in [[0, 0, 512, 384], [100, 0, 320, 512]] {
        let [left, top, w, h] = region;
        let part = cut(&frame, width, region);
        let faces = pollster::block_on(face::detect(&model, &part, w, h, DEFAULT_SCORE_THRESHOLD))
            .expect("detection");
        assert_eq!(faces.len(), 1, "{region:?}: {faces:?}");
        let shifted = Detection {
            left: FACE.left - left as f32,
            right: FACE.right - left as f32,
            top: FACE.top - top as f32,
            bottom: FACE.bottom - top as f32,
            score: 1.0,
        };
        let overlap = iou(&faces[0], &shifted);
        assert!(
            overlap >= 0.5,
            "{region:?}: IoU {overlap} of {:?}",
            faces[0]
        );
    }
}

#[test]
fn gpu_and_cpu_detections_agree() {
    // 224, one of face-api's smaller input sizes, keeps the CPU reference quick.
    let bytes = detector_file(224);
    let gpu = Rc::new(pollster::block_on(Gpu::new(GpuOptions::default())).expect("a GPU"));
    let model = io::from_bytes(gpu, &bytes, "converted detector").expect("GPU model");
    let cpu_model = CpuModel::from_bytes(&bytes, "converted detector").expect("CPU model");
    let (frame, width, height) = astronaut();

    let on_gpu = pollster::block_on(face::detect(&model, &frame, width, height, 0.3)).unwrap();
    let start = Instant::now();
    pollster::block_on(face::detect(&model, &frame, width, height, 0.3)).unwrap();
    let gpu_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let on_cpu = face::detect_cpu(&cpu_model, &frame, width, height, 0.3).unwrap();
    let cpu_seconds = start.elapsed().as_secs_f64();
    println!("detection at 224x224: GPU {gpu_seconds:.3} s, CPU {cpu_seconds:.3} s, {on_cpu:?}");
    assert!(!on_cpu.is_empty(), "the CPU path finds the face at 224");
    assert_eq!(on_gpu.len(), on_cpu.len(), "{on_gpu:?} vs {on_cpu:?}");
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert!((g.score - c.score).abs() < 1e-3, "{g:?} vs {c:?}");
        assert!(iou(g, c) > 0.99, "{g:?} vs {c:?}");
    }
    assert!(iou(&on_cpu[0], &FACE) >= 0.5, "{:?} at 224", on_cpu[0]);
}

#[test]
fn resized_detector_equals_conversion() {
    let resized =
        face::resize_detector(&detector_file(416), "converted detector", 224).expect("resizing");
    let (config, mut weights) = io::decode(&resized, "resized").unwrap();
    let (want_config, mut want_weights) = io::decode(&detector_file(224), "converted").unwrap();
    assert_eq!(config, want_config);
    // The file's tensor order is not fixed, so compare by name.
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    want_weights.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        weights == want_weights,
        "the resized weights differ from the conversion's"
    );
    let error = face::resize_detector(&detector_file(416), "converted detector", 300).unwrap_err();
    assert!(error.to_string().contains("got 300"), "{error}");
}

#[test]
fn resizing_another_model_is_rejected() {
    let config = webcnn::model::ModelConfig::preset("seed-cnn").unwrap();
    let model = CpuModel::new(config, 1).unwrap();
    let error =
        face::resize_detector(&model.to_bytes().unwrap(), "digits.safetensors", 224).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("digits.safetensors"), "{message}");
    assert!(message.contains("not the tiny face detector"), "{message}");
}

#[test]
fn bad_input_size_is_rejected() {
    let error = convert::convert_dir(&face_api_models(), 400).unwrap_err();
    assert!(error.to_string().contains("multiple of 32"), "{error}");
}

#[test]
fn truncated_weights_are_rejected() {
    let dir = face_api_models();
    let manifest = std::fs::read_to_string(dir.join(convert::MANIFEST)).unwrap();
    let mut shard = std::fs::read(dir.join("tiny_face_detector_model.bin")).unwrap();
    shard.truncate(shard.len() - 10);
    let error = convert::convert(&manifest, &[shard], 416, "manifest").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("\"conv8/bias\""), "{message}");
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn missing_shard_and_bad_storage_are_rejected() {
    let dir = face_api_models();
    let manifest = std::fs::read_to_string(dir.join(convert::MANIFEST)).unwrap();
    let error = convert::convert(&manifest, &[], 416, "manifest").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("tiny_face_detector_model.bin"),
        "{message}"
    );
    assert!(message.contains("0 were given"), "{message}");

    let shard = std::fs::read(dir.join("tiny_face_detector_model.bin")).unwrap();
    let mut groups: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    groups[0]["weights"][0]["dtype"] = "int32".into();
    let error = convert::convert(&groups.to_string(), &[shard], 416, "manifest").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("\"conv0/filters\""), "{message}");
    assert!(message.contains("dtype \"int32\""), "{message}");

    let error = convert::convert("{}", &[], 416, "manifest").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("not a tfjs weights manifest"), "{message}");
}

#[test]
fn longer_weights_are_rejected() {
    let dir = face_api_models();
    let manifest = std::fs::read_to_string(dir.join(convert::MANIFEST)).unwrap();
    let mut shard = std::fs::read(dir.join("tiny_face_detector_model.bin")).unwrap();
    shard.extend_from_slice(&[0; 12]);
    let error = convert::convert(&manifest, &[shard], 416, "manifest").unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("longer than the manifest describes"),
        "{message}"
    );
}

#[test]
fn foreign_tensor_is_rejected() {
    let dir = face_api_models();
    let manifest = std::fs::read_to_string(dir.join(convert::MANIFEST)).unwrap();
    let shard = std::fs::read(dir.join("tiny_face_detector_model.bin")).unwrap();
    // A batch-norm tensor appended to the group, stored as float32 after the others.
    let mut groups: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let extra = serde_json::json!({"name": "conv3/bn/sub", "shape": [1], "dtype": "float32"});
    groups[0]["weights"].as_array_mut().unwrap().push(extra);
    let mut shard = shard;
    shard.extend_from_slice(&1.0f32.to_le_bytes());
    let error = convert::convert(&groups.to_string(), &[shard], 416, "manifest").unwrap_err();
    assert!(
        error.to_string().contains("\"conv3/bn/sub\" is not part"),
        "{error}"
    );
}

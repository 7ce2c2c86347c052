//! Command line: train and evaluate webcnn models natively (Vulkan, Metal or DX12 through wgpu).

use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use clap::{Parser, Subcommand};
use webcnn::data::{embedded_mnist, load_dir, DataSplit};
use webcnn::error::counted;
use webcnn::gpu::{Gpu, GpuOptions};
use webcnn::json::{self, Object};
use webcnn::model::{Model, ModelConfig};
use webcnn::ops::augment::AugmentConfig;
use webcnn::optim::{Optimizer, OptimizerConfig};
use webcnn::train::{self, Callbacks, Session, TrainConfig};

/// Train convolutional networks on the GPU through WebGPU's native backends.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model, print one line per epoch and the test metrics.
    Train(TrainArgs),
    /// Convert face-api's tiny face detector (its model/ folder) into a webcnn model file.
    ConvertFaceDetector(ConvertFaceDetectorArgs),
    /// Convert a Keras model saved for TensorFlow.js (tfjs-layers model.json with its weight
    /// shards beside it) into a webcnn model file.
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct ConvertFaceDetectorArgs {
    /// face-api's model/ folder, holding tiny_face_detector_model-weights_manifest.json and the
    /// shard it names.
    dir: PathBuf,
    /// The webcnn model file to write (.safetensors).
    out: PathBuf,
    /// Input size in pixels per side, a multiple of 32 and at most 1440.
    #[arg(long, default_value_t = webcnn::face::DEFAULT_INPUT_SIZE, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    input_size: usize,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The tfjs-layers model.json.
    model_json: PathBuf,
    /// The webcnn model file to write (.safetensors).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Model: a preset (seed-cnn, lenet5) or a JSON model config file.
    #[arg(long, default_value = "seed-cnn")]
    model: String,
    /// Folder of IDX files (MNIST or Fashion-MNIST names, gzipped or not); default: the
    /// embedded 10,000 MNIST digits split 7:3.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    epochs: usize,
    /// Examples per training step.
    #[arg(long, default_value_t = 32, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    batch_size: usize,
    /// Learning rate (default 0.001 for adam, 0.01 for sgd).
    #[arg(long, allow_hyphen_values = true)]
    learning_rate: Option<f64>,
    /// Optimizer: adam or sgd.
    #[arg(long, default_value = "adam")]
    optimizer: String,
    /// Momentum for sgd.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    momentum: f64,
    /// Fraction of the training set held out for validation each epoch.
    #[arg(long, default_value_t = 0.1, allow_hyphen_values = true)]
    validation_split: f64,
    /// Train on at most this many examples of the training set (for quick tries).
    #[arg(long, allow_hyphen_values = true, value_parser = whole_number::<usize>)]
    limit: Option<usize>,
    /// Seed for weights, shuffling, the validation split, dropout and augmentation.
    #[arg(long, default_value_t = 1, allow_hyphen_values = true, value_parser = whole_number::<u64>)]
    seed: u64,
    /// Write the trained model (safetensors with the JSON config) to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Continue training from a model file written by --save, or a tfjs-layers model.json
    /// with its weight shards beside it (its config replaces --model).
    #[arg(long)]
    load: Option<PathBuf>,
    /// Print a JSON object with the results as the last line.
    #[arg(long)]
    json: bool,
    /// Augmentation: largest random rotation of each training image either way, in degrees
    /// (0 to 180).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    rotation_degrees: f32,
    /// Augmentation: largest random shift of each training image along each axis, in pixels
    /// (0 to the images' smaller side, 28 for MNIST).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    translation_pixels: f32,
    /// Augmentation: largest random relative change of size, a fraction from 0 to 0.9 (0.1
    /// draws sizes from 90 % to 110 %).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    scale: f32,
    /// Augmentation: mirror each training image left-right with probability 0.5.
    #[arg(long)]
    flip: bool,
    /// Augmentation: largest random relative change of brightness, a fraction from 0 to 1 (0.2
    /// multiplies each training image's pixel values by a gain from 0.8 to 1.2).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    brightness: f32,
}

/// Parses a count or seed, saying what is expected in place of clap's "invalid digit found in
/// string".
fn whole_number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("expected a whole number, got {text}"))
}

/// Returns the flag that sets a config field, such as `--translation-pixels` for
/// `translation_pixels`. clap names each flag after its [`TrainArgs`] field in kebab case, and
/// those fields have the config's names.
fn flag_name(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

/// How many times the loss of a uniform guess an epoch's loss may reach before the CLI warns
/// that training is diverging.
const DIVERGING: f64 = 4.0;

/// Formats a loss with 4 decimals, or in exponent form from 10,000 on, where plain digits grow
/// long.
fn loss_text(loss: f64) -> String {
    if loss.abs() >= 1e4 {
        format!("{loss:.3e}")
    } else {
        format!("{loss:.4}")
    }
}

fn main() -> ExitCode {
    // Mesa's Vulkan drivers print an error on every start without a runtime folder.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train(args) => pollster::block_on(run_train(args)),
        Command::ConvertFaceDetector(args) => run_convert_face_detector(&args),
        Command::Import(args) => run_import(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Converts the face detector without touching the GPU.
fn run_convert_face_detector(args: &ConvertFaceDetectorArgs) -> webcnn::Result<()> {
    webcnn::face::grid_size(args.input_size)?;
    let inputs = webcnn::face::convert::input_files(&args.dir)?;
    let (config, weights) = webcnn::face::convert::convert_dir(&args.dir, args.input_size)?;
    let params = write_model(&args.out, &inputs, &config, &weights)?;
    let (layers, size) = (config.layers.len(), args.input_size);
    println!(
        "converted the tiny face detector ({layers} layers, {params} parameters, {size}x{size} \
         input) into {}",
        args.out.display()
    );
    Ok(())
}

/// Converts a tfjs-layers model without touching the GPU and prints its layers.
fn run_import(args: &ImportArgs) -> webcnn::Result<()> {
    let inputs = webcnn::io::tfjs::input_files(&args.model_json)?;
    let (config, weights) = webcnn::io::tfjs::import(&args.model_json)?;
    let params = write_model(&args.out, &inputs, &config, &weights)?;
    println!(
        "imported {} layers, {params} parameters, into {}",
        config.layers.len(),
        args.out.display()
    );
    Ok(())
}

/// Writes a model file, unless `out` is one of the `inputs` it was converted from; returns the
/// number of parameters written.
fn write_model(
    out: &std::path::Path,
    inputs: &[PathBuf],
    config: &ModelConfig,
    weights: &webcnn::io::Weights,
) -> webcnn::Result<usize> {
    // A path that does not exist yet cannot be an input, so only existing ones are compared.
    if let Ok(target) = out.canonicalize() {
        let overwritten = inputs
            .iter()
            .find(|input| input.canonicalize().ok() == Some(target.clone()));
        if let Some(input) = overwritten {
            return Err(webcnn::Error::Config(format!(
                "the output {} is the input file {}, which writing would destroy; pass another \
                 output path",
                out.display(),
                input.display()
            )));
        }
    }
    let bytes = webcnn::io::encode(config, weights)?;
    webcnn::io::write_file(out, &bytes)?;
    Ok(weights.iter().map(|(_, _, values)| values.len()).sum())
}

fn model_config(name: &str) -> webcnn::Result<ModelConfig> {
    if webcnn::model::PRESETS.contains(&name) {
        return ModelConfig::preset(name);
    }
    let text = std::fs::read_to_string(name).map_err(|e| {
        webcnn::Error::Config(format!(
            "--model {name:?} is neither a preset ({}) nor a readable JSON config file ({e})",
            webcnn::model::PRESETS.join(", ")
        ))
    })?;
    ModelConfig::from_json(&text)
}

/// Fails early, before any training, when `path` cannot be written.
fn check_writable(path: &std::path::Path) -> webcnn::Result<()> {
    let existed = path.exists();
    let result = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path);
    if let Err(e) = result {
        return Err(webcnn::Error::Config(format!(
            "--save {} is not writable ({e}); pass a file path in an existing, writable folder",
            path.display()
        )));
    }
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

fn optimizer_config(args: &TrainArgs) -> webcnn::Result<OptimizerConfig> {
    let mut config = OptimizerConfig::named(&args.optimizer, args.learning_rate)?;
    if let OptimizerConfig::Sgd { momentum, .. } = &mut config {
        *momentum = args.momentum;
    } else if args.momentum != 0.0 {
        return Err(webcnn::Error::Config(format!(
            "--momentum applies to --optimizer sgd only, got --momentum {} with {}; drop it or \
             pass --optimizer sgd",
            args.momentum, args.optimizer
        )));
    }
    config.validate()?;
    Ok(config)
}

async fn run_train(args: TrainArgs) -> webcnn::Result<()> {
    let train_config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        validation_split: args.validation_split,
        seed: args.seed,
        shuffle: true,
    };
    train_config.validate()?;
    let optimizer_config = optimizer_config(&args)?;
    let augment = AugmentConfig {
        rotation_degrees: args.rotation_degrees,
        translation_pixels: args.translation_pixels,
        scale: args.scale,
        flip: args.flip,
        brightness: args.brightness,
    };
    if args.limit == Some(0) {
        return Err(webcnn::Error::Config(
            "--limit must be at least 1, got 0".into(),
        ));
    }
    if let Some(path) = &args.save {
        check_writable(path)?;
    }
    let mut data: DataSplit = match &args.data {
        Some(dir) => load_dir(dir)?,
        None => embedded_mnist()?,
    };
    if let Some(limit) = args.limit {
        let count = limit.min(data.train.len());
        data.train = data.train.subset(&(0..count).collect::<Vec<_>>());
    }
    augment.validate_named(data.train.height, data.train.width, flag_name)?;

    let gpu = Rc::new(Gpu::new(GpuOptions::default()).await?);
    let model = match &args.load {
        Some(path) => webcnn::io::load(gpu.clone(), path)?,
        None => Model::new(gpu.clone(), model_config(&args.model)?, args.seed)?,
    };
    train::check_dataset_fits(model.input_shape(), model.classes(), &data.train)?;
    let optimizer = Optimizer::new(&model, optimizer_config)?;
    println!(
        "adapter: {} ({:?}); train {} / test {} examples of {}",
        gpu.info.name,
        gpu.info.backend,
        data.train.len(),
        data.test.len(),
        data.train.name
    );
    print!("{}", model.summary());

    // The loss of a uniform guess. An epoch far above it is diverging.
    let guess_loss = (model.classes() as f64).ln();
    let callbacks = Callbacks {
        on_epoch: Box::new(move |r| {
            let val = match (r.val_loss, r.val_accuracy) {
                (Some(l), Some(a)) => format!(" val_loss {} val_accuracy {a:.4}", loss_text(l)),
                _ => String::new(),
            };
            println!(
                "epoch {}: loss {} accuracy {:.4}{val} ({:.0} examples/s, {:.1} s)",
                r.epoch,
                loss_text(r.loss),
                r.accuracy,
                r.examples_per_second,
                r.seconds
            );
            if r.loss > DIVERGING * guess_loss {
                eprintln!(
                    "warning: the loss {} is over {DIVERGING} times {guess_loss:.2}, the loss of \
                     a uniform guess; training is diverging, so lower the learning rate",
                    loss_text(r.loss)
                );
            }
        }),
        ..Callbacks::default()
    };
    let started = std::time::Instant::now();
    let mut session = Session::new(model, optimizer, &data.train, &train_config)?;
    session.set_augment(augment)?;
    let history = train::fit(&mut session, callbacks).await?;
    let train_seconds = started.elapsed().as_secs_f64();
    let model = session.model();
    let test = train::evaluate(model, &data.test, args.batch_size).await?;

    println!(
        "test: loss {} accuracy {:.4} ({})",
        loss_text(test.loss),
        test.accuracy,
        counted(data.test.len(), "example")
    );
    println!("class  precision  recall  f1      support");
    for (c, m) in test.per_class.iter().enumerate() {
        println!(
            "{c:<6} {:<10.4} {:<7.4} {:<7.4} {}",
            m.precision, m.recall, m.f1, m.support
        );
    }
    if let Some(path) = &args.save {
        webcnn::io::save(model, path).await?;
        println!("saved model to {}", path.display());
    }
    if args.json {
        let examples =
            history.iter().map(|r| r.examples_per_second).sum::<f64>() / history.len() as f64;
        let summary = Object(&[
            ("test_accuracy", &test.accuracy),
            ("test_loss", &test.loss),
            ("epochs", &history.len()),
            ("examples_per_second", &examples),
            ("train_seconds", &train_seconds),
            ("adapter", &gpu.info.name),
            ("history", &history),
            ("per_class", &test.per_class),
            ("confusion", &test.confusion),
        ]);
        println!("{}", json::to_string(&summary));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_losses_print_in_exponent_form() {
        assert_eq!(loss_text(0.12345), "0.1235");
        assert_eq!(loss_text(9999.0), "9999.0000");
        assert_eq!(loss_text(1.5e22), "1.500e22");
    }
}

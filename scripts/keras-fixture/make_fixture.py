"""Write the Keras-made import fixtures under tests/data/keras/.

Trains the classic Keras MNIST CNN (and a variant with Dropout, padding="same" and average
pooling) briefly on the MNIST digits in data/ and exports each with the tensorflowjs converter as
a tfjs-layers model: the CNN with float32 and with uint8 weights, the variant with float16
weights, both through an HDF5 file and through a .keras file. Keras's own predictions go beside
each export in expected.json. tests/keras_import.rs and the browser tests check webcnn's import
against them.

Run from the repository root: python scripts/keras-fixture/make_fixture.py
README.md in this folder gives the package versions and the install commands.
"""

import gzip
import json
import pathlib
import shutil
import tempfile

import keras
import numpy as np
import tensorflow as tf
import tensorflowjs as tfjs
import tf_keras
from tensorflowjs.converters import save_keras_model
from tensorflowjs.converters.converter import dispatch_keras_keras_to_tfjs_layers_model_conversion

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGES = ROOT / "data/mnist-10k-images-idx3-ubyte.gz"
LABELS = ROOT / "data/mnist-10k-labels-idx1-ubyte.gz"
OUT = ROOT / "tests/data/keras"

SEED = 1
TRAIN_COUNT = 4000
TEST_COUNT = 1000
# Digits whose full probability vectors expected.json stores: the first held-out digits.
PROBE_COUNT = 16
# Held-out digits whose top two probabilities lie closer than this are listed as near ties,
# because another implementation within the tests' tolerance (1e-4) may pick either digit.
NEAR_TIE = 2e-4


def read_idx(path, rank):
    """Read a gzipped u8 IDX file of the given rank into a numpy array."""
    data = gzip.decompress(path.read_bytes())
    magic = data[:4]
    if magic != bytes([0, 0, 0x08, rank]):
        raise ValueError(f"{path}: expected a u8 IDX file of rank {rank}, magic is {magic.hex()}")
    dims = np.frombuffer(data[4 : 4 + 4 * rank], dtype=">u4").astype(int)
    return np.frombuffer(data[4 + 4 * rank :], dtype=np.uint8).reshape(dims)


def load_digits():
    """Return the 10,000 digits as float32 NHWC in [0, 1] (byte / 255, as webcnn reads them)
    and their labels."""
    images = read_idx(IMAGES, 3).astype(np.float32) / np.float32(255)
    labels = read_idx(LABELS, 1).astype(np.int64)
    return images[..., np.newaxis], labels


def classic_cnn():
    """The Keras MNIST example's CNN."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="mnist_cnn",
    )


def same_padding_cnn():
    """A variant with options the classic CNN lacks: padding="same", strides, average
    pooling, a separate Activation layer, Dropout, a dense layer without bias and layer names of
    its own.

    A .keras file names each layer's weights after its class and position (conv2d, conv2d_1,
    dense, dense_1), whatever the layer's name. The conv layers' names are those two swapped,
    so an importer that looks the weights of a .keras export up by layer name gets the wrong
    shapes."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            keras.layers.Conv2D(
                16, 5, strides=2, padding="same", activation="relu", name="conv2d_1"
            ),
            keras.layers.Conv2D(32, 3, padding="same", name="conv2d"),
            keras.layers.Activation("relu"),
            keras.layers.AveragePooling2D(2),
            keras.layers.Dropout(0.25),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="tanh", use_bias=False, name="hidden"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax", name="logits"),
        ],
        name="same_padding_cnn",
    )


def keras2_cnn():
    """A small CNN in Keras 2 (tf_keras, the Keras of TensorFlow 2.15 and older), which writes
    `batch_input_shape` and names weights `{layer}/kernel` without the model's name."""
    return tf_keras.Sequential(
        [
            tf_keras.layers.Conv2D(16, 3, activation="relu", input_shape=(28, 28, 1)),
            tf_keras.layers.MaxPooling2D(2),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Dropout(0.5),
            tf_keras.layers.Dense(10, activation="softmax"),
        ]
    )


def dequantized(weights, quantization):
    """Return `weights` as the converter stores them with `quantization` and webcnn reads them
    back, using the converter's own quantisation code."""
    dtype = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[quantization]
    result = []
    for w in weights:
        stored, metadata = tfjs.quantization.quantize_weights(w, dtype)
        result.append(tfjs.quantization.dequantize_weights(stored, metadata))
    return result


def train(model, split):
    """Train `model` one epoch on the training digits."""
    images, labels, train_indices, _ = split
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        images[train_indices],
        labels[train_indices],
        batch_size=32,
        epochs=1,
        shuffle=True,
        verbose=2,
    )


def export(model, folder, quantization_map, source):
    """Export `model` to `folder` as a tfjs-layers model, through an HDF5 file with
    save_keras_model (`source` "h5") or through a Keras 3 .keras file as
    `tensorflowjs_converter --input_format keras_keras` does (`source` "keras"). The two name
    the weights differently in the manifest."""
    if source == "h5":
        save_keras_model(model, str(folder), quantization_dtype_map=quantization_map)
        return
    # The converter unpacks the .keras archive beside it, so it gets a folder of its own.
    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / "model.keras"
        model.save(path)
        dispatch_keras_keras_to_tfjs_layers_model_conversion(
            str(path), str(folder), quantization_dtype_map=quantization_map
        )


def export_fixture(name, model, keras_version, split, quantization, source):
    """Export the trained `model` to OUT/name from `source` (see export), with its weights
    quantised to `quantization` (None for float32), and write Keras's predictions with the
    stored weights to expected.json beside it."""
    images, labels, _, test_indices = split
    folder = OUT / name
    if folder.exists():
        shutil.rmtree(folder)
    trained = model.get_weights()
    quantization_map = {quantization: "*"} if quantization else None
    export(model, folder, quantization_map, source)
    if quantization:
        # Keras predicts with the weights the export stores, so webcnn can match it closely.
        model.set_weights(dequantized(trained, quantization))

    probabilities = model.predict(images[test_indices], batch_size=100, verbose=0)
    predictions = probabilities.argmax(axis=1)
    _, accuracy = model.evaluate(
        images[test_indices], labels[test_indices], batch_size=100, verbose=0
    )
    model.set_weights(trained)
    ranked = np.argsort(probabilities, axis=1)[:, ::-1]
    top2 = np.take_along_axis(probabilities, ranked[:, :2], axis=1)
    margins = top2[:, 0] - top2[:, 1]
    near_ties = [
        {"position": int(i), "top2": [int(d) for d in ranked[i, :2]], "margin": float(margins[i])}
        for i in np.flatnonzero(margins < NEAR_TIE)
    ]
    expected = {
        "made_by": {
            "script": "scripts/keras-fixture/make_fixture.py",
            "tensorflow": tf.__version__,
            "keras": keras_version,
            "tensorflowjs": tfjs.__version__,
        },
        "exported_from": source,
        "weights_quantization": quantization,
        "test_indices": [int(i) for i in test_indices],
        "test_predictions": [int(p) for p in predictions],
        "test_correct": int((predictions == labels[test_indices]).sum()),
        "test_accuracy": float(accuracy),
        "near_ties": near_ties,
        "probe_count": PROBE_COUNT,
        "probe_probabilities": probabilities[:PROBE_COUNT].astype(float).tolist(),
    }
    (folder / "expected.json").write_text(json.dumps(expected) + "\n")
    print(f"{name}: test accuracy {accuracy:.4f}, written to {folder}")


def main():
    tf.config.experimental.enable_op_determinism()
    images, labels = load_digits()
    order = np.random.default_rng(SEED).permutation(len(labels))
    train_indices = order[:TRAIN_COUNT]
    test_indices = order[TRAIN_COUNT : TRAIN_COUNT + TEST_COUNT]
    split = (images, labels, train_indices, test_indices)
    # Each model with its Keras package and its exports: fixture name, weight quantisation and
    # the file exported.
    models = [
        (classic_cnn, keras, [("mnist-cnn", None, "h5"), ("mnist-cnn-uint8", "uint8", "h5")]),
        (
            same_padding_cnn,
            keras,
            [
                ("same-padding-float16", "float16", "h5"),
                ("same-padding-keras-file", "float16", "keras"),
            ],
        ),
        (keras2_cnn, tf_keras, [("keras2-cnn", None, "h5")]),
    ]
    for build, package, exports in models:
        # A fresh session and seed per model keep layer names and weights independent of the
        # other models.
        package.backend.clear_session()
        package.utils.set_random_seed(SEED)
        model = build()
        train(model, split)
        for name, quantization, source in exports:
            export_fixture(name, model, package.__version__, split, quantization, source)


if __name__ == "__main__":
    main()

//! Plain-Rust CPU implementation of every op, forward and backward.
//!
//! The GPU kernels are tested against these functions, these functions are tested against finite
//! differences (`tests/reference_gradients.rs`), and the browser runs them when WebGPU is missing.
//! Everything is f32 with fixed layouts: activations NHWC `[N, H, W, C]`, convolution weights HWIO
//! `[KH, KW, C_in, C_out]`, dense weights `[in, out]`. Slice lengths that disagree with the given
//! shapes are internal contract violations and panic.

pub mod activation;
pub mod augment;
pub mod batch_norm;
pub mod conv;
pub mod crop;
pub mod depthwise;
pub mod dropout;
pub mod loss;
pub mod matmul;
pub mod optim;
pub mod pool;
pub mod reduce;

pub use activation::{activation_backward, activation_forward};
pub use batch_norm::{batch_norm_inference, fold_batch_norm, BatchNorm};
pub use conv::{conv2d_backward_filter, conv2d_backward_input, conv2d_forward};
pub use depthwise::{depthwise_backward_filter, depthwise_backward_input, depthwise_forward};
pub use dropout::{dropout_forward, dropout_mask, pcg_hash};
pub use loss::{argmax_rows, softmax_cross_entropy};
pub use matmul::{add_bias, matmul};
pub use optim::{adam_update, sgd_update, AdamHyper, SgdHyper};
pub use pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward};
pub use reduce::{bias_backward, sum};

//! Sine, cosine and the natural logarithm, for weight initialisation and augmentation. The wasm
//! build calls JavaScript's `Math`, so the module carries no code of its own for them (9.5 KB,
//! 4.1 KB gzipped, most of it the argument reduction of sine and cosine). Native builds use
//! Rust's.

/// Returns the sine and the cosine of `x` radians.
pub fn sin_cos(x: f64) -> (f64, f64) {
    #[cfg(target_arch = "wasm32")]
    return (js_sys::Math::sin(x), js_sys::Math::cos(x));
    #[cfg(not(target_arch = "wasm32"))]
    return x.sin_cos();
}

/// Returns the natural logarithm of `x`.
pub fn ln(x: f64) -> f64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Math::log(x);
    #[cfg(not(target_arch = "wasm32"))]
    return x.ln();
}

//! Parameter updates: Adam and SGD with momentum.

/// Adam hyperparameters (Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization").
///
/// They are f64, as in [`crate::optim::OptimizerConfig`], so that [`adam_update`] can form
/// `1 - beta` and the bias corrections in f64 before rounding to f32, as the GPU update does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    /// Step size (alpha).
    pub learning_rate: f64,
    /// Decay rate of the first-moment estimate.
    pub beta1: f64,
    /// Decay rate of the second-moment estimate.
    pub beta2: f64,
    /// Term added to the denominator, outside the square root.
    pub epsilon: f64,
}

/// Applies one Adam step to parameters p `[len]` with gradient g `[len]`, updating the moment
/// estimates m and v `[len]` in place. `step` is t in Algorithm 1 of Kingma & Ba 2015 and starts
/// at 1:
///
/// ```text
/// m = beta1 m + (1 - beta1) g
/// v = beta2 v + (1 - beta2) g^2
/// p -= lr (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
/// ```
///
/// The scalars are rounded to f32 as `shaders/optim.wgsl` receives them: `1 - beta1`,
/// `1 - beta2`, `1 - beta1^t` and `1 - beta2^t` are computed in f64 (the powers with `powi`,
/// as `Optimizer::next_scalars`) and then cast. The per-element arithmetic is f32.
pub fn adam_update(
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    h: &AdamHyper,
    step: u32,
) {
    assert!(step >= 1, "adam_update: step starts at 1");
    let len = p.len();
    assert!(
        g.len() == len && m.len() == len && v.len() == len,
        "adam_update: slice lengths differ"
    );

    let t = i32::try_from(step).expect("adam_update: step fits in i32");
    let correction1 = (1.0 - h.beta1.powi(t)) as f32;
    let correction2 = (1.0 - h.beta2.powi(t)) as f32;
    let (beta1, beta2) = (h.beta1 as f32, h.beta2 as f32);
    let (one_minus_beta1, one_minus_beta2) = ((1.0 - h.beta1) as f32, (1.0 - h.beta2) as f32);
    let (learning_rate, epsilon) = (h.learning_rate as f32, h.epsilon as f32);
    for i in 0..len {
        let grad = g[i];
        m[i] = beta1 * m[i] + one_minus_beta1 * grad;
        v[i] = beta2 * v[i] + one_minus_beta2 * grad * grad;
        let m_hat = m[i] / correction1;
        let v_hat = v[i] / correction2;
        p[i] -= learning_rate * m_hat / (v_hat.sqrt() + epsilon);
    }
}

/// SGD hyperparameters, with Keras's (non-Nesterov) momentum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdHyper {
    /// Step size.
    pub learning_rate: f32,
    /// Fraction of the previous velocity kept each step; 0 is plain SGD.
    pub momentum: f32,
}

/// Applies one SGD step to parameters p `[len]` with gradient g `[len]`, updating velocity `[len]`
/// in place: `velocity = momentum * velocity - lr * g`, then `p += velocity`.
pub fn sgd_update(p: &mut [f32], g: &[f32], velocity: &mut [f32], h: &SgdHyper) {
    let len = p.len();
    assert!(
        g.len() == len && velocity.len() == len,
        "sgd_update: slice lengths differ"
    );
    for i in 0..len {
        velocity[i] = h.momentum * velocity[i] - h.learning_rate * g[i];
        p[i] += velocity[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: f32, want: f64, tolerance: f64, quantity: &str) {
        assert!(
            (f64::from(got) - want).abs() <= tolerance,
            "{quantity}: {got} vs {want}"
        );
    }

    #[test]
    fn adam_first_two_steps_by_hand() {
        let h = AdamHyper {
            learning_rate: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        };
        // Element 0 starts at 1.0, element 1 at -2.0 and always gets a zero gradient.
        let mut p = [1.0f32, -2.0];
        let mut m = [0.0f32; 2];
        let mut v = [0.0f32; 2];

        // The tolerances on m and v cover the f32 rounding of the constants, which are formed
        // in f64 and rounded: 1 - 0.9 becomes 0.1 (0.100000001) and 1 - 0.999 becomes 0.001
        // (0.00100000005).

        // Step 1, g = 0.5:
        //   m = 0.1 * 0.5 = 0.05, v = 0.001 * 0.25 = 0.00025
        //   m_hat = 0.05 / (1 - 0.9) = 0.5, v_hat = 0.00025 / (1 - 0.999) = 0.25
        //   p = 1 - 0.1 * 0.5 / (sqrt(0.25) + 1e-8) = 0.900000002
        adam_update(&mut p, &[0.5, 0.0], &mut m, &mut v, &h, 1);
        assert_close(m[0], 0.05, 1e-7, "m after step 1");
        assert_close(v[0], 0.000_25, 1e-8, "v after step 1");
        assert_close(p[0], 0.900_000_002, 1e-7, "p after step 1");

        // Step 2, g = -1:
        //   m = 0.9 * 0.05 + 0.1 * -1 = -0.055
        //   v = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975
        //   m_hat = -0.055 / (1 - 0.81) = -0.289473684
        //   v_hat = 0.00124975 / (1 - 0.998001) = 0.625187594, sqrt(v_hat) = 0.790688051
        //   p = 0.900000002 + 0.1 * 0.289473684 / 0.790688061 = 0.936610354
        adam_update(&mut p, &[-1.0, 0.0], &mut m, &mut v, &h, 2);
        assert_close(m[0], -0.055, 1e-7, "m after step 2");
        assert_close(v[0], 0.001_249_75, 5e-8, "v after step 2");
        assert_close(p[0], 0.936_610_354, 1e-6, "p after step 2");

        // A zero gradient leaves zero moments, and the update 0 / (0 + epsilon) is 0.
        assert_eq!((p[1], m[1], v[1]), (-2.0, 0.0, 0.0));
    }

    #[test]
    fn adam_rounds_scalars_as_gpu_update() {
        // The GPU receives 1 - beta2 and 1 - beta2^t formed in f64 and rounded to f32. In f32,
        // 1 - 0.999 would be 0.00099998713, so v would miss 0.001 by 1.3e-8.
        let h = AdamHyper {
            learning_rate: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        };
        let (mut p, mut m, mut v) = ([0.0f32], [0.0f32], [0.0f32]);
        adam_update(&mut p, &[1.0], &mut m, &mut v, &h, 1);
        assert_eq!(m[0], 0.1f32);
        assert_eq!(v[0], 0.001f32);
        // m_hat = 0.1 / 0.1 = 1 and v_hat = 0.001 / 0.001 = 1 exactly, so p = -0.001 / (1 + 1e-7).
        assert_eq!(p[0], -0.001f32 / (1.0 + 1e-7f32));
    }

    #[test]
    fn sgd_momentum_two_steps_by_hand() {
        let h = SgdHyper {
            learning_rate: 0.1,
            momentum: 0.9,
        };
        let mut p = [1.0f32, 1.0];
        let mut velocity = [0.0f32; 2];

        // Step 1, g = [1, 2]: velocity = -0.1 g = [-0.1, -0.2], p = [0.9, 0.8].
        sgd_update(&mut p, &[1.0, 2.0], &mut velocity, &h);
        assert_close(velocity[0], -0.1, 1e-7, "velocity[0] after step 1");
        assert_close(velocity[1], -0.2, 1e-7, "velocity[1] after step 1");
        assert_close(p[0], 0.9, 1e-7, "p[0] after step 1");
        assert_close(p[1], 0.8, 1e-7, "p[1] after step 1");

        // Step 2, g = [1, -1]: velocity = 0.9 * [-0.1, -0.2] - 0.1 * [1, -1] = [-0.19, -0.08],
        // p = [0.9 - 0.19, 0.8 - 0.08] = [0.71, 0.72].
        sgd_update(&mut p, &[1.0, -1.0], &mut velocity, &h);
        assert_close(velocity[0], -0.19, 1e-7, "velocity[0] after step 2");
        assert_close(velocity[1], -0.08, 1e-7, "velocity[1] after step 2");
        assert_close(p[0], 0.71, 1e-6, "p[0] after step 2");
        assert_close(p[1], 0.72, 1e-6, "p[1] after step 2");
    }

    #[test]
    fn sgd_without_momentum_is_plain_gradient_step() {
        let h = SgdHyper {
            learning_rate: 0.5,
            momentum: 0.0,
        };
        let mut p = [1.0f32];
        let mut velocity = [0.0f32];
        sgd_update(&mut p, &[1.0], &mut velocity, &h);
        sgd_update(&mut p, &[1.0], &mut velocity, &h);
        // Each step moves by -0.5 * 1 and keeps nothing of the previous step.
        assert_eq!(p, [0.0]);
    }
}

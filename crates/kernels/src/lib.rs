//! The inner loops of webcnn's CPU convolutions and matrix products: matrix-vector products and
//! outer-product updates on row-major f32 matrices.
//!
//! They form a crate of their own because Cargo sets the optimisation level per crate. The wasm
//! build compiles webcnn for size (`opt-level = "z"`), which inlines few of core's iterator
//! adapters, and compiles this crate for speed (`opt-level = 3`). Each function does a whole
//! matrix-vector step, so the calls from size-optimised code cost little. They accumulate in the
//! order of the loops they replaced, so results are the same, except that a sum of negative
//! zeros may now come out as +0.0.

/// Adds `a * x` to `y`, over the shorter of the two.
pub fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}

/// Adds the vector-matrix product `x W` to `y`, with W row-major `[x.len(), y.len()]`. Each
/// element of `y` accumulates its products in the order of `x`.
pub fn add_vec_mat(y: &mut [f32], x: &[f32], w: &[f32]) {
    assert_eq!(w.len(), x.len() * y.len(), "add_vec_mat: w length");
    if y.is_empty() {
        return;
    }
    for (&xv, w_row) in x.iter().zip(w.chunks_exact(y.len())) {
        axpy(y, xv, w_row);
    }
}

/// Adds the matrix-vector product `W x` to `y`, with W row-major `[y.len(), x.len()]`. Each
/// element of `y` gets its dot product, summed in order, added once.
pub fn add_mat_vec(y: &mut [f32], w: &[f32], x: &[f32]) {
    assert_eq!(w.len(), x.len() * y.len(), "add_mat_vec: w length");
    if x.is_empty() {
        return;
    }
    for (yv, w_row) in y.iter_mut().zip(w.chunks_exact(x.len())) {
        *yv += dot(w_row, x);
    }
}

/// Adds the outer product of `x` and `y` to the f64 accumulators `acc`, row-major
/// `[x.len(), y.len()]`.
pub fn add_outer_f64(acc: &mut [f64], x: &[f32], y: &[f32]) {
    assert_eq!(acc.len(), x.len() * y.len(), "add_outer_f64: acc length");
    if y.is_empty() {
        return;
    }
    for (&xv, acc_row) in x.iter().zip(acc.chunks_exact_mut(y.len())) {
        let xv = f64::from(xv);
        for (a, &yv) in acc_row.iter_mut().zip(y) {
            *a += xv * f64::from(yv);
        }
    }
}

/// Returns the dot product of `a` and `b` over the shorter of the two, summed in order.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0;
    for (&p, &q) in a.iter().zip(b) {
        sum += p * q;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    // W = [[1, 2, 3], [4, 5, 6]].
    const W: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

    #[test]
    fn vec_mat_by_hand() {
        let mut y = [100.0, 0.0, 0.0];
        add_vec_mat(&mut y, &[1.0, 10.0], &W);
        assert_eq!(y, [141.0, 52.0, 63.0]);
    }

    #[test]
    fn mat_vec_by_hand() {
        let mut y = [100.0, 0.0];
        add_mat_vec(&mut y, &W, &[1.0, 10.0, 100.0]);
        assert_eq!(y, [421.0, 654.0]);
    }

    #[test]
    fn outer_by_hand() {
        let mut acc = [1.0; 6];
        add_outer_f64(&mut acc, &[1.0, 2.0], &[3.0, 4.0, 5.0]);
        assert_eq!(acc, [4.0, 5.0, 6.0, 7.0, 9.0, 11.0]);
    }

    #[test]
    fn dot_and_axpy_use_the_shorter_length() {
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0);
        let mut y = [1.0, 1.0];
        axpy(&mut y, 2.0, &[3.0, 4.0, 5.0]);
        assert_eq!(y, [7.0, 9.0]);
    }

    #[test]
    fn empty_operands_change_nothing() {
        let mut y = [1.0, 2.0];
        add_mat_vec(&mut y, &[], &[]);
        add_vec_mat(&mut y, &[], &[]);
        assert_eq!(y, [1.0, 2.0]);
        add_vec_mat(&mut [], &[1.0, 2.0], &[]);
        add_outer_f64(&mut [], &[1.0], &[]);
    }

    #[test]
    #[should_panic(expected = "add_vec_mat: w length")]
    fn vec_mat_rejects_a_short_matrix() {
        add_vec_mat(&mut [0.0; 3], &[1.0, 2.0], &W[..5]);
    }
}

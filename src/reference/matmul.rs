//! Matrix multiply with optional transposes, and bias broadcast.
//!
//! Dense layers use these with x `[N, in]`, w `[in, out]`, y `[N, out]`:
//! forward `matmul(x, w, N, in, out, false, false)` then [`add_bias`],
//! input gradient `matmul(dy, w, N, out, in, false, true)`,
//! weight gradient `matmul(x, dy, in, N, out, true, false)`.

use webcnn_kernels as kernels;

/// Computes `C = op(A) op(B)`, returning C `[m, n]`. A is stored `[m, k]`, or `[k, m]` when
/// `transpose_a`. B is stored `[k, n]`, or `[n, k]` when `transpose_b`. Accumulates in f32.
pub fn matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    transpose_a: bool,
    transpose_b: bool,
) -> Vec<f32> {
    assert_eq!(a.len(), m * k, "matmul: a length for m = {m}, k = {k}");
    assert_eq!(b.len(), k * n, "matmul: b length for k = {k}, n = {n}");

    // Each case picks the loop order whose innermost loop walks contiguous memory.
    match (transpose_a, transpose_b) {
        (false, false) => matmul_nn(a, b, m, k, n),
        (true, false) => matmul_tn(a, b, m, k, n),
        (false, true) => matmul_nt(a, b, m, k, n),
        // C = A_s^T B_s^T = (B_s A_s)^T, where A_s `[k, m]` and B_s `[n, k]` are the stored
        // matrices, so multiply without transposes and transpose the `[n, m]` result.
        (true, true) => transpose(&matmul_nn(b, a, n, k, m), n, m),
    }
}

/// Adds bias `[C]` to every row of y `[..., C]`.
pub fn add_bias(y: &mut [f32], bias: &[f32]) {
    assert!(!bias.is_empty(), "add_bias: bias is empty");
    assert_eq!(
        y.len() % bias.len(),
        0,
        "add_bias: y length {} is not a multiple of {}",
        y.len(),
        bias.len()
    );
    for row in y.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// Multiplies A `[m, k]` by B `[k, n]`: row i of C accumulates `A[i][p] * B[p][..]` over p.
fn matmul_nn(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        kernels::add_vec_mat(&mut c[i * n..(i + 1) * n], &a[i * k..(i + 1) * k], b);
    }
    c
}

/// Multiplies A stored transposed as `[k, m]` by B `[k, n]`.
fn matmul_tn(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for p in 0..k {
        let b_row = &b[p * n..(p + 1) * n];
        for i in 0..m {
            kernels::axpy(&mut c[i * n..(i + 1) * n], a[p * m + i], b_row);
        }
    }
    c
}

/// Multiplies A `[m, k]` by B stored transposed as `[n, k]`, so each C element is a dot product
/// of two contiguous rows.
fn matmul_nt(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        kernels::add_mat_vec(&mut c[i * n..(i + 1) * n], b, &a[i * k..(i + 1) * k]);
    }
    c
}

/// Transposes a row-major `[rows, cols]` matrix into `[cols, rows]`.
fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_2x3_by_3x2_by_hand() {
        // A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]].
        // C = [[1*7 + 2*9 + 3*11, 1*8 + 2*10 + 3*12], [4*7 + 5*9 + 6*11, 4*8 + 5*10 + 6*12]].
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let expected = vec![58.0, 64.0, 139.0, 154.0];
        assert_eq!(matmul(&a, &b, 2, 3, 2, false, false), expected);

        // The same product with A and/or B stored transposed.
        let a_t = [1.0, 4.0, 2.0, 5.0, 3.0, 6.0];
        let b_t = [7.0, 9.0, 11.0, 8.0, 10.0, 12.0];
        assert_eq!(matmul(&a_t, &b, 2, 3, 2, true, false), expected);
        assert_eq!(matmul(&a, &b_t, 2, 3, 2, false, true), expected);
        assert_eq!(matmul(&a_t, &b_t, 2, 3, 2, true, true), expected);
    }

    /// Textbook triple loop reading A and B through their transposes, in f64.
    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let a_ip = if ta { a[p * m + i] } else { a[i * k + p] };
                    let b_pj = if tb { b[j * k + p] } else { b[p * n + j] };
                    c[i * n + j] += f64::from(a_ip) * f64::from(b_pj);
                }
            }
        }
        c
    }

    #[test]
    fn matmul_matches_naive_for_all_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.61).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.37).cos()).collect();
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let c = matmul(&a, &b, m, k, n, ta, tb);
            let expected = naive(&a, &b, m, k, n, ta, tb);
            for (index, (&got, &want)) in c.iter().zip(&expected).enumerate() {
                assert!(
                    (f64::from(got) - want).abs() < 1e-5,
                    "ta={ta} tb={tb} [{index}]: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn matmul_with_empty_inner_axis_is_zero() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            assert_eq!(matmul(&[], &[], 2, 0, 3, ta, tb), vec![0.0; 6], "{ta} {tb}");
        }
    }

    #[test]
    fn matmul_with_an_empty_side_is_empty() {
        let a = [1.0, 2.0];
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            assert_eq!(
                matmul(&a, &[], 1, 2, 0, ta, tb),
                Vec::<f32>::new(),
                "n = 0, {ta} {tb}"
            );
            assert_eq!(
                matmul(&[], &a, 0, 2, 1, ta, tb),
                Vec::<f32>::new(),
                "m = 0, {ta} {tb}"
            );
        }
    }

    #[test]
    fn add_bias_broadcasts_over_rows() {
        let mut y = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        add_bias(&mut y, &[10.0, 20.0, 30.0]);
        assert_eq!(y, vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
    }
}

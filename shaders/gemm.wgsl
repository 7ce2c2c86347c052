// Tiled GEMM core, appended to an op module (conv2d.wgsl, matmul.wgsl) that defines:
//   gemm_m(), gemm_n(), gemm_k()   the problem size, C[M, N] = sum_k A[m, k] * B[k, n]
//   k_slice()                      K range of one split-K slice (a multiple of BK)
//   load_a(m, k), load_b(k, n)     operand elements, called only for m < M, n < N, k < K
//   store_c(m, n, slice, value)    writes one finished element of slice `slice`
//
// Each workgroup computes a BM x BN tile of C; each of its (BM / 4) * (BN / 4) threads keeps a
// 4 x 4 block in registers as four vec4 rows. K advances BK at a time through workgroup memory,
// stored k-major as vec4 so the inner loop reads one vec4 of A and one of B per k.
// Grid: x = ceil(N / BN), y = ceil(M / BM), z = split-K slices.

const BM: u32 = {{BM}}u;
const BN: u32 = {{BN}}u;
const BK: u32 = {{BK}}u;
const THREADS_N: u32 = BN / 4u;
const THREADS: u32 = (BM / 4u) * (BN / 4u);

var<workgroup> tile_a: array<vec4<f32>, BK * BM / 4u>; // [BK][BM / 4]
var<workgroup> tile_b: array<vec4<f32>, BK * BN / 4u>; // [BK][BN / 4]

fn a_or_zero(m: u32, k: u32, k_end: u32) -> f32 {
    if (m < gemm_m() && k < k_end) {
        return load_a(m, k);
    }
    return 0.0;
}

fn b_or_zero(k: u32, n: u32, k_end: u32) -> f32 {
    if (n < gemm_n() && k < k_end) {
        return load_b(k, n);
    }
    return 0.0;
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let k_begin = wg.z * k_slice();
    let k_end = min(k_begin + k_slice(), gemm_k());
    let tm = (lid / THREADS_N) * 4u;
    let tn = (lid % THREADS_N) * 4u;
    var acc: array<vec4<f32>, 4>;

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        // Cooperative load: each vec4 slot holds 4 consecutive m (or n) at one k.
        for (var i = lid; i < BK * BM / 4u; i += THREADS) {
            let k = k0 + i / (BM / 4u);
            let m = m0 + (i % (BM / 4u)) * 4u;
            tile_a[i] = vec4<f32>(
                a_or_zero(m, k, k_end),
                a_or_zero(m + 1u, k, k_end),
                a_or_zero(m + 2u, k, k_end),
                a_or_zero(m + 3u, k, k_end),
            );
        }
        for (var i = lid; i < BK * BN / 4u; i += THREADS) {
            let k = k0 + i / (BN / 4u);
            let n = n0 + (i % (BN / 4u)) * 4u;
            tile_b[i] = vec4<f32>(
                b_or_zero(k, n, k_end),
                b_or_zero(k, n + 1u, k_end),
                b_or_zero(k, n + 2u, k_end),
                b_or_zero(k, n + 3u, k_end),
            );
        }
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk++) {
            let a = tile_a[kk * (BM / 4u) + tm / 4u];
            let b = tile_b[kk * (BN / 4u) + tn / 4u];
            acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
            acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
            acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
            acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let m = m0 + tm + i;
        for (var j = 0u; j < 4u; j++) {
            let n = n0 + tn + j;
            if (m < gemm_m() && n < gemm_n()) {
                store_c(m, n, wg.z, acc[i][j]);
            }
        }
    }
}

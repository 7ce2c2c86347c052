// Tiled GEMM core, appended to an op module (conv2d.wgsl, matmul.wgsl) that defines:
//   gemm_m(), gemm_n(), gemm_k()   the problem size, C[M, N] = sum_k A[m, k] * B[k, n]
//   k_slice()                      K range of one split-K slice (a multiple of BK)
//   a_row(m) -> ARow, b_col(n) -> BCol   per-row and per-column index decoding
//   k_pos(k) -> KPos                     decoding of k, shared by both operands
//   a_value(ARow, KPos), b_value(KPos, BCol) -> f32    the operands
//   store_c(m, n, slice, value)    writes one finished element of slice `slice`
// Each thread decodes its rows and columns once, outside the K loop.
//
// Each workgroup computes a BM x BN tile of C; each of its (BM / 4) * (BN / 4) threads keeps a
// 4 x 4 block in registers as four vec4 rows. K advances BK = BN / 4 at a time through
// workgroup memory, stored k-major as vec4, so every thread loads at most one vec4 of A and one
// of B per step and the inner loop reads one vec4 of each per k.
// Grid: x = ceil(N / BN), y = ceil(M / BM), z = split-K slices.

const BM: u32 = {{BM}}u;
const BN: u32 = {{BN}}u;
const BK: u32 = BN / 4u;
const THREADS_N: u32 = BN / 4u;
const THREADS: u32 = (BM / 4u) * (BN / 4u);

var<workgroup> tile_a: array<vec4<f32>, BK * BM / 4u>; // [BK][BM / 4]
var<workgroup> tile_b: array<vec4<f32>, BK * BN / 4u>; // [BK][BN / 4]

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let k_begin = wg.z * k_slice();
    let k_end = min(k_begin + k_slice(), gemm_k());
    let tm = (lid / THREADS_N) * 4u;
    let tn = (lid % THREADS_N) * 4u;
    var acc: array<vec4<f32>, 4>;

    // This thread's A slot: 4 consecutive rows at one k offset (BK * BM / 4 == THREADS slots).
    let a_k = lid / (BM / 4u);
    let a_m = m0 + (lid % (BM / 4u)) * 4u;
    var a_rows = array<ARow, 4>(a_row(a_m), a_row(a_m + 1u), a_row(a_m + 2u), a_row(a_m + 3u));
    let a_ok = vec4<bool>(a_m < gemm_m(), a_m + 1u < gemm_m(), a_m + 2u < gemm_m(), a_m + 3u < gemm_m());
    // This thread's B slot, if any: 4 consecutive columns at one k offset.
    let b_slots = BK * BN / 4u;
    let b_k = lid / (BN / 4u);
    let b_n = n0 + (lid % (BN / 4u)) * 4u;
    var b_cols = array<BCol, 4>(b_col(b_n), b_col(b_n + 1u), b_col(b_n + 2u), b_col(b_n + 3u));
    let b_ok = vec4<bool>(b_n < gemm_n(), b_n + 1u < gemm_n(), b_n + 2u < gemm_n(), b_n + 3u < gemm_n());

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        var a = vec4<f32>(0.0);
        let ka = k0 + a_k;
        if (ka < k_end) {
            let q = k_pos(ka);
            for (var i = 0u; i < 4u; i++) {
                if (a_ok[i]) {
                    a[i] = a_value(a_rows[i], q);
                }
            }
        }
        tile_a[lid] = a;
        if (lid < b_slots) {
            var b = vec4<f32>(0.0);
            let kb = k0 + b_k;
            if (kb < k_end) {
                let q = k_pos(kb);
                for (var j = 0u; j < 4u; j++) {
                    if (b_ok[j]) {
                        b[j] = b_value(q, b_cols[j]);
                    }
                }
            }
            tile_b[lid] = b;
        }
        workgroupBarrier();

        for (var kk = 0u; kk < BK; kk++) {
            let av = tile_a[kk * (BM / 4u) + tm / 4u];
            let bv = tile_b[kk * (BN / 4u) + tn / 4u];
            acc[0] = fma(vec4<f32>(av.x), bv, acc[0]);
            acc[1] = fma(vec4<f32>(av.y), bv, acc[1]);
            acc[2] = fma(vec4<f32>(av.z), bv, acc[2]);
            acc[3] = fma(vec4<f32>(av.w), bv, acc[3]);
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

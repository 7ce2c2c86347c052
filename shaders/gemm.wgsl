// Tiled GEMM core, appended to an op module (conv2d.wgsl, matmul.wgsl) that defines:
//   gemm_m(), gemm_n(), gemm_k()   the problem size, C[M, N] = sum_k A[m, k] * B[k, n]
//   k_slice()                      K range of one split-K slice (a multiple of BK)
//   a_row(m) -> ARow, b_col(n) -> BCol   per-row and per-column index decoding
//   k_pos(k) -> KPos                     decoding of k, shared by both operands
//   a_value(ARow, KPos), b_value(KPos, BCol) -> f32    the operands (in-range indices only)
//   store_c(m, n, slice, value)    writes one finished element of slice `slice`
//
// A workgroup of BN threads computes a 64 x BN tile of C, each thread an 8 x 8 block held in 16
// vec4 registers. K advances BK = 8 at a time through workgroup memory, stored k-major as vec4.
// Each thread loads 8 consecutive rows of A at 64 / BN values of k, and 8 consecutive columns of
// B at one k; it decodes those rows and columns once, before the K loop.
// Every register array is indexed with constants only: on adapters that run shaders on CPU SIMD
// lanes (lavapipe, SwiftShader) a runtime index moves the array to memory, which measured 5x
// slower on a 512^3 product. Out-of-range rows, columns and k read a clamped in-range element
// and are replaced by 0.
// Grid: x = ceil(N / BN), y = ceil(M / 64), z = split-K slices.

const BM: u32 = 64u;
const BN: u32 = {{BN}}u;
const BK: u32 = 8u;
const THREADS: u32 = BN;
// Rounds of A loads per K step: the A tile has 8 * BM / 8 groups of 8 values, and BN threads.
const A_ROUNDS: u32 = BM / BN;

var<workgroup> tile_a: array<vec4<f32>, BK * BM / 4u>; // [BK][BM / 4]
var<workgroup> tile_b: array<vec4<f32>, BK * BN / 4u>; // [BK][BN / 4]
// The thread's 8 x 8 block of C: acc[2 * r] holds row r, columns 0..3, acc[2 * r + 1] 4..7.
var<private> acc: array<vec4<f32>, 16>;

// The 8 rows of A (or columns of B) one thread loads, each with its in-range flag in `valid`.
struct Rows8 { r0: ARow, r1: ARow, r2: ARow, r3: ARow, r4: ARow, r5: ARow, r6: ARow, r7: ARow }
struct Cols8 { c0: BCol, c1: BCol, c2: BCol, c3: BCol, c4: BCol, c5: BCol, c6: BCol, c7: BCol }

fn rows8(m: u32) -> Rows8 {
    let last = gemm_m() - 1u;
    return Rows8(
        a_row(min(m, last)), a_row(min(m + 1u, last)), a_row(min(m + 2u, last)), a_row(min(m + 3u, last)),
        a_row(min(m + 4u, last)), a_row(min(m + 5u, last)), a_row(min(m + 6u, last)), a_row(min(m + 7u, last)),
    );
}

fn cols8(n: u32) -> Cols8 {
    let last = gemm_n() - 1u;
    return Cols8(
        b_col(min(n, last)), b_col(min(n + 1u, last)), b_col(min(n + 2u, last)), b_col(min(n + 3u, last)),
        b_col(min(n + 4u, last)), b_col(min(n + 5u, last)), b_col(min(n + 6u, last)), b_col(min(n + 7u, last)),
    );
}

// Values of 8 consecutive indices starting at `first`, where `count` of them are in range.
fn keep(first: vec4<f32>, second: vec4<f32>, count: u32, half: u32) -> vec4<f32> {
    let index = vec4<u32>(0u, 1u, 2u, 3u) + vec4<u32>(half * 4u);
    return select(vec4<f32>(0.0), select(second, first, half == 0u), index < vec4<u32>(count));
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let k_begin = wg.z * k_slice();
    let k_end = min(k_begin + k_slice(), gemm_k());

    // Loading role: rows a_m .. a_m + 7 at k offsets a_k + round * BN / 8; columns b_n .. b_n + 7
    // at offset b_k.
    let a_k = lid / (BM / 8u);
    let a_m = m0 + (lid % (BM / 8u)) * 8u;
    let a_rows = rows8(a_m);
    let a_count = min(gemm_m() - min(a_m, gemm_m()), 8u);
    let b_k = lid / (BN / 8u);
    let b_n = n0 + (lid % (BN / 8u)) * 8u;
    let b_cols = cols8(b_n);
    let b_count = min(gemm_n() - min(b_n, gemm_n()), 8u);

    // Computing role: the 8 x 8 block at rows tm, columns tn of the tile.
    let tm = (lid / (BN / 8u)) * 8u;
    let tn = (lid % (BN / 8u)) * 8u;

    for (var k0 = k_begin; k0 < k_end; k0 += BK) {
        for (var round = 0u; round < A_ROUNDS; round++) {
            let k_offset = a_k + round * (THREADS / 8u);
            let ka = k0 + k_offset;
            let qa = k_pos(min(ka, k_end - 1u));
            let a_lo = vec4<f32>(a_value(a_rows.r0, qa), a_value(a_rows.r1, qa), a_value(a_rows.r2, qa), a_value(a_rows.r3, qa));
            let a_hi = vec4<f32>(a_value(a_rows.r4, qa), a_value(a_rows.r5, qa), a_value(a_rows.r6, qa), a_value(a_rows.r7, qa));
            let a_live = select(0u, a_count, ka < k_end);
            let a_slot = k_offset * (BM / 4u) + (a_m - m0) / 4u;
            tile_a[a_slot] = keep(a_lo, a_hi, a_live, 0u);
            tile_a[a_slot + 1u] = keep(a_lo, a_hi, a_live, 1u);
        }
        let kb = k0 + b_k;
        let qb = k_pos(min(kb, k_end - 1u));
        let b_lo = vec4<f32>(b_value(qb, b_cols.c0), b_value(qb, b_cols.c1), b_value(qb, b_cols.c2), b_value(qb, b_cols.c3));
        let b_hi = vec4<f32>(b_value(qb, b_cols.c4), b_value(qb, b_cols.c5), b_value(qb, b_cols.c6), b_value(qb, b_cols.c7));
        let b_live = select(0u, b_count, kb < k_end);
        let b_slot = b_k * (BN / 4u) + (b_n - n0) / 4u;
        tile_b[b_slot] = keep(b_lo, b_hi, b_live, 0u);
        tile_b[b_slot + 1u] = keep(b_lo, b_hi, b_live, 1u);
        workgroupBarrier();

        // Unrolled by hand: SwiftShader pays a fixed cost per loop iteration, and a 4x unrolled
        // FMA loop ran 2.7x faster there.
        multiply_step(0u, tm, tn);
        multiply_step(1u, tm, tn);
        multiply_step(2u, tm, tn);
        multiply_step(3u, tm, tn);
        multiply_step(4u, tm, tn);
        multiply_step(5u, tm, tn);
        multiply_step(6u, tm, tn);
        multiply_step(7u, tm, tn);
        workgroupBarrier();
    }

    let m = m0 + tm;
    let n = n0 + tn;
    store_row(m, n, wg.z, acc[0], acc[1]);
    store_row(m + 1u, n, wg.z, acc[2], acc[3]);
    store_row(m + 2u, n, wg.z, acc[4], acc[5]);
    store_row(m + 3u, n, wg.z, acc[6], acc[7]);
    store_row(m + 4u, n, wg.z, acc[8], acc[9]);
    store_row(m + 5u, n, wg.z, acc[10], acc[11]);
    store_row(m + 6u, n, wg.z, acc[12], acc[13]);
    store_row(m + 7u, n, wg.z, acc[14], acc[15]);
}

// Adds the outer product of tile column kk of A (rows tm .. tm + 7) and tile row kk of B
// (columns tn .. tn + 7) to the thread's block.
fn multiply_step(kk: u32, tm: u32, tn: u32) {
        let a0 = tile_a[kk * (BM / 4u) + tm / 4u];
        let a1 = tile_a[kk * (BM / 4u) + tm / 4u + 1u];
        let b0 = tile_b[kk * (BN / 4u) + tn / 4u];
        let b1 = tile_b[kk * (BN / 4u) + tn / 4u + 1u];
        acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
        acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
        acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
        acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
        acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
        acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
        acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
        acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
        acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
        acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
        acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
        acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
        acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
        acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
        acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
        acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
}

// Stores columns n .. n + 7 of row m (lo holds the first four), skipping those outside C.
fn store_row(m: u32, n: u32, slice: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (m >= gemm_m()) {
        return;
    }
    let count = min(gemm_n() - min(n, gemm_n()), 8u);
    if (count > 0u) { store_c(m, n, slice, lo.x); }
    if (count > 1u) { store_c(m, n + 1u, slice, lo.y); }
    if (count > 2u) { store_c(m, n + 2u, slice, lo.z); }
    if (count > 3u) { store_c(m, n + 3u, slice, lo.w); }
    if (count > 4u) { store_c(m, n + 4u, slice, hi.x); }
    if (count > 5u) { store_c(m, n + 5u, slice, hi.y); }
    if (count > 6u) { store_c(m, n + 6u, slice, hi.z); }
    if (count > 7u) { store_c(m, n + 7u, slice, hi.w); }
}

// Register-blocked GEMM core, appended to an op module (conv2d.wgsl, matmul.wgsl) that defines:
//   gemm_m(), gemm_n(), gemm_k()   the problem size, C[M, N] = sum_k A[m, k] * B[k, n]
//   k_slice()                      K range of one split-K slice (a multiple of 4)
//   a_row(m) -> ARow, b_col(n) -> BCol   per-row and per-column index decoding
//   k_pos(k) -> KPos                     decoding of k, shared by both operands
// and, per operand, one of these accesses (the sections of the same name select the core's side):
//   A_SCALAR  a_value(ARow, KPos) -> f32, one value of A
//   A_VEC4    a_quad(ARow, KQuad) -> vec4<f32>, A[m, k .. k + 3] with one load
//   B_SCALAR  b_value(KPos, BCol) -> f32, one value of B
//   B_ROWS4   b_row_offset(KPos) -> u32: B[k, n] is b[offset + n] in `b: array<vec4<f32>>`
//   B_COLS4   b_col_offset(KPos, BCol) -> u32: B[k .. k + 3, n] is b[offset .. offset + 3]
//   C_SCALAR  store_c(m, n, slice, f32), one finished element of slice `slice`
//   C_VEC4    store_c4(m, n, slice, vec4<f32>), C[m, n .. n + 3]; with C_BIAS the core adds
//             the op's `bias: array<f32>` (N values), loaded once per thread
// and either K_ALL (every k is computed) or K_RUNS, for an A with runs of zeros that depend on
// the row: `const K_RUN` and a_runs(ARow) -> u32, bit r set when A[row, k] can be nonzero for
// some k in r * K_RUN .. (r + 1) * K_RUN. A thread skips the runs that are dead in all its rows.
// Offsets count f32 values and are multiples of 4. B_ROWS4 and C_VEC4 need N to be a multiple of
// 4; A_VEC4 and B_COLS4 need each group of four k to share one contiguous run (K a multiple of 4).
//
// Each thread computes a 16 x 16 block of C in 16 row accumulators of 4 vec4. It reads A and B
// straight from storage, 4 values of k at a time, with no workgroup memory and no barrier.
// On SwiftShader every load whose index differs between lanes is a per-lane gather, whether from
// storage or from workgroup memory, so a shared tile saves no loads there and only adds
// barriers. A 16 x 16 block does 8 FMAs per value loaded, 32 per load where both operands come
// as vec4. On SwiftShader a 7744 x 64 x 288
// product ran at 2.1x the speed of a 64 x 64 workgroup tile (6.2 against 2.9 GFLOP/s, FMA peak
// 27 GFLOP/s), and on lavapipe the conv kernels ran 1.6x to 4.6x faster than with that tile.
// No accumulator or row is an array element: SwiftShader moves a private array indexed at run
// time to memory, which measured 5x slower on a 512^3 product.
// Out-of-range rows, columns and k read a clamped in-range element; A is replaced by 0 beyond
// K, and stores skip rows and columns outside C.
// Grid: x = ceil(ceil(M / 16) * slices / THREADS), y = ceil(N / 16).

const THREADS: u32 = 64u;

// 16 consecutive columns of one row of C (or of one row k of B).
struct Row { c0: vec4<f32>, c1: vec4<f32>, c2: vec4<f32>, c3: vec4<f32> }
// Rows k .. k + 3 of B over the thread's 16 columns.
struct BBlock { k0: Row, k1: Row, k2: Row, k3: Row }
// k .. k + 3 decoded, with `live` false for those at or beyond the slice's end.
struct KQuad { q0: KPos, q1: KPos, q2: KPos, q3: KPos, live: vec4<bool> }
// The thread's 16 rows of A and 16 columns of B, decoded once before the K loop.
struct Rows16 {
    r0: ARow, r1: ARow, r2: ARow, r3: ARow, r4: ARow, r5: ARow, r6: ARow, r7: ARow,
    r8: ARow, r9: ARow, r10: ARow, r11: ARow, r12: ARow, r13: ARow, r14: ARow, r15: ARow,
}
struct Cols16 {
    c0: BCol, c1: BCol, c2: BCol, c3: BCol, c4: BCol, c5: BCol, c6: BCol, c7: BCol,
    c8: BCol, c9: BCol, c10: BCol, c11: BCol, c12: BCol, c13: BCol, c14: BCol, c15: BCol,
}

fn zero_row() -> Row {
    return Row(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
}

fn rows16(m: u32) -> Rows16 {
    let l = gemm_m() - 1u;
    return Rows16(
        a_row(min(m, l)), a_row(min(m + 1u, l)), a_row(min(m + 2u, l)), a_row(min(m + 3u, l)),
        a_row(min(m + 4u, l)), a_row(min(m + 5u, l)), a_row(min(m + 6u, l)), a_row(min(m + 7u, l)),
        a_row(min(m + 8u, l)), a_row(min(m + 9u, l)), a_row(min(m + 10u, l)), a_row(min(m + 11u, l)),
        a_row(min(m + 12u, l)), a_row(min(m + 13u, l)), a_row(min(m + 14u, l)), a_row(min(m + 15u, l)),
    );
}

fn cols16(n: u32) -> Cols16 {
    let l = gemm_n() - 1u;
    return Cols16(
        b_col(min(n, l)), b_col(min(n + 1u, l)), b_col(min(n + 2u, l)), b_col(min(n + 3u, l)),
        b_col(min(n + 4u, l)), b_col(min(n + 5u, l)), b_col(min(n + 6u, l)), b_col(min(n + 7u, l)),
        b_col(min(n + 8u, l)), b_col(min(n + 9u, l)), b_col(min(n + 10u, l)), b_col(min(n + 11u, l)),
        b_col(min(n + 12u, l)), b_col(min(n + 13u, l)), b_col(min(n + 14u, l)), b_col(min(n + 15u, l)),
    );
}

fn k_quad(k: u32, k_end: u32) -> KQuad {
    let l = k_end - 1u;
    let live = vec4<u32>(k) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(k_end);
    return KQuad(k_pos(min(k, l)), k_pos(min(k + 1u, l)), k_pos(min(k + 2u, l)), k_pos(min(k + 3u, l)), live);
}

//#if A_SCALAR
// A[row, k .. k + 3], zero beyond K.
fn a_quad(r: ARow, q: KQuad) -> vec4<f32> {
    let v = vec4<f32>(a_value(r, q.q0), a_value(r, q.q1), a_value(r, q.q2), a_value(r, q.q3));
    return select(vec4<f32>(0.0), v, q.live);
}
//#endif

//#if B_SCALAR
// B[k .. k + 3, n0 .. n0 + 15], one value at a time.
fn b_block(q: KQuad, c: Cols16, n0: u32) -> BBlock {
    return BBlock(b_row(q.q0, c), b_row(q.q1, c), b_row(q.q2, c), b_row(q.q3, c));
}

// B[k, columns]: one row of the block.
fn b_row(q: KPos, c: Cols16) -> Row {
    return Row(
        vec4<f32>(b_value(q, c.c0), b_value(q, c.c1), b_value(q, c.c2), b_value(q, c.c3)),
        vec4<f32>(b_value(q, c.c4), b_value(q, c.c5), b_value(q, c.c6), b_value(q, c.c7)),
        vec4<f32>(b_value(q, c.c8), b_value(q, c.c9), b_value(q, c.c10), b_value(q, c.c11)),
        vec4<f32>(b_value(q, c.c12), b_value(q, c.c13), b_value(q, c.c14), b_value(q, c.c15)),
    );
}
//#endif

//#if B_ROWS4
// B[k .. k + 3, n0 .. n0 + 15] as 16 vec4 loads along rows. Columns past N read the row's last
// vec4 again; the core stores none of them.
fn b_block(q: KQuad, c: Cols16, n0: u32) -> BBlock {
    return BBlock(
        b_row4(b_row_offset(q.q0), n0), b_row4(b_row_offset(q.q1), n0),
        b_row4(b_row_offset(q.q2), n0), b_row4(b_row_offset(q.q3), n0),
    );
}

fn b_row4(offset: u32, n0: u32) -> Row {
    let last = gemm_n() - 4u;
    return Row(
        b[(offset + n0) / 4u], b[(offset + min(n0 + 4u, last)) / 4u],
        b[(offset + min(n0 + 8u, last)) / 4u], b[(offset + min(n0 + 12u, last)) / 4u],
    );
}
//#endif

//#if B_COLS4
// B[k .. k + 3, n0 .. n0 + 15] as one vec4 load per column, regrouped into rows.
fn b_block(q: KQuad, c: Cols16, n0: u32) -> BBlock {
    let k = q.q0;
    let v0 = b[b_col_offset(k, c.c0) / 4u];
    let v1 = b[b_col_offset(k, c.c1) / 4u];
    let v2 = b[b_col_offset(k, c.c2) / 4u];
    let v3 = b[b_col_offset(k, c.c3) / 4u];
    let v4 = b[b_col_offset(k, c.c4) / 4u];
    let v5 = b[b_col_offset(k, c.c5) / 4u];
    let v6 = b[b_col_offset(k, c.c6) / 4u];
    let v7 = b[b_col_offset(k, c.c7) / 4u];
    let v8 = b[b_col_offset(k, c.c8) / 4u];
    let v9 = b[b_col_offset(k, c.c9) / 4u];
    let v10 = b[b_col_offset(k, c.c10) / 4u];
    let v11 = b[b_col_offset(k, c.c11) / 4u];
    let v12 = b[b_col_offset(k, c.c12) / 4u];
    let v13 = b[b_col_offset(k, c.c13) / 4u];
    let v14 = b[b_col_offset(k, c.c14) / 4u];
    let v15 = b[b_col_offset(k, c.c15) / 4u];
    return BBlock(
        Row(vec4<f32>(v0.x, v1.x, v2.x, v3.x), vec4<f32>(v4.x, v5.x, v6.x, v7.x),
            vec4<f32>(v8.x, v9.x, v10.x, v11.x), vec4<f32>(v12.x, v13.x, v14.x, v15.x)),
        Row(vec4<f32>(v0.y, v1.y, v2.y, v3.y), vec4<f32>(v4.y, v5.y, v6.y, v7.y),
            vec4<f32>(v8.y, v9.y, v10.y, v11.y), vec4<f32>(v12.y, v13.y, v14.y, v15.y)),
        Row(vec4<f32>(v0.z, v1.z, v2.z, v3.z), vec4<f32>(v4.z, v5.z, v6.z, v7.z),
            vec4<f32>(v8.z, v9.z, v10.z, v11.z), vec4<f32>(v12.z, v13.z, v14.z, v15.z)),
        Row(vec4<f32>(v0.w, v1.w, v2.w, v3.w), vec4<f32>(v4.w, v5.w, v6.w, v7.w),
            vec4<f32>(v8.w, v9.w, v10.w, v11.w), vec4<f32>(v12.w, v13.w, v14.w, v15.w)),
    );
}
//#endif

// acc + a * B: one row of the block advanced by 4 values of k (a holds A[row, k .. k + 3]).
fn row_fma(acc: Row, a: vec4<f32>, b: BBlock) -> Row {
    var r = acc;
    r.c0 = fma(vec4<f32>(a.x), b.k0.c0, r.c0);
    r.c1 = fma(vec4<f32>(a.x), b.k0.c1, r.c1);
    r.c2 = fma(vec4<f32>(a.x), b.k0.c2, r.c2);
    r.c3 = fma(vec4<f32>(a.x), b.k0.c3, r.c3);
    r.c0 = fma(vec4<f32>(a.y), b.k1.c0, r.c0);
    r.c1 = fma(vec4<f32>(a.y), b.k1.c1, r.c1);
    r.c2 = fma(vec4<f32>(a.y), b.k1.c2, r.c2);
    r.c3 = fma(vec4<f32>(a.y), b.k1.c3, r.c3);
    r.c0 = fma(vec4<f32>(a.z), b.k2.c0, r.c0);
    r.c1 = fma(vec4<f32>(a.z), b.k2.c1, r.c1);
    r.c2 = fma(vec4<f32>(a.z), b.k2.c2, r.c2);
    r.c3 = fma(vec4<f32>(a.z), b.k2.c3, r.c3);
    r.c0 = fma(vec4<f32>(a.w), b.k3.c0, r.c0);
    r.c1 = fma(vec4<f32>(a.w), b.k3.c1, r.c1);
    r.c2 = fma(vec4<f32>(a.w), b.k3.c2, r.c2);
    r.c3 = fma(vec4<f32>(a.w), b.k3.c3, r.c3);
    return r;
}

@compute @workgroup_size(THREADS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    // Thread t of the column block takes row block t / slices and split-K slice t % slices, so
    // a GEMM with few rows and many slices still fills every lane.
    let t = wg.x * THREADS + lid;
    let slices = (gemm_k() + k_slice() - 1u) / k_slice();
    let slice = t % slices;
    let m0 = (t / slices) * 16u;
    let n0 = wg.y * 16u;
    if (m0 >= gemm_m()) {
        return;
    }
    let k_begin = slice * k_slice();
    let k_end = min(k_begin + k_slice(), gemm_k());
    let rows = rows16(m0);
    let cols = cols16(n0);
    let runs = live_runs(rows);

    let zero = zero_row();
    var acc0 = zero;
    var acc1 = zero;
    var acc2 = zero;
    var acc3 = zero;
    var acc4 = zero;
    var acc5 = zero;
    var acc6 = zero;
    var acc7 = zero;
    var acc8 = zero;
    var acc9 = zero;
    var acc10 = zero;
    var acc11 = zero;
    var acc12 = zero;
    var acc13 = zero;
    var acc14 = zero;
    var acc15 = zero;

    for (var k = next_k(k_begin, runs); k < k_end; k = next_k(k + 4u, runs)) {
        let q = k_quad(k, k_end);
        let b = b_block(q, cols, n0);
        acc0 = row_fma(acc0, a_quad(rows.r0, q), b);
        acc1 = row_fma(acc1, a_quad(rows.r1, q), b);
        acc2 = row_fma(acc2, a_quad(rows.r2, q), b);
        acc3 = row_fma(acc3, a_quad(rows.r3, q), b);
        acc4 = row_fma(acc4, a_quad(rows.r4, q), b);
        acc5 = row_fma(acc5, a_quad(rows.r5, q), b);
        acc6 = row_fma(acc6, a_quad(rows.r6, q), b);
        acc7 = row_fma(acc7, a_quad(rows.r7, q), b);
        acc8 = row_fma(acc8, a_quad(rows.r8, q), b);
        acc9 = row_fma(acc9, a_quad(rows.r9, q), b);
        acc10 = row_fma(acc10, a_quad(rows.r10, q), b);
        acc11 = row_fma(acc11, a_quad(rows.r11, q), b);
        acc12 = row_fma(acc12, a_quad(rows.r12, q), b);
        acc13 = row_fma(acc13, a_quad(rows.r13, q), b);
        acc14 = row_fma(acc14, a_quad(rows.r14, q), b);
        acc15 = row_fma(acc15, a_quad(rows.r15, q), b);
    }

    let add = c_addend(n0);
    store_row(m0, n0, slice, acc0, add);
    store_row(m0 + 1u, n0, slice, acc1, add);
    store_row(m0 + 2u, n0, slice, acc2, add);
    store_row(m0 + 3u, n0, slice, acc3, add);
    store_row(m0 + 4u, n0, slice, acc4, add);
    store_row(m0 + 5u, n0, slice, acc5, add);
    store_row(m0 + 6u, n0, slice, acc6, add);
    store_row(m0 + 7u, n0, slice, acc7, add);
    store_row(m0 + 8u, n0, slice, acc8, add);
    store_row(m0 + 9u, n0, slice, acc9, add);
    store_row(m0 + 10u, n0, slice, acc10, add);
    store_row(m0 + 11u, n0, slice, acc11, add);
    store_row(m0 + 12u, n0, slice, acc12, add);
    store_row(m0 + 13u, n0, slice, acc13, add);
    store_row(m0 + 14u, n0, slice, acc14, add);
    store_row(m0 + 15u, n0, slice, acc15, add);
}

//#if K_ALL
// Every k may meet a nonzero A.
fn live_runs(rows: Rows16) -> u32 {
    return 0u;
}

fn next_k(k: u32, runs: u32) -> u32 {
    return k;
}
//#endif

//#if K_RUNS
// K falls into at most 32 runs of K_RUN values (the op's constant). Bit r of the mask is set when
// A[m, k] can be nonzero in run r for one of the thread's rows (the op's `a_runs`).
fn live_runs(rows: Rows16) -> u32 {
    return a_runs(rows.r0) | a_runs(rows.r1) | a_runs(rows.r2) | a_runs(rows.r3)
        | a_runs(rows.r4) | a_runs(rows.r5) | a_runs(rows.r6) | a_runs(rows.r7)
        | a_runs(rows.r8) | a_runs(rows.r9) | a_runs(rows.r10) | a_runs(rows.r11)
        | a_runs(rows.r12) | a_runs(rows.r13) | a_runs(rows.r14) | a_runs(rows.r15);
}

// k when its run is live, else the first k of the next live run, else 0xffffffff. The K loop
// steps through this rather than masking dead runs: SwiftShader runs both sides of a branch, but
// a loop only while one of its lanes is active, so lanes that share their dead runs skip them.
fn next_k(k: u32, runs: u32) -> u32 {
    let run = k / K_RUN;
    let ahead = select(0u, runs >> run, run < 32u);
    let next = select(0xffffffffu, (run + countTrailingZeros(ahead)) * K_RUN, ahead != 0u);
    return select(next, k, (ahead & 1u) != 0u);
}
//#endif

//#if C_NO_BIAS
fn c_addend(n0: u32) -> Row {
    return zero_row();
}
//#endif

//#if C_BIAS
// bias[n0 .. n0 + 15], added to every row of the block; past N it repeats the last vec4, which
// is never stored.
fn c_addend(n0: u32) -> Row {
    let last = gemm_n() - 4u;
    return Row(bias4(n0), bias4(min(n0 + 4u, last)), bias4(min(n0 + 8u, last)), bias4(min(n0 + 12u, last)));
}

fn bias4(n: u32) -> vec4<f32> {
    return vec4<f32>(bias[n], bias[n + 1u], bias[n + 2u], bias[n + 3u]);
}
//#endif

//#if C_SCALAR
// Stores columns n .. n + 15 of row m, skipping those outside C (`add` is unused).
fn store_row(m: u32, n: u32, slice: u32, r: Row, add: Row) {
    if (m >= gemm_m()) {
        return;
    }
    let count = min(gemm_n() - min(n, gemm_n()), 16u);
    store4(m, n, slice, r.c0, count);
    store4(m, n + 4u, slice, r.c1, select(0u, count - 4u, count > 4u));
    store4(m, n + 8u, slice, r.c2, select(0u, count - 8u, count > 8u));
    store4(m, n + 12u, slice, r.c3, select(0u, count - 12u, count > 12u));
}

// Stores the first `count` (at most 4) values of v at columns n, n + 1, ...
fn store4(m: u32, n: u32, slice: u32, v: vec4<f32>, count: u32) {
    if (count > 0u) { store_c(m, n, slice, v.x); }
    if (count > 1u) { store_c(m, n + 1u, slice, v.y); }
    if (count > 2u) { store_c(m, n + 2u, slice, v.z); }
    if (count > 3u) { store_c(m, n + 3u, slice, v.w); }
}
//#endif

//#if C_VEC4
// Stores columns n .. n + 15 of row m plus `add` as four vec4, skipping those outside C.
fn store_row(m: u32, n: u32, slice: u32, r: Row, add: Row) {
    if (m >= gemm_m()) {
        return;
    }
    if (n < gemm_n()) { store_c4(m, n, slice, r.c0 + add.c0); }
    if (n + 4u < gemm_n()) { store_c4(m, n + 4u, slice, r.c1 + add.c1); }
    if (n + 8u < gemm_n()) { store_c4(m, n + 8u, slice, r.c2 + add.c2); }
    if (n + 12u < gemm_n()) { store_c4(m, n + 12u, slice, r.c3 + add.c3); }
}
//#endif

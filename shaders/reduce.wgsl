// Reductions with a fixed summation order, so results repeat exactly.
// SUM_SLICES   out[i] = (ACCUMULATE ? out[i] : 0) + sum_s part[s * len + i], s < slices
//              (split-K partials of the filter gradient, bias-gradient partials)
//                                                   bindings: 1 part, 2 out
// COLUMN_SUMS  part[chunk, c] = sum over rows r in chunk of x[r, c], x [rows, cols], chunks of
//              ROWS_PER_CHUNK rows; grid x = ceil(cols / 64), y = chunks.
//                                                   bindings: 1 x, 2 part
// Elementwise grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

struct Params {
    len: u32, slices: u32, rows: u32, cols: u32,
}

const WG: u32 = 64u;
const ROWS_PER_CHUNK: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;

//#if SUM_SLICES
const ACCUMULATE: u32 = {{ACCUMULATE}}u;

@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn sum_slices(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = (wg.x + wg.y * nwg.x) * WG + lid;
    if (i >= p.len) {
        return;
    }
    var total = 0.0;
    for (var s = 0u; s < p.slices; s++) {
        total += part[s * p.len + i];
    }
    if (ACCUMULATE == 1u) {
        total += out[i];
    }
    out[i] = total;
}
//#endif

//#if COLUMN_SUMS
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> part: array<f32>;

@compute @workgroup_size(WG)
fn column_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let col = wg.x * WG + lid;
    if (col >= p.cols) {
        return;
    }
    let first = wg.y * ROWS_PER_CHUNK;
    let last = min(first + ROWS_PER_CHUNK, p.rows);
    var total = 0.0;
    for (var r = first; r < last; r++) {
        total += x[r * p.cols + col];
    }
    part[wg.y * p.cols + col] = total;
}
//#endif

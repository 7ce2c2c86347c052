// Matrix product C[M, N] = op(A)[M, K] * op(B)[K, N] with optional transposes; the GEMM core is
// gemm.wgsl. A is stored [M, K], or [K, M] when TRANSPOSE_A; B is stored [K, N], or [N, K] when
// TRANSPOSE_B; C is [M, N] row-major. Dense layers use it with x [batch, in], w [in, out]:
//   forward  y = act(x w + bias)      (BIAS on)
//   dx       = dy w^T                 (TRANSPOSE_B)
//   dw       = x^T dy                 (TRANSPOSE_A)
// Bindings: 0 params, 1 a, 2 b, 3 c, 4 bias (BIAS). Each is array<vec4<f32>> where the GEMM
// core's A_VEC4 (A not transposed, K a multiple of 4), B_ROWS4 (B not transposed, N a multiple
// of 4), B_COLS4 (B transposed, K a multiple of 4) or C_VEC4 (N a multiple of 4) access is on.

struct Params {
    m: u32, n: u32, k: u32, k_slice: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
//#if A_SCALAR
@group(0) @binding(1) var<storage, read> a: array<f32>;
//#endif
//#if A_VEC4
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
//#endif
//#if B_SCALAR
@group(0) @binding(2) var<storage, read> b: array<f32>;
//#endif
//#if B_VEC4
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
//#endif
//#if C_SCALAR
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
//#endif
//#if C_VEC4
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;
//#endif

const TRANSPOSE_A: u32 = {{TRANSPOSE_A}}u;
const TRANSPOSE_B: u32 = {{TRANSPOSE_B}}u;

fn gemm_m() -> u32 { return p.m; }
fn gemm_n() -> u32 { return p.n; }
fn gemm_k() -> u32 { return p.k; }
fn k_slice() -> u32 { return p.k_slice; }

alias ARow = u32;
alias KPos = u32;
alias BCol = u32;

fn a_row(m: u32) -> ARow { return m; }
fn k_pos(k: u32) -> KPos { return k; }
fn b_col(n: u32) -> BCol { return n; }

//#if A_SCALAR
fn a_value(m: ARow, k: KPos) -> f32 {
    if (TRANSPOSE_A == 1u) {
        return a[k * p.m + m];
    }
    return a[m * p.k + k];
}
//#endif

//#if A_VEC4
fn a_quad(m: ARow, q: KQuad) -> vec4<f32> {
    return a[(m * p.k + q.q0) / 4u];
}
//#endif

//#if B_SCALAR
fn b_value(k: KPos, n: BCol) -> f32 {
    if (TRANSPOSE_B == 1u) {
        return b[n * p.k + k];
    }
    return b[k * p.n + n];
}
//#endif

//#if B_ROWS4
fn b_row_offset(k: KPos) -> u32 { return k * p.n; }
//#endif

//#if B_COLS4
fn b_col_offset(k: KPos, n: BCol) -> u32 { return n * p.k + k; }
//#endif

//#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<f32>;

//#if C_SCALAR
fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[m * p.n + n] = activate(value + bias[n]);
}
//#endif

//#if C_VEC4
fn store_c4(m: u32, n: u32, slice: u32, v: vec4<f32>) {
    c[(m * p.n + n) / 4u] = vec4<f32>(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
}
//#endif
//#endif

//#if NO_BIAS
//#if C_SCALAR
fn store_c(m: u32, n: u32, slice: u32, value: f32) {
    c[(slice * p.m + m) * p.n + n] = value;
}
//#endif

//#if C_VEC4
fn store_c4(m: u32, n: u32, slice: u32, value: vec4<f32>) {
    c[((slice * p.m + m) * p.n + n) / 4u] = value;
}
//#endif
//#endif

// Parameter updates over one contiguous range of the parameter arena, one thread per element.
// step holds the per-step scalars written by the host before each step:
//   step[0] learning rate, step[1] 1 - beta1^t, step[2] 1 - beta2^t (t counts from 1).
// ADAM  Kingma & Ba (2015), Algorithm 1:
//       m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//       param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + epsilon)
//                                          bindings: 1 param, 2 grad, 3 m, 4 v, 5 step
// SGD   velocity = momentum * velocity - lr * g;  param += velocity   (Keras SGD)
//                                          bindings: 1 param, 2 grad, 3 velocity, 4 step
// Grid: 64-thread workgroups, linear index id.x + id.y * num_workgroups.x.

// The complements 1 - beta are computed in f64 on the host: 1 - 0.999 in f32 is off by 1e-5.
struct Params {
    len: u32, beta1: f32, beta2: f32, epsilon: f32,
    one_minus_beta1: f32, one_minus_beta2: f32, _pad0: u32, _pad1: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;

fn linear_index(wg: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wg.x + wg.y * nwg.x) * WG + lid;
}

//#if ADAM
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> step: array<f32>;

@compute @workgroup_size(WG)
fn adam(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.len) {
        return;
    }
    let g = grad[i];
    let m_new = p.beta1 * m[i] + p.one_minus_beta1 * g;
    let v_new = p.beta2 * v[i] + p.one_minus_beta2 * g * g;
    m[i] = m_new;
    v[i] = v_new;
    let m_hat = m_new / step[1];
    let v_hat = v_new / step[2];
    param[i] -= step[0] * m_hat / (sqrt(v_hat) + p.epsilon);
}
//#endif

//#if SGD
@group(0) @binding(3) var<storage, read_write> velocity: array<f32>;
@group(0) @binding(4) var<storage, read> step: array<f32>;

@compute @workgroup_size(WG)
fn sgd(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_index(wg, nwg, lid);
    if (i >= p.len) {
        return;
    }
    // For SGD the uniform's beta1 carries the momentum.
    let vel = p.beta1 * velocity[i] - step[0] * grad[i];
    velocity[i] = vel;
    param[i] += vel;
}
//#endif

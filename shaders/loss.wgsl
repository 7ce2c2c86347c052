// Softmax + sparse categorical cross-entropy, fused, and the metrics reduced from it.
// SOFTMAX_CE  one thread per sample r of logits [N, C] and labels [N]:
//             loss[r] = max + ln(sum_j exp(z_j - max)) - z[label]   (log-sum-exp: exact and
//             finite for any finite logits), dlogits[r, j] = (softmax_j - [j == label]) * scale
//             (scale = 1 / batch size, or 1 / full batch for a chunk of a split batch),
//             pred[r] = first argmax.       bindings: 1 logits, 2 labels, 3 loss, 4 dlogits, 5 pred
// METRICS     one workgroup: metrics[0] += sum(loss), metrics[1] += #(pred == label),
//             metrics[2] += N.               bindings: 1 loss, 2 pred, 3 labels, 4 metrics
// CONFUSION   confusion[label * C + pred] += 1 with atomics.
//                                           bindings: 1 pred, 2 labels, 3 confusion [C, C]

struct Params {
    batch: u32, classes: u32, scale: f32, _pad: u32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;

//#if SOFTMAX_CE
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read_write> pred: array<u32>;

@compute @workgroup_size(WG)
fn softmax_ce(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r >= p.batch) {
        return;
    }
    let base = r * p.classes;
    var top = logits[base];
    var top_index = 0u;
    for (var j = 1u; j < p.classes; j++) {
        if (logits[base + j] > top) {
            top = logits[base + j];
            top_index = j;
        }
    }
    var total = 0.0;
    for (var j = 0u; j < p.classes; j++) {
        total += exp(logits[base + j] - top);
    }
    let label = labels[r];
    // Subtract the label's logit from the maximum first, so large logits cancel exactly.
    loss[r] = (top - logits[base + label]) + log(total);
    pred[r] = top_index;

    for (var j = 0u; j < p.classes; j++) {
        let softmax = exp(logits[base + j] - top) / total;
        dlogits[base + j] = (softmax - select(0.0, 1.0, j == label)) * p.scale;
    }
}
//#endif

//#if METRICS
@group(0) @binding(1) var<storage, read> loss: array<f32>;
@group(0) @binding(2) var<storage, read> pred: array<u32>;
@group(0) @binding(3) var<storage, read> labels: array<u32>;
@group(0) @binding(4) var<storage, read_write> metrics: array<f32>;

var<workgroup> partial_loss: array<f32, WG>;
var<workgroup> partial_correct: array<f32, WG>;

@compute @workgroup_size(WG)
fn metrics_sum(@builtin(local_invocation_index) lid: u32) {
    var loss_sum = 0.0;
    var correct = 0.0;
    for (var r = lid; r < p.batch; r += WG) {
        loss_sum += loss[r];
        correct += select(0.0, 1.0, pred[r] == labels[r]);
    }
    partial_loss[lid] = loss_sum;
    partial_correct[lid] = correct;
    workgroupBarrier();

    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            partial_loss[lid] += partial_loss[lid + stride];
            partial_correct[lid] += partial_correct[lid + stride];
        }
        workgroupBarrier();
    }
    if (lid == 0u) {
        metrics[0] += partial_loss[0];
        metrics[1] += partial_correct[0];
        metrics[2] += f32(p.batch);
    }
}
//#endif

//#if CONFUSION
@group(0) @binding(1) var<storage, read> pred: array<u32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> confusion: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn confusion_count(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x;
    if (r < p.batch) {
        atomicAdd(&confusion[labels[r] * p.classes + pred[r]], 1u);
    }
}
//#endif

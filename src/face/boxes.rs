//! Boxes from the detector's head: decoding with face-api's anchors and sigmoid/exp rules,
//! intersection over union and non-max suppression.

use super::{ANCHORS, BOX_VALUES};
use crate::json::{from_json, to_json};

/// A detected face: a box in fractions of the detector's square input, and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    /// Left edge, 0 at the input's left.
    pub left: f32,
    /// Top edge, 0 at the input's top.
    pub top: f32,
    /// Right edge.
    pub right: f32,
    /// Bottom edge.
    pub bottom: f32,
    /// Confidence in (0, 1): the sigmoid of the anchor's score output.
    pub score: f32,
}

to_json!(Detection {
    left,
    top,
    right,
    bottom,
    score,
});
from_json!(lenient Detection {
    left,
    top,
    right,
    bottom,
    score,
});

impl Detection {
    /// Width (0 when the box is empty).
    pub fn width(&self) -> f32 {
        (self.right - self.left).max(0.0)
    }

    /// Height (0 when the box is empty).
    pub fn height(&self) -> f32 {
        (self.bottom - self.top).max(0.0)
    }

    /// Returns the box with every coordinate multiplied by `factor` (for example the side of the
    /// padded square image, to get pixels).
    pub fn scaled(&self, factor: f32) -> Detection {
        Detection {
            left: self.left * factor,
            top: self.top * factor,
            right: self.right * factor,
            bottom: self.bottom * factor,
            score: self.score,
        }
    }
}

/// Intersection over union of two boxes; 0 when both are empty.
pub fn iou(a: &Detection, b: &Detection) -> f32 {
    let width = (a.right.min(b.right) - a.left.max(b.left)).max(0.0);
    let height = (a.bottom.min(b.bottom) - a.top.max(b.top)).max(0.0);
    let intersection = width * height;
    let union = a.width() * a.height() + b.width() * b.height() - intersection;
    if union > 0.0 {
        intersection / union
    } else {
        0.0
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Decodes the head output `[grid, grid, anchors, 5]` (row-major, as the model's flattened
/// output) into every box whose score exceeds `score_threshold`, in grid order.
pub fn decode(head: &[f32], grid: usize, score_threshold: f32) -> Vec<Detection> {
    assert_eq!(
        head.len(),
        grid * grid * ANCHORS.len() * BOX_VALUES,
        "head length"
    );
    let cells = grid as f32;
    let mut detections = Vec::new();
    for (index, t) in head.chunks_exact(BOX_VALUES).enumerate() {
        let score = sigmoid(t[4]);
        if score <= score_threshold {
            continue;
        }
        let anchor = ANCHORS[index % ANCHORS.len()];
        let cell = index / ANCHORS.len();
        let (row, col) = ((cell / grid) as f32, (cell % grid) as f32);
        let centre_x = (col + sigmoid(t[0])) / cells;
        let centre_y = (row + sigmoid(t[1])) / cells;
        let width = t[2].exp() * anchor.0 / cells;
        let height = t[3].exp() * anchor.1 / cells;
        detections.push(Detection {
            left: centre_x - width / 2.0,
            top: centre_y - height / 2.0,
            right: centre_x + width / 2.0,
            bottom: centre_y + height / 2.0,
            score,
        });
    }
    detections
}

/// Greedy non-max suppression: repeatedly keeps the highest-scoring box and drops the boxes
/// whose IoU with it exceeds `iou_threshold`. Returns the kept boxes, best first.
pub fn non_max_suppression(mut boxes: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    boxes.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for candidate in boxes {
        if kept.iter().all(|k| iou(k, &candidate) <= iou_threshold) {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(left: f32, top: f32, side: f32, score: f32) -> Detection {
        Detection {
            left,
            top,
            right: left + side,
            bottom: top + side,
            score,
        }
    }

    #[test]
    fn iou_by_hand() {
        // Two 2x2 squares overlapping in a 1x2 strip: 2 / (4 + 4 - 2).
        let a = square(0.0, 0.0, 2.0, 1.0);
        let b = square(1.0, 0.0, 2.0, 1.0);
        assert!((iou(&a, &b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(iou(&a, &square(5.0, 5.0, 1.0, 1.0)), 0.0);
    }

    #[test]
    fn suppression_keeps_best_of_overlapping() {
        let boxes = vec![
            square(0.0, 0.0, 2.0, 0.6),
            square(0.1, 0.0, 2.0, 0.9),
            square(5.0, 5.0, 1.0, 0.7),
        ];
        let kept = non_max_suppression(boxes, 0.4);
        let scores: Vec<f32> = kept.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.7]);
    }

    #[test]
    fn decode_by_hand() {
        // A 2x2 grid; only cell (row 1, col 0), anchor 1 scores above 0.5. With tx = ty = 0 the
        // centre is the cell's centre, (0.25, 0.75); with tw = th = 0 the size is the anchor's
        // over 2 cells.
        let mut head = vec![0.0; 2 * 2 * ANCHORS.len() * BOX_VALUES];
        for score in head.iter_mut().skip(4).step_by(BOX_VALUES) {
            *score = -5.0;
        }
        let index = (2 * ANCHORS.len() + 1) * BOX_VALUES;
        head[index + 4] = 3.0;
        let found = decode(&head, 2, 0.5);
        assert_eq!(found.len(), 1);
        let d = found[0];
        let (w, h) = (ANCHORS[1].0 / 2.0, ANCHORS[1].1 / 2.0);
        assert!((d.left - (0.25 - w / 2.0)).abs() < 1e-6, "{d:?}");
        assert!((d.bottom - (0.75 + h / 2.0)).abs() < 1e-6, "{d:?}");
        assert!((d.score - sigmoid(3.0)).abs() < 1e-6);
    }
}

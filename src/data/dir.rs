//! Loading an IDX dataset (MNIST, Fashion-MNIST and similar) from a folder.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::idx::read_idx_dataset;
use super::split::{stratified_split, DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION};
use super::{DataError, DataSplit, Dataset};

/// File name endings of IDX images files. The text before them is the pair's prefix, and the
/// dotted form is how some MNIST mirrors name the files.
const IMAGES_SUFFIXES: [&str; 2] = ["-images-idx3-ubyte", "-images.idx3-ubyte"];
/// File name endings of IDX labels files.
const LABELS_SUFFIXES: [&str; 2] = ["-labels-idx1-ubyte", "-labels.idx1-ubyte"];
/// Prefixes, or prefix endings after a `-`, that mark a training pair.
const TRAIN_PREFIXES: [&str; 1] = ["train"];
/// Prefixes, or prefix endings after a `-`, that mark a test pair ("t10k" is MNIST's name).
const TEST_PREFIXES: [&str; 2] = ["t10k", "test"];

/// An images file and the labels file with the same prefix.
#[derive(Debug)]
struct IdxPair {
    prefix: String,
    images: PathBuf,
    labels: PathBuf,
}

/// Images and labels files found for one prefix, either of which may be missing.
#[derive(Default)]
struct Candidates {
    images: Option<PathBuf>,
    labels: Option<PathBuf>,
}

/// Loads the IDX dataset in `dir` as a train/test split.
///
/// Files are `PREFIX-images-idx3-ubyte` and `PREFIX-labels-idx1-ubyte`, each optionally gzipped
/// with a `.gz` suffix (the uncompressed file wins when both exist). When the folder contains one
/// training pair (prefix `train` or ending in `-train`) and one test pair (`t10k`, `test`, or
/// ending in `-t10k` or `-test`), they are the train and test sets, as in MNIST and
/// Fashion-MNIST. When it contains a single pair, that pair is split 7:3 by [`stratified_split`]
/// with [`DEFAULT_SPLIT_SEED`]. Both parts get the larger class count of the two.
///
/// Errors: an unreadable folder, no pair, several pairs without exactly one train and one test
/// pair, a bad file, or train and test images of different shapes.
pub fn load_dir(dir: impl AsRef<Path>) -> Result<DataSplit, DataError> {
    let dir = dir.as_ref();
    let (pairs, unpaired) = find_pairs(dir)?;
    let split = if let Some((train, test)) = find_train_and_test(&pairs) {
        load_train_and_test(train, test)?
    } else if let [pair] = &pairs[..] {
        split_single_pair(pair)?
    } else if pairs.is_empty() {
        return Err(DataError::NoDataFiles {
            dir: dir.display().to_string(),
            unpaired: unpaired.join(", "),
        });
    } else {
        let prefixes: Vec<&str> = pairs.iter().map(|pair| pair.prefix.as_str()).collect();
        return Err(DataError::AmbiguousDataFiles {
            dir: dir.display().to_string(),
            prefixes: prefixes.join(", "),
        });
    };
    log::info!(
        "loaded {}: {} train and {} test samples of {}x{}x{}, {} classes",
        dir.display(),
        split.train.len(),
        split.test.len(),
        split.train.height,
        split.train.width,
        split.train.channels,
        split.train.num_classes
    );
    Ok(split)
}

/// Lists the complete pairs in `dir`, sorted by prefix, and the names of IDX files without a
/// partner.
fn find_pairs(dir: &Path) -> Result<(Vec<IdxPair>, Vec<String>), DataError> {
    let read_error = |source| DataError::Read {
        path: dir.display().to_string(),
        source,
    };
    let mut candidates: BTreeMap<String, Candidates> = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        if path.is_file() {
            add_candidate(&mut candidates, path);
        }
    }

    let mut pairs = Vec::new();
    let mut unpaired = Vec::new();
    for (prefix, found) in candidates {
        match (found.images, found.labels) {
            (Some(images), Some(labels)) => pairs.push(IdxPair {
                prefix,
                images,
                labels,
            }),
            (Some(lone), None) | (None, Some(lone)) => unpaired.push(file_name(&lone)),
            (None, None) => {}
        }
    }
    Ok((pairs, unpaired))
}

/// Records `path` under its prefix if its name is an IDX images or labels name.
fn add_candidate(candidates: &mut BTreeMap<String, Candidates>, path: PathBuf) {
    let name = file_name(&path);
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let (prefix, is_images) = if let Some(prefix) = strip_any_suffix(stem, &IMAGES_SUFFIXES) {
        (prefix, true)
    } else if let Some(prefix) = strip_any_suffix(stem, &LABELS_SUFFIXES) {
        (prefix, false)
    } else {
        return;
    };
    if prefix.is_empty() {
        return;
    }
    let entry = candidates.entry(prefix.to_string()).or_default();
    let slot = if is_images {
        &mut entry.images
    } else {
        &mut entry.labels
    };
    if slot.as_ref().is_none_or(|existing| is_gzip_name(existing)) {
        *slot = Some(path);
    }
}

fn find_train_and_test(pairs: &[IdxPair]) -> Option<(&IdxPair, &IdxPair)> {
    let trains: Vec<&IdxPair> = pairs
        .iter()
        .filter(|pair| has_role(&pair.prefix, &TRAIN_PREFIXES))
        .collect();
    let tests: Vec<&IdxPair> = pairs
        .iter()
        .filter(|pair| has_role(&pair.prefix, &TEST_PREFIXES))
        .collect();
    match (&trains[..], &tests[..]) {
        ([train], [test]) if pairs.len() == 2 => Some((train, test)),
        _ => None,
    }
}

fn load_train_and_test(train: &IdxPair, test: &IdxPair) -> Result<DataSplit, DataError> {
    let mut train = read_idx_dataset(&train.images, &train.labels)?;
    let mut test = read_idx_dataset(&test.images, &test.labels)?;
    check_same_shape(&train, &test)?;
    let num_classes = train.num_classes.max(test.num_classes);
    train.num_classes = num_classes;
    test.num_classes = num_classes;
    Ok(DataSplit { train, test })
}

fn split_single_pair(pair: &IdxPair) -> Result<DataSplit, DataError> {
    let dataset = read_idx_dataset(&pair.images, &pair.labels)?;
    let (train, test) = stratified_split(&dataset, DEFAULT_TEST_FRACTION, DEFAULT_SPLIT_SEED)?;
    Ok(DataSplit { train, test })
}

fn check_same_shape(first: &Dataset, second: &Dataset) -> Result<(), DataError> {
    let shape = |d: &Dataset| (d.height, d.width, d.channels);
    if shape(first) == shape(second) {
        return Ok(());
    }
    Err(DataError::ShapeMismatch {
        name: first.name.clone(),
        height: first.height,
        width: first.width,
        channels: first.channels,
        other_name: second.name.clone(),
        other_height: second.height,
        other_width: second.width,
        other_channels: second.channels,
    })
}

fn has_role(prefix: &str, role_prefixes: &[&str]) -> bool {
    role_prefixes.iter().any(|role| {
        prefix == *role
            || prefix
                .strip_suffix(role)
                .is_some_and(|rest| rest.ends_with('-'))
    })
}

fn strip_any_suffix<'a>(name: &'a str, suffixes: &[&str]) -> Option<&'a str> {
    suffixes.iter().find_map(|suffix| name.strip_suffix(suffix))
}

fn is_gzip_name(path: &Path) -> bool {
    path.extension().is_some_and(|extension| extension == "gz")
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(prefix: &str) -> IdxPair {
        IdxPair {
            prefix: prefix.to_string(),
            images: PathBuf::from(format!("{prefix}-images-idx3-ubyte")),
            labels: PathBuf::from(format!("{prefix}-labels-idx1-ubyte")),
        }
    }

    #[test]
    fn roles_match_whole_words() {
        assert!(has_role("train", &TRAIN_PREFIXES));
        assert!(has_role("emnist-digits-train", &TRAIN_PREFIXES));
        assert!(!has_role("pretrain", &TRAIN_PREFIXES));
        assert!(has_role("t10k", &TEST_PREFIXES));
        assert!(has_role("emnist-digits-test", &TEST_PREFIXES));
        assert!(!has_role("contest", &TEST_PREFIXES));
    }

    #[test]
    fn train_and_test_need_exactly_two_pairs() {
        let pairs = [pair("t10k"), pair("train")];
        let (train, test) = find_train_and_test(&pairs).unwrap();
        assert_eq!(train.prefix, "train");
        assert_eq!(test.prefix, "t10k");
        assert!(find_train_and_test(&[pair("train")]).is_none());
        assert!(find_train_and_test(&[pair("a-train"), pair("b-train")]).is_none());
        let three = [pair("t10k"), pair("train"), pair("extra")];
        assert!(find_train_and_test(&three).is_none());
    }

    #[test]
    fn candidates_prefer_plain_files() {
        let mut candidates = BTreeMap::new();
        add_candidate(&mut candidates, PathBuf::from("d/x-images-idx3-ubyte.gz"));
        add_candidate(&mut candidates, PathBuf::from("d/x-images-idx3-ubyte"));
        add_candidate(&mut candidates, PathBuf::from("d/x-labels.idx1-ubyte"));
        add_candidate(&mut candidates, PathBuf::from("d/x-labels.idx1-ubyte.gz"));
        add_candidate(&mut candidates, PathBuf::from("d/readme.txt"));
        add_candidate(&mut candidates, PathBuf::from("d/-images-idx3-ubyte"));
        assert_eq!(candidates.len(), 1);
        let found = &candidates["x"];
        assert_eq!(found.images, Some(PathBuf::from("d/x-images-idx3-ubyte")));
        assert_eq!(found.labels, Some(PathBuf::from("d/x-labels.idx1-ubyte")));
    }
}

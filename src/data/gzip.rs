//! Gzip for IDX files, through flate2. The WebAssembly build leaves flate2 out, because its
//! decoder and CRC tables took 27 KB of the 312 KB gzipped module (scripts/size.sh). Browsers
//! decompress IDX files before they reach the module, with `DecompressionStream('gzip')`
//! (`fetchIdx` in `js/src/engine.js`).

#[cfg(not(target_arch = "wasm32"))]
use std::{fs::File, io, io::Read, io::Write, path::Path};

use super::DataError;

/// Decompresses gzipped `bytes`, every member of a multi-member file; `name` labels errors.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn gunzip(bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    let mut decompressed = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut decompressed)
        .map_err(|source| DataError::Gzip {
            name: name.to_string(),
            source,
        })?;
    Ok(decompressed)
}

/// Raises [`DataError::GzipUnsupported`]: the WebAssembly build has no gzip decoder.
#[cfg(target_arch = "wasm32")]
pub(super) fn gunzip(_bytes: &[u8], name: &str) -> Result<Vec<u8>, DataError> {
    Err(DataError::GzipUnsupported {
        name: name.to_string(),
    })
}

/// Writes `bytes` gzipped (best compression) to `path`.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn write_gzip(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut encoder =
        flate2::write::GzEncoder::new(File::create(path)?, flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()?.sync_all()
}

//! File-format sniffing of uploads (src/fascicolo/formats.rs `detect`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sportello::fascicolo::formats::{detect, Format, SNIFF_BYTES};

fuzz_target!(|data: &[u8]| {
    // As the store calls it: the first SNIFF_BYTES of a stream, complete or not.
    let prefix = &data[..data.len().min(SNIFF_BYTES)];
    let complete = data.len() <= SNIFF_BYTES;
    if let Some(format) = detect(prefix, complete) {
        let _ = (format.extension(), format.mime(), format.label());
        assert_eq!(Format::from_extension(format.extension()), Some(format), "{format:?}");
    }
    // A cut anywhere (a short read) must not panic either.
    for cut in [0, 1, 2, 4, 30, prefix.len() / 2] {
        let _ = detect(&prefix[..cut.min(prefix.len())], false);
    }
    let _ = detect(data, true);
});

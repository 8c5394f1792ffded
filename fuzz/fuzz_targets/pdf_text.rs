//! Feeds arbitrary bytes to the PDF text extractor with the default limits: it must return (never
//! panic, overflow or hang) and keep its output within the limit.
//!
//! The extractor is its own crate (`flint-pdf`), so the fuzzer builds only it and `miniz_oxide`,
//! not the Worker and its dependencies.
#![no_main]

use flint_pdf as pdf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = pdf::Limits::default();
    if let Ok(extraction) = pdf::extract_text(data, &limits) {
        assert!(extraction.text.chars().count() <= limits.max_output_chars);
        assert!(extraction.pages <= limits.max_objects);
    }
});

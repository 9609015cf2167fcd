#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| bangtin_fuzz::targets::render_text(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kslink_fuzz_targets::table_decoder(data));

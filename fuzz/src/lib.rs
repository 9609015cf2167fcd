//! The fuzz targets' bodies live in `targets.rs`, which the main crate's
//! integration tests also compile (`tests/it/mod.rs`) to replay every
//! corpus file: what the fuzzer found once stays fixed.
pub mod targets;

//! All integration tests in one binary, so the crate links once. The
//! modules, one per area, live under `tests/it/`.

mod it;

//! All integration tests in one binary, so the crate links once.
//! Each module under `tests/it/` covers one area over real sockets.

#[path = "it/api.rs"]
mod api;
#[path = "it/util.rs"]
mod util;

#[path = "it/mqtt.rs"]
mod mqtt;

#[path = "it/dashboard.rs"]
mod dashboard;

//! All integration tests in one binary, so the crate links once.
//! Each module under `tests/it/` covers one area over real sockets.

#[path = "it/api.rs"]
mod api;
#[path = "it/util.rs"]
mod util;

#[path = "it/e2e.rs"]
mod e2e;
#[path = "it/mqtt.rs"]
mod mqtt;
#[path = "it/ops.rs"]
mod ops;

#[path = "it/dashboard.rs"]
mod dashboard;

#[path = "it/faults.rs"]
mod faults;
#[path = "../fuzz/src/targets.rs"]
mod fuzz_targets;
#[path = "it/hostile.rs"]
mod hostile;
#[path = "it/sim/mod.rs"]
mod sim;

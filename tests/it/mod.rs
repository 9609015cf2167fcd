//! The integration tests, one module per area, over real sockets: real
//! server processes, real HTTP, the embedded broker and a real Mosquitto.
//! Modules reach each other as `super::x` (`super::util` is the harness).

mod util;

mod accounts;
mod alarms;
mod alarms_dashboard;
mod api;
mod bridges;
mod bundles;
mod calendar;
mod cap;
mod cap_dashboard;
mod colorlight;
mod compressed;
mod dashboard;
mod desk;
mod desk_dashboard;
mod docs;
mod e2e;
mod faults;
mod groups_dashboard;
mod hostile;
mod layers;
mod mqtt;
mod ops;
mod pg;
mod postgres;
mod proof;
mod sentences_dashboard;
mod sim;
mod snapshot_dashboard;
mod vendor;
mod wall_dashboard;

/// One day of the sample schedule coded as BTZ1, shared with
/// `benches/codec.rs`.
#[path = "../../benches/support/codec_day.rs"]
mod codec_day;
/// The fuzz targets' bodies, compiled here too so `hostile` can replay
/// every corpus file on the stable toolchain. They live in the fuzz crate
/// (its own workspace, which needs libFuzzer), hence the path.
#[path = "../../fuzz/src/targets.rs"]
mod fuzz_targets;

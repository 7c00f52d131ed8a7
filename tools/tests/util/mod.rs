//! Shared by the tools' tests: a local cluster started with `imctl up`
//! (the guard lives in the shared test kit, `tools/testkit`).
#![allow(dead_code)] // each test binary uses a part of it

use std::path::Path;
pub use testkit::process::ImctlCluster as TestCluster;

/// `imctl up` for the test `name` with the repository's `conf/` and ports
/// from `port_base`; returns once it says it is ready.
pub fn up(name: &str, port_base: u16) -> TestCluster {
    let conf = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../conf"));
    TestCluster::up(Path::new(env!("CARGO_BIN_EXE_imctl")), conf, name, port_base)
}

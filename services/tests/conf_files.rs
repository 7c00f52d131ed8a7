//! Every configuration file shipped in conf/ loads and validates, so the
//! files and the code cannot drift apart.

use services::chat::ChatConfig;
use services::config::load;
use services::gate::GateConfig;
use services::status::StatusConfig;
use services::verify::VerifyConfig;
use std::path::{Path, PathBuf};

fn conf(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf").join(path)
}

#[test]
fn the_local_cluster_files_are_valid() {
    let status: StatusConfig = load(Some(&conf("status.toml")), "IM_NONE_").unwrap();
    status.validate().unwrap();
    let verify: VerifyConfig = load(Some(&conf("verify.toml")), "IM_NONE_").unwrap();
    verify.validate().unwrap();
    let gate: GateConfig = load(Some(&conf("gate.toml")), "IM_NONE_").unwrap();
    gate.validate().unwrap();
    for file in ["chat1.toml", "chat2.toml"] {
        let chat: ChatConfig = load(Some(&conf(file)), "IM_NONE_").unwrap();
        chat.validate().unwrap();
    }
    // The files agree with each other.
    assert_eq!(gate.status_addr, status.listen);
    assert_eq!(gate.verify_addr, verify.listen);
}

#[test]
fn the_three_machine_sample_is_valid() {
    let dir = "deploy/three-machines/";
    let status: StatusConfig = load(Some(&conf(&format!("{dir}status.toml"))), "IM_NONE_").unwrap();
    status.validate().unwrap();
    let verify: VerifyConfig = load(Some(&conf(&format!("{dir}verify.toml"))), "IM_NONE_").unwrap();
    verify.validate().unwrap();
    let gate: GateConfig = load(Some(&conf(&format!("{dir}gate.toml"))), "IM_NONE_").unwrap();
    gate.validate().unwrap();
    for n in [1, 2] {
        let chat: ChatConfig =
            load(Some(&conf(&format!("{dir}chat{n}.toml"))), "IM_NONE_").unwrap();
        chat.validate().unwrap();
        assert_eq!(chat.status_addr, status.listen);
    }
}

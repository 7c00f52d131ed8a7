//! The benchmark answers `--help` and `--version` without running.

#[test]
fn answers_help_and_version_without_running() {
    testkit::process::assert_answers_help_and_version(
        "chat-bench",
        env!("CARGO_BIN_EXE_chat-bench").as_ref(),
    );
    testkit::process::assert_answers_help_and_version(
        "gate-bench",
        env!("CARGO_BIN_EXE_gate-bench").as_ref(),
    );
}

//! The benchmark answers `--help` and `--version` without running.

#[test]
fn answers_help_and_version_without_running() {
    testkit::process::assert_answers_help_and_version(
        "store-bench",
        env!("CARGO_BIN_EXE_store-bench").as_ref(),
    );
}

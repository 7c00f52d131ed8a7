//! Replays every committed fuzz input (`perf/fuzz/corpus/<target>/*`)
//! through its check: the inputs that reached new coverage and every crash
//! ever found, checked on each run of the suite without a fuzzer.

use std::path::Path;

#[test]
fn every_committed_fuzz_input_passes_its_check() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, check) in fuzz_checks::TARGETS {
        let dir = corpus.join(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target has a corpus)", dir.display()));
        let mut inputs = 0;
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {} fails its check", path.display());
            inputs += 1;
        }
        // A corpus too small to mean anything is a sign it was not committed.
        assert!(inputs >= 10, "{target}: only {inputs} inputs in {}", dir.display());
        println!("{target}: {inputs} inputs pass");
    }
}

//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/*`) through the same
//! function the cargo-fuzz target calls, on the stable toolchain: the corpus is a
//! regression suite even where cargo-fuzz and nightly are missing. Crash reproducers that
//! were fixed live in the corpus too, so a regression fails here.

use std::path::PathBuf;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_has_a_corpus_and_replays_it() {
    for (target, body) in fuzz_harness::TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus of {target} at {}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        assert!(
            files.len() >= 5,
            "corpus of {target} has only {} files",
            files.len()
        );
        for file in &files {
            let data = std::fs::read(file).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} makes the target fail",
                file.display()
            );
        }
        println!("{target}: replayed {} files", files.len());
    }
}

#[test]
fn every_target_has_its_fuzz_target_file() {
    let targets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (target, _) in fuzz_harness::TARGETS {
        let file = targets.join(format!("{target}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("fuzz_harness::{target}(")),
            "{} does not call fuzz_harness::{target}",
            file.display()
        );
    }
}

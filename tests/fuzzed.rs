//! Inputs the fuzzers (`fuzz/`) kept — each one crashed, hung or ran out of memory in a parser once —
//! replayed on the same entry points (`sohoa::fuzzed`) the targets call: every one must now end in a
//! result or a clean refusal. A new finding is fixed, then its input goes into `fixtures/fuzz/<target>/`.

use std::path::Path;

#[test]
fn every_input_the_fuzzers_kept_ends_in_a_result_or_a_refusal() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz");
    let mut n = 0;
    for (target, run) in sohoa::fuzzed::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            let data = std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            eprintln!("{target}: {}", path.display());
            run(&data);
            n += 1;
        }
    }
    assert!(n > 0, "no kept inputs under {}", root.display());
}

//! Repository tasks that are not part of the product, rust-analyzer style: `cargo xtask tidy`
//! checks that ARCHITECTURE.md is true of the tree (the same check runs as a `#[test]`, so
//! `cargo test --workspace` catches a map that drifted).

mod tidy;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let mut err = std::io::stderr().lock();
    if task != "tidy" {
        let _ = writeln!(err, "usage: cargo xtask tidy");
        return ExitCode::from(2);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    match tidy::check_repo(root) {
        Ok(problems) if problems.is_empty() => {
            let _ = writeln!(err, "tidy: ARCHITECTURE.md places every module");
            ExitCode::SUCCESS
        }
        Ok(problems) => {
            for p in &problems {
                let _ = writeln!(err, "tidy: {p}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            let _ = writeln!(err, "tidy: cannot read the tree: {e}");
            ExitCode::FAILURE
        }
    }
}

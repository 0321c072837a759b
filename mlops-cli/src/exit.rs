//! Exit codes, and how a failed command reports itself: `error: ...`, then one
//! `caused by: ...` line per cause.
//!
//! The codes follow the pipeline step contract (docs/CLI.md): 0 done, 1 error, 2 usage (clap),
//! 3 "the command worked and the answer is no" (drift found with `--fail-on-drift`, a
//! promotion's precondition or gate failed, an approval rejected), so scripts branch without
//! parsing output. `--on-reject` maps that 3 to what the orchestrator expects ([`OnReject`]).

use std::process::ExitCode;

use clap::ValueEnum;

/// Success.
pub(crate) const OK: u8 = 0;
/// An error: bad input, I/O, a service that failed.
pub(crate) const ERROR: u8 = 1;
/// The command worked and the answer is no (drift, a refused promotion).
pub(crate) const NEGATIVE: u8 = 3;

/// Airflow's "skip this task" exit code (`skip_on_exit_code`'s default).
pub(crate) const SKIP: u8 = 99;

/// What a "the answer is no" outcome ([`NEGATIVE`]) exits with (`--on-reject`).
#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum OnReject {
    /// Exit 3: the task fails (the default).
    #[default]
    Fail,
    /// Exit 99: Airflow marks the task skipped, and its downstream tasks with it.
    Skip,
    /// Exit 0: the pipeline goes on; the outcome is still in the output.
    Ok,
}

impl OnReject {
    /// The exit code for a command's `code`: only [`NEGATIVE`] is mapped.
    pub(crate) fn map(self, code: u8) -> u8 {
        match (code, self) {
            (NEGATIVE, OnReject::Skip) => SKIP,
            (NEGATIVE, OnReject::Ok) => OK,
            (code, _) => code,
        }
    }
}

/// The process's exit: the command's code (mapped by `on_reject`), or the error printed on
/// stderr and [`ERROR`].
pub(crate) fn finish(result: crate::Result<u8>, on_reject: OnReject) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(on_reject.map(code)),
        // The reader of stdout went away (`mlops ... | head -1`): nothing left to say.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::from(OK),
        Err(e) => {
            report(e.as_ref());
            ExitCode::from(ERROR)
        }
    }
}

/// Prints the error's lines on stderr.
#[allow(clippy::print_stderr)]
fn report(error: &(dyn std::error::Error + 'static)) {
    for line in lines(error) {
        eprintln!("{line}");
    }
}

/// `error: ...`, then `caused by: ...` for each cause. A cause whose text the line above
/// already holds (errors that print their source inline) is not repeated.
fn lines(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut shown = error.to_string();
    let mut lines = vec![format!("error: {shown}")];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !shown.contains(&text) {
            lines.push(format!("caused by: {text}"));
            shown = text;
        }
        source = cause.source();
    }
    lines
}

fn is_broken_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and an optional cause.
    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);

    fn chain(messages: &[&'static str]) -> Chain {
        messages
            .iter()
            .rev()
            .fold(None, |cause, m| Some(Chain(m, cause.map(Box::new))))
            .unwrap_or(Chain("", None))
    }

    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn only_a_rejection_is_mapped() {
        for code in [OK, ERROR, 2] {
            for on_reject in [OnReject::Fail, OnReject::Skip, OnReject::Ok] {
                assert_eq!(on_reject.map(code), code);
            }
        }
        assert_eq!(OnReject::Fail.map(NEGATIVE), 3);
        assert_eq!(OnReject::Skip.map(NEGATIVE), 99);
        assert_eq!(OnReject::Ok.map(NEGATIVE), 0);
    }

    #[test]
    fn a_broken_pipe_is_found_anywhere_in_the_chain() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&pipe));
        let other = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(!is_broken_pipe(&other));
        let wrapped: Box<dyn std::error::Error + Send + Sync> = Box::new(pipe);
        assert!(is_broken_pipe(wrapped.as_ref()));
        assert!(!is_broken_pipe(&chain(&["outer", "inner"])));
    }

    #[test]
    fn each_cause_is_printed_once() {
        let error = chain(&["cannot load model m", "reading m.onnx", "permission denied"]);
        assert_eq!(
            lines(&error),
            [
                "error: cannot load model m",
                "caused by: reading m.onnx",
                "caused by: permission denied"
            ]
        );
        // Causes already spelled out by the message above are not repeated.
        let inline = chain(&[
            "I/O error at x: permission denied",
            "permission denied",
            "denied by policy",
        ]);
        assert_eq!(
            lines(&inline),
            [
                "error: I/O error at x: permission denied",
                "caused by: denied by policy"
            ]
        );
    }
}

//! Where each object lives under the store's root (see `docs/FORMAT.md`). Every key is
//! built from fixed words, validated ids, zero-padded sequence numbers and generated names,
//! plus validated [`ArtifactPath`]s for artifacts, so no caller input can alias another key.

use mlops_core::{ArtifactPath, ExperimentId, RunId};
use object_store::path::{Path, PathPart};

/// The width of sequence numbers in log keys, so that keys sort in log order.
const SEQ_WIDTH: usize = 10;

/// Builds keys under one root prefix.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: Path,
}

impl Keys {
    pub(crate) fn new(prefix: Path) -> Self {
        Self { prefix }
    }

    fn join<'a>(&'a self, parts: impl IntoIterator<Item = &'a str>) -> Path {
        Path::from_iter(
            self.prefix
                .parts()
                .chain(parts.into_iter().map(PathPart::from)),
        )
    }

    pub(crate) fn format_marker(&self) -> Path {
        self.join(["FORMAT.json"])
    }

    pub(crate) fn experiment_log_dir(&self) -> Path {
        self.join(["experiments", "log"])
    }

    pub(crate) fn experiment_record(&self, seq: u64) -> Path {
        self.join(["experiments", "log", &seq_name(seq, "jsonl")])
    }

    pub(crate) fn experiment_checkpoint_dir(&self) -> Path {
        self.join(["experiments", "checkpoints"])
    }

    pub(crate) fn experiment_checkpoint(&self, seq: u64) -> Path {
        self.join(["experiments", "checkpoints", &seq_name(seq, "jsonl")])
    }

    /// The folder of every experiment's run markers.
    pub(crate) fn experiment_runs_root(&self) -> Path {
        self.join(["experiments", "runs"])
    }

    pub(crate) fn experiment_runs_dir(&self, experiment: &ExperimentId) -> Path {
        self.join(["experiments", "runs", experiment.as_str()])
    }

    pub(crate) fn run_marker(&self, experiment: &ExperimentId, run: &RunId) -> Path {
        self.join(["experiments", "runs", experiment.as_str(), run.as_str()])
    }

    /// The folder of an experiment's run index: its generations, change markers and ended
    /// runs' summaries.
    pub(crate) fn index_dir(&self, experiment: &ExperimentId) -> Path {
        self.join(["index", experiment.as_str()])
    }

    pub(crate) fn index_generation(&self, experiment: &ExperimentId, seq: u64) -> Path {
        self.join(["index", experiment.as_str(), &seq_name(seq, "jsonl")])
    }

    /// A change marker: `run` changed after it may have been indexed (`name` is a UUID v7).
    pub(crate) fn index_change(&self, experiment: &ExperimentId, run: &RunId, name: &str) -> Path {
        let file = format!("{run}.{name}");
        self.join(["index", experiment.as_str(), "changed", &file])
    }

    /// An ended run's summary, written by the process that ended it (`name` is a UUID v7).
    pub(crate) fn index_summary(&self, experiment: &ExperimentId, run: &RunId, name: &str) -> Path {
        let file = format!("{run}.{name}");
        self.join(["index", experiment.as_str(), "ended", &file])
    }

    pub(crate) fn runs_dir(&self) -> Path {
        self.join(["runs"])
    }

    pub(crate) fn run_meta_dir(&self, run: &RunId) -> Path {
        self.join(["runs", run.as_str(), "meta"])
    }

    pub(crate) fn run_record(&self, run: &RunId, seq: u64) -> Path {
        self.join(["runs", run.as_str(), "meta", &seq_name(seq, "jsonl")])
    }

    pub(crate) fn metrics_dir(&self, run: &RunId) -> Path {
        self.join(["runs", run.as_str(), "metrics"])
    }

    pub(crate) fn metrics_file(&self, run: &RunId, name: &str) -> Path {
        self.join(["runs", run.as_str(), "metrics", name])
    }

    pub(crate) fn lease(&self, run: &RunId) -> Path {
        self.join(["runs", run.as_str(), "lease.json"])
    }

    pub(crate) fn artifacts_dir(&self, run: &RunId) -> Path {
        self.join(["runs", run.as_str(), "artifacts"])
    }

    pub(crate) fn artifact(&self, run: &RunId, path: &ArtifactPath) -> Path {
        let base = self.artifacts_dir(run);
        // `ArtifactPath::to_object_path` keeps the validated text as it is.
        Path::from_iter(base.parts().chain(path.to_object_path().parts()))
    }
}

/// `0000000042.jsonl`
fn seq_name(seq: u64, ext: &str) -> String {
    format!("{seq:0SEQ_WIDTH$}.{ext}")
}

/// The sequence number in a log key's file name (`0000000042.jsonl` → 42).
pub(crate) fn parse_seq(key: &Path) -> Option<u64> {
    let name = key.filename()?;
    let digits = name.strip_suffix(".jsonl")?;
    if digits.len() != SEQ_WIDTH || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A new name for a metric file: time-ordered (UUID v7, monotonic within a process), so
/// segments sort in the order they were written.
pub(crate) fn new_metrics_name(ext: &str) -> String {
    format!("{}.{ext}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_and_parse() {
        let keys = Keys::new(Path::from("root"));
        let run = RunId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let k9 = keys.run_record(&run, 9);
        let k10 = keys.run_record(&run, 10);
        assert_eq!(
            k9.as_ref(),
            "root/runs/0123456789abcdef0123456789abcdef/meta/0000000009.jsonl"
        );
        assert!(k9 < k10);
        assert_eq!(parse_seq(&k10), Some(10));
        assert_eq!(parse_seq(&Path::from("a/12.jsonl")), None);
        assert_eq!(parse_seq(&Path::from("a/000000001x.jsonl")), None);
        let art = keys.artifact(&run, &ArtifactPath::parse("plots/roc curve.svg").unwrap());
        assert_eq!(
            art.as_ref(),
            "root/runs/0123456789abcdef0123456789abcdef/artifacts/plots/roc curve.svg"
        );
        assert!(new_metrics_name("jsonl") < new_metrics_name("jsonl"));
    }
}

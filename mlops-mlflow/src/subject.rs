//! [`Subject`]: what a call is about, so that MLflow's `RESOURCE_DOES_NOT_EXIST` and
//! `RESOURCE_ALREADY_EXISTS` become errors that name the thing.

/// What a call is about, to name it in [`NotFound`](crate::MlflowError::NotFound) and
/// [`AlreadyExists`](crate::MlflowError::AlreadyExists) errors.
///
/// ```
/// use mlops_mlflow::Subject;
/// let tag = Subject::in_run("tag", "team", "0123");
/// assert_eq!((tag.what(), tag.id(), tag.run()), ("tag", "team", Some("0123")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    what: &'static str,
    id: String,
    run: Option<String>,
}

impl Subject {
    /// A call about `what` (`"experiment"`, `"registered model"`, …) named `id`.
    pub fn new(what: &'static str, id: impl Into<String>) -> Self {
        Self {
            what,
            id: id.into(),
            run: None,
        }
    }

    /// A call about something inside run `run` (a tag, a metric, an artifact): when MLflow
    /// says the run does not exist, the error names the run rather than the thing.
    pub fn in_run(what: &'static str, id: impl Into<String>, run: &str) -> Self {
        Self {
            what,
            id: id.into(),
            run: Some(run.to_owned()),
        }
    }

    /// What the call is about.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// Its id, name or path.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The run it is in, if any.
    pub fn run(&self) -> Option<&str> {
        self.run.as_deref()
    }
}

//! Serving what a registry says: [`ModelTable::follow`] serves the version an alias (or a
//! pinned version) of a [`ModelSource`] names, and keeps following the alias while it moves.
//!
//! For each version: fetch its files (a registry checks every digest), load them off the
//! async threads, warm it up with one inference on a row built from its metadata, and only
//! then switch the name's unversioned routes to it in one [`ModelTable::edit`]. Requests in
//! flight on the old version finish on it; the old version stays loaded at
//! `/v2/models/NAME/versions/N` (role `previous`) until the next swap, so a move back to it
//! switches at once. A version that fails any step is never served: the old one keeps
//! serving, the failure is logged and counted (`mlops_serve_model_swaps_total{outcome}`),
//! and the same version is tried again after a [`Backoff`] pause (a move to another version
//! is tried at the next poll).
//!
//! The watcher polls [`ModelSource::resolve`]: on the object registry one read of the next
//! commit-log slot (no listing), on MLflow one `GET` of the alias. The served version is
//! visible everywhere a request goes: the response's `model_version`, the [`crate::Observation`]'s
//! metadata, and [`Follower::served`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use mlops_serve::follow::FollowOptions;
//! use mlops_serve::runtime::linear::LinearFile;
//! use mlops_serve::source::FileSource;
//! use mlops_serve::Server;
//!
//! // Two versions of "price" and an alias (a registry in a real service).
//! let dir = tempfile::tempdir()?;
//! let source = Arc::new(FileSource::new());
//! for (version, slope) in [("1", 2.0), ("2", 3.0)] {
//!     let path = dir.path().join(format!("v{version}.json"));
//!     LinearFile::linear(vec![vec![slope]], vec![0.0]).write(&path)?;
//!     source.add_version("price", version, path);
//! }
//! source.set_alias("price", "champion", "1");
//!
//! let server = Server::builder().build()?;
//! let options = FollowOptions::default().poll_interval(Duration::from_millis(10));
//! let follower = server
//!     .models()
//!     .follow(source.clone(), "price", "champion".parse()?, options)
//!     .await?;
//! assert_eq!(follower.served().version, "1");
//!
//! // Promote version 2: the watcher loads, warms up and switches to it.
//! source.set_alias("price", "champion", "2");
//! let mut served = follower.subscribe();
//! served.wait_for(|s| s.version == "2").await?;
//! assert_eq!(server.models().default_version("price").as_deref(), Some("2"));
//! // Version 1 stays loaded for a rollback.
//! assert_eq!(server.models().versions("price").len(), 2);
//! # Ok(())
//! # }
//! ```

mod task;
mod warm;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::Backoff;
use tokio::sync::watch;

use crate::error::Result;
use crate::server::{ModelOptions, ModelTable};
use crate::source::{ModelSource, Selector};

/// How a followed model is watched and served.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowOptions {
    /// How often the alias is read (default 1 s).
    pub poll_interval: Duration,
    /// The pauses before a version that failed is tried again (default 1 s doubling to 60 s,
    /// jittered).
    pub retry: Backoff,
    /// The serving options of every version (default: the table's).
    pub model_options: Option<ModelOptions>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            retry: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60))
                .with_jitter(),
            model_options: None,
        }
    }
}

impl FollowOptions {
    /// Sets [`FollowOptions::poll_interval`] (at least 1 ms).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Sets [`FollowOptions::retry`].
    pub fn retry(mut self, retry: Backoff) -> Self {
        self.retry = retry;
        self
    }

    /// Sets [`FollowOptions::model_options`].
    pub fn model_options(mut self, options: ModelOptions) -> Self {
        self.model_options = Some(options);
        self
    }
}

/// What a [`Follower`] serves now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// The version on the name's unversioned routes.
    pub version: String,
    /// When it started taking traffic: every request that reaches the table after this
    /// instant is answered by it (or by a later version).
    pub since: Instant,
    /// Swaps so far (0 for the first version).
    pub swaps: u64,
}

/// A model that follows a [`ModelSource`] alias (see the [module docs](self)). Dropping it
/// (or [`Follower::stop`]) stops watching; the served versions stay in the table.
#[must_use = "dropping a Follower stops following the alias"]
pub struct Follower {
    name: String,
    selector: Selector,
    served: watch::Receiver<Served>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("name", &self.name)
            .field("selector", &self.selector)
            .field("served", &*self.served.borrow())
            .finish()
    }
}

impl Follower {
    /// The model name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it follows.
    pub fn selector(&self) -> &Selector {
        &self.selector
    }

    /// The version served now.
    pub fn served(&self) -> Served {
        self.served.borrow().clone()
    }

    /// A receiver that sees every swap.
    pub fn subscribe(&self) -> watch::Receiver<Served> {
        self.served.clone()
    }

    /// Stops watching (the served versions stay in the table).
    pub fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl ModelTable {
    /// Serves `selector` of `name` from `source` and, for an alias, follows it (see the
    /// [module docs](crate::follow)): returns once the first version is fetched, loaded,
    /// warmed up and serving, or with the error that stopped it (nothing is served then).
    /// A version selector is served once, without watching.
    ///
    /// Must be called inside a tokio runtime (the watcher is a task on it).
    pub async fn follow(
        &self,
        source: Arc<dyn ModelSource>,
        name: &str,
        selector: Selector,
        options: FollowOptions,
    ) -> Result<Follower> {
        let mut watcher = task::Watcher::new(self.clone(), source, name, selector.clone(), options);
        let first = watcher.start().await?;
        let (tx, rx) = watch::channel(first);
        let task = match &selector {
            Selector::Alias(_) => Some(tokio::spawn(watcher.run(tx))),
            Selector::Version(_) => None,
        };
        Ok(Follower {
            name: name.to_owned(),
            selector,
            served: rx,
            task,
        })
    }
}

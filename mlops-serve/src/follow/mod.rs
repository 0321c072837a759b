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

mod judge;
mod task;
mod warm;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlops_core::Backoff;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::model::Model;
use crate::server::{ModelOptions, ModelTable};
use crate::source::{ModelFile, ModelSource, Selector};

/// Loads a version from its files instead of [`crate::runtime::load_files`]: your own formats,
/// or a wrapper around the built-in runtimes. Called on the blocking pool with the files,
/// the model name and the version.
pub type Loader = Arc<dyn Fn(&[ModelFile], &str, &str) -> Result<Arc<dyn Model>> + Send + Sync>;

/// What the followed version is to the name's traffic.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Rollout {
    /// It serves the name's unversioned routes (the default).
    Stable,
    /// It gets this percentage (0 to 100) of the name's unversioned requests, sticky by the
    /// `Mlops-Route-Key` header, random without it; the rest go to the stable version.
    Canary(f64),
    /// It gets a copy of this percentage of the name's unversioned requests; its answers are
    /// compared with the served ones and dropped, never delaying or failing a caller.
    Shadow(f64),
}

/// When to roll back automatically (see [`FollowOptions::auto_rollback`]): once the new
/// version (a new stable version, or a canary) has answered `min_requests` requests, it is
/// bad when more than `max_error_share` of them were server errors (5xx), or when its p99
/// latency exceeds `max_p99_ratio` times the reference's (the previous stable version's, or
/// the stable version's over the same window for a canary).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RollbackPolicy {
    /// The largest acceptable share of 5xx answers (default 0.05).
    pub max_error_share: f64,
    /// The largest acceptable p99 latency relative to the reference (default 2.0; p99 is
    /// measured in buckets of 19 %, so ratios under about 1.2 cannot be told apart).
    pub max_p99_ratio: f64,
    /// Requests to wait for before judging (default 200).
    pub min_requests: u64,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        Self {
            max_error_share: 0.05,
            max_p99_ratio: 2.0,
            min_requests: 200,
        }
    }
}

impl RollbackPolicy {
    /// Sets [`RollbackPolicy::max_error_share`].
    pub fn max_error_share(mut self, share: f64) -> Self {
        self.max_error_share = share;
        self
    }

    /// Sets [`RollbackPolicy::max_p99_ratio`].
    pub fn max_p99_ratio(mut self, ratio: f64) -> Self {
        self.max_p99_ratio = ratio;
        self
    }

    /// Sets [`RollbackPolicy::min_requests`] (at least 1).
    pub fn min_requests(mut self, requests: u64) -> Self {
        self.min_requests = requests.max(1);
        self
    }
}

/// How a followed model is watched and served.
#[derive(Clone)]
#[non_exhaustive]
pub struct FollowOptions {
    /// How often the alias is read (default 1 s).
    pub poll_interval: Duration,
    /// The pauses before a version that failed is tried again (default 1 s doubling to 60 s,
    /// jittered).
    pub retry: Backoff,
    /// The serving options of every version (default: the table's).
    pub model_options: Option<ModelOptions>,
    /// What the version is to the traffic (default [`Rollout::Stable`]).
    pub rollout: Rollout,
    /// Automatic rollback (default off). A bad canary gets 0 % of the traffic; a bad new
    /// stable version is rolled back *in the source*: the alias moves back to the previous
    /// version if it still names the bad one, with the reason recorded (the registry's audit
    /// log), so every replica follows.
    pub rollback: Option<RollbackPolicy>,
    /// A custom loader (default: [`crate::runtime::load_files`]).
    pub loader: Option<Loader>,
}

impl fmt::Debug for FollowOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowOptions")
            .field("poll_interval", &self.poll_interval)
            .field("retry", &self.retry)
            .field("model_options", &self.model_options)
            .field("rollout", &self.rollout)
            .field("rollback", &self.rollback)
            .field("loader", &self.loader.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            retry: Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60))
                .with_jitter(),
            model_options: None,
            rollout: Rollout::Stable,
            rollback: None,
            loader: None,
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

    /// Sets [`FollowOptions::rollout`].
    pub fn rollout(mut self, rollout: Rollout) -> Self {
        self.rollout = rollout;
        self
    }

    /// Turns automatic rollback on with `policy` ([`FollowOptions::rollback`]).
    pub fn auto_rollback(mut self, policy: RollbackPolicy) -> Self {
        self.rollback = Some(policy);
        self
    }

    /// Sets [`FollowOptions::loader`].
    pub fn loader(mut self, loader: Loader) -> Self {
        self.loader = Some(loader);
        self
    }
}

/// What a [`Follower`] serves now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Served {
    /// The version on the name's unversioned routes.
    pub version: String,
    /// Taken just after it started taking traffic: every request that reaches the table
    /// after this instant is answered by it (or by a later version). Requests may reach it a
    /// little earlier (the switch is published first, then this instant is read).
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
        let percent = match options.rollout {
            Rollout::Stable => None,
            Rollout::Canary(p) | Rollout::Shadow(p) => Some(p),
        };
        if let Some(p) = percent
            && !(0.0..=100.0).contains(&p)
        {
            return Err(Error::Config(format!(
                "a rollout share of {p} % of {name:?} is not within 0 to 100"
            )));
        }
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

//! A fast, safe-by-default web UI for mlops-rs: experiments and runs, run pages with
//! charts, comparisons, models, versions, aliases, the audit log, lineage and **approvals**
//! (approve or reject a version with a reviewer's token, recorded in the registry).
//!
//! It is fast because the server does the work: pages are rendered on the server (maud), the
//! runs table is the store's own search (MLflow's filter syntax), and every chart series is
//! downsampled on the server to at most ~2,000 points keeping each bucket's min, max and last
//! ([`series::downsample`]), so a 1M-point history draws like a 1k one. The only script is
//! ours plus uPlot (vendored, embedded): no CDN, no Node, works offline.
//!
//! It is safe by default: `mlops ui` binds 127.0.0.1; every request's Host must be on an
//! allowlist (DNS rebinding); every answer carries `Content-Security-Policy: default-src
//! 'self'; frame-ancestors 'none'`; there are no CORS headers; a decision needs the same
//! origin, this server's CSRF token and a reviewer's token (compared in constant time);
//! page sizes, point counts, bodies and request times are capped ([`Limits`]).
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use mlops_ui::{Ui, UiOptions};
//!
//! let tracking = mlops_track::open("memory://").await?;
//! let registry = mlops_registry::open("memory://")?;
//! let app: axum::Router = Ui::new(tracking, Some(registry), UiOptions::default()).router();
//! // Serve it with `mlops_ui::serve(listener, app, shutdown)`, or nest it in your own
//! // service (then set `UiOptions::base_path` to the prefix).
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod assets;
mod chart_cache;
mod drift_history;
mod error;
mod guard;
mod html;
mod pages;
mod query;
mod reviewers;
pub mod series;
mod server;
mod state;

pub use error::{Result, UiError};
pub use guard::CSP;
pub use reviewers::{MIN_TOKEN_CHARS, Reviewers};
pub use server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS, serve};
pub use state::{Limits, Ui, UiOptions};

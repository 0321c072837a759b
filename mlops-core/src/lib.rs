//! The shared vocabulary of mlops-rs (docs filled in below).

mod error;

pub use error::{Error, Result, Rule};

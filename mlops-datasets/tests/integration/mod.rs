mod add_get;
mod aliases;
mod diff;
mod dvc;
pub(crate) mod support;

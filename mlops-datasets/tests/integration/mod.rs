mod add_get;
mod aliases;
mod diff;
mod dvc;
mod lineage;
pub(crate) mod support;

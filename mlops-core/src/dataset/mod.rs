//! [`DatasetRef`]: which data a run read, identified by a digest of the data itself.
//!
//! # Why
//!
//! A run records its inputs (MLflow's `log_input`): a dataset name, where the data came from,
//! its schema, its size, and a digest. The digest is what lets anyone ask "were these two
//! models trained on the same data?" or "is this the reference data the drift monitor
//! used?". So it must be a function of the *data*, not of how the data happened to be read:
//! the same rows must give the same digest whether they arrived in one record batch or in a
//! thousand, whether an array was a slice of a bigger one, and whether strings were
//! dictionary-encoded (pandas categoricals, Parquet dictionary pages) or plain, 32-bit or
//! 64-bit offsets, or views (Polars). And any change to a value, a null, a column name or a
//! column type must change it.
//!
//! The digest is 32 lowercase hex digits (128 bits): MLflow caps a dataset digest at 36
//! characters, and 128 bits of SHA-256 are plenty against accidental collisions.
//!
//! The algorithm is specified, as a contract that another language can reimplement, on
//! [`DatasetDigest`].
//!
//! The parts: `digest.rs` the digest value and its specification, `digester.rs` the
//! streaming computation over record batches, `encode.rs` the per-type row encodings it
//! hashes, and `reference.rs` the [`DatasetRef`] a run records.

mod digest;
mod digester;
mod encode;
mod reference;
#[cfg(test)]
mod tests;

pub use digest::DatasetDigest;
pub use digester::DatasetDigester;
pub use reference::DatasetRef;

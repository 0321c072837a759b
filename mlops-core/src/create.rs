//! Create-if-absent writes, the primitive every write-once object and log slot rests on.

use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

/// What a [`put_if_absent`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The object did not exist; this write made it.
    Won,
    /// The object existed already (written by someone else, or by an earlier attempt whose
    /// answer was lost); nothing was written.
    Taken,
}

/// Writes `payload` at `key` unless an object is there (`PutMode::Create`: on a local disk a
/// staging file linked into place, on S3 and Azure a conditional request). A store that
/// answers a lost create race with a failed precondition instead of "already exists" counts
/// as [`Created::Taken`] too.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_core::{Created, put_if_absent};
/// use object_store::{memory::InMemory, path::Path};
///
/// let store = InMemory::new();
/// let key = Path::from("log/0000000000.jsonl");
/// assert_eq!(put_if_absent(&store, &key, "first").await?, Created::Won);
/// assert_eq!(put_if_absent(&store, &key, "second").await?, Created::Taken);
/// # Ok::<(), object_store::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Any other error of the store, as it gave it: whether the write happened is then
/// unknown, and the caller decides how to find out.
pub async fn put_if_absent(
    store: &dyn ObjectStore,
    key: &Path,
    payload: impl Into<PutPayload>,
) -> object_store::Result<Created> {
    let options = PutOptions::from(PutMode::Create);
    match store.put_opts(key, payload.into(), options).await {
        Ok(_) => Ok(Created::Won),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Ok(Created::Taken),
        Err(e) => Err(e),
    }
}

//! Bounded reads from an object store: the object_store counterpart of
//! [`read_local_file`](crate::read_local_file).
//!
//! # Why
//!
//! `GetResult::bytes` holds whatever the store sends. A record replaced by a 1 GiB file (or a
//! server that streams without end) would cost that much memory on every read. Every object
//! a store parses is read through [`get_bounded`], which
//!
//! * refuses an object whose size, as the store reports it, is over the limit before any
//!   byte of its body is read;
//! * never trusts that size for a streamed body: the stream is cut off as soon as it passes
//!   the limit, so at most `limit` bytes (plus one chunk) are ever held;
//! * reads a local file (`GetResultPayload::File`) in one blocking hand-off: object_store
//!   reads exactly the size it found on the opened handle, so the check above bounds it.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt};

/// What a [`get_bounded`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bounded {
    /// The object's bytes, at most the limit.
    Bytes(Bytes),
    /// There is no object at the key.
    Missing,
    /// The object is larger than the limit; `size` is its size as the store reported it, or
    /// (when the body ran past the limit) the bytes received before the read stopped.
    TooLarge {
        /// The size seen, in bytes (always more than the limit).
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
}

/// Reads the object at `key` if it holds at most `limit` bytes.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use mlops_core::{Bounded, get_bounded};
/// use object_store::{ObjectStoreExt, memory::InMemory, path::Path};
///
/// let store = InMemory::new();
/// let key = Path::from("runs/a/meta/00000000000000000001.jsonl");
/// store.put(&key, "a record".into()).await?;
/// assert_eq!(get_bounded(&store, &key, 8).await?, Bounded::Bytes("a record".into()));
/// assert_eq!(get_bounded(&store, &key, 7).await?, Bounded::TooLarge { size: 8, limit: 7 });
/// assert_eq!(get_bounded(&store, &Path::from("none"), 7).await?, Bounded::Missing);
/// # Ok::<(), object_store::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Any error of the store other than "not found", as it gave it.
pub async fn get_bounded(
    store: &dyn ObjectStore,
    key: &Path,
    limit: u64,
) -> object_store::Result<Bounded> {
    let result = match store.get(key).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(Bounded::Missing),
        Err(e) => return Err(e),
    };
    let claimed = result.range.end.saturating_sub(result.range.start);
    if claimed > limit || result.meta.size > limit {
        return Ok(Bounded::TooLarge {
            size: claimed.max(result.meta.size),
            limit,
        });
    }
    if matches!(result.payload, GetResultPayload::File(..)) {
        return match result.bytes().await {
            Ok(bytes) => Ok(Bounded::Bytes(bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(Bounded::Missing),
            Err(e) => Err(e),
        };
    }
    let capacity = usize::try_from(claimed).unwrap_or(0);
    let mut buffer = BytesMut::with_capacity(capacity);
    let mut stream = result.into_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(object_store::Error::NotFound { .. }) => return Ok(Bounded::Missing),
            Err(e) => return Err(e),
        };
        let size = (buffer.len() + chunk.len()) as u64;
        if size > limit {
            return Ok(Bounded::TooLarge { size, limit });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bounded::Bytes(buffer.freeze()))
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, PutMultipartOptions,
        PutOptions, PutPayload, PutResult,
    };

    use super::*;

    /// A store whose objects claim to be one byte long and then stream `body` chunks without
    /// end, as a lying or broken server might.
    #[derive(Debug)]
    struct Liar;

    impl std::fmt::Display for Liar {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Liar")
        }
    }

    fn unsupported() -> object_store::Error {
        object_store::Error::Generic {
            store: "Liar",
            source: "not supported".into(),
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Liar {
        async fn put_opts(
            &self,
            _: &Path,
            _: PutPayload,
            _: PutOptions,
        ) -> object_store::Result<PutResult> {
            Err(unsupported())
        }
        async fn put_multipart_opts(
            &self,
            _: &Path,
            _: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            Err(unsupported())
        }
        async fn get_opts(&self, key: &Path, _: GetOptions) -> object_store::Result<GetResult> {
            let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
            let body = futures::stream::repeat_with(move || Ok(chunk.clone()));
            Ok(GetResult {
                payload: GetResultPayload::Stream(body.boxed()),
                meta: ObjectMeta {
                    location: key.clone(),
                    last_modified: Default::default(),
                    size: 1,
                    e_tag: None,
                    version: None,
                },
                range: Range { start: 0, end: 1 },
                attributes: Default::default(),
                extensions: Default::default(),
            })
        }
        fn delete_stream(
            &self,
            _: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            futures::stream::empty().boxed()
        }
        fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            futures::stream::empty().boxed()
        }
        async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
            Err(unsupported())
        }
        async fn copy_opts(
            &self,
            _: &Path,
            _: &Path,
            _: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            Err(unsupported())
        }
    }

    #[tokio::test]
    async fn a_body_longer_than_its_claim_is_cut_off() {
        let got = get_bounded(&Liar, &Path::from("x"), 1 << 20).await.unwrap();
        assert_eq!(
            got,
            Bounded::TooLarge {
                size: (1 << 20) + 64 * 1024,
                limit: 1 << 20
            }
        );
    }

    #[tokio::test]
    async fn a_local_file_over_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        let file = std::fs::File::create(dir.path().join("big")).unwrap();
        // Sparse: 1 GiB that costs no disk, and must cost no memory either.
        file.set_len(1 << 30).unwrap();
        let got = get_bounded(&store, &Path::from("big"), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            got,
            Bounded::TooLarge {
                size: 1 << 30,
                limit: 1 << 20
            }
        );
        std::fs::write(dir.path().join("small"), b"abc").unwrap();
        let got = get_bounded(&store, &Path::from("small"), 3).await.unwrap();
        assert_eq!(got, Bounded::Bytes(Bytes::from_static(b"abc")));
        let memory = InMemory::new();
        assert_eq!(
            get_bounded(&memory, &Path::from("small"), 3).await.unwrap(),
            Bounded::Missing
        );
    }
}

//! Shared helpers: a store that must never be called, and temporary registries.
#![allow(dead_code)] // Each helper is used by some of the test modules.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// An object store that panics on any call: proves that a refusal happened before any I/O.
#[derive(Debug)]
pub(crate) struct PanicStore;

impl fmt::Display for PanicStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PanicStore")
    }
}

#[async_trait]
impl ObjectStore for PanicStore {
    async fn put_opts(
        &self,
        location: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        panic!("I/O before validation: put {location}")
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        panic!("I/O before validation: multipart {location}")
    }
    async fn get_opts(&self, location: &Path, _: GetOptions) -> object_store::Result<GetResult> {
        panic!("I/O before validation: get {location}")
    }
    fn delete_stream(
        &self,
        _: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        panic!("I/O before validation: delete")
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        panic!("I/O before validation: list {prefix:?}")
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        panic!("I/O before validation: list {prefix:?}")
    }
    async fn copy_opts(&self, from: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        panic!("I/O before validation: copy {from}")
    }
}

/// A registry whose store panics on any call.
pub(crate) fn panic_registry() -> mlops_registry::ObjectRegistry {
    let root = mlops_core::StoreRoot::from_parts(Arc::new(PanicStore), None);
    mlops_registry::ObjectRegistry::new(root)
}

/// A registry in a fresh temporary folder.
pub(crate) fn folder_registry() -> (mlops_registry::ObjectRegistry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let uri = mlops_core::StoreUri::parse(dir.path().to_str().unwrap()).unwrap();
    (
        mlops_registry::ObjectRegistry::open_uri(&uri)
            .unwrap()
            .with_actor("tests")
            .unwrap(),
        dir,
    )
}

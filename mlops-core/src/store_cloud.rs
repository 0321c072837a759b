//! Opening S3, Azure Blob and Google Cloud Storage roots (feature `cloud`).
//!
//! Each builder starts from the environment (`from_env`), takes the bucket or container from
//! the URL, then applies the caller's options. Option keys are object_store's config keys
//! (`aws_endpoint` or `endpoint`, `azure_storage_use_emulator` or `use_emulator`, …), matched
//! case-insensitively; an unknown key is an error that names it.

use std::str::FromStr;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use url::Url;

use crate::error::{Error, Result};
use crate::store_uri::CloudKind;

/// Builds the client for `kind` from the environment, `url` and `options`.
pub(crate) fn open<I, K, V>(
    uri: &str,
    url: &Url,
    kind: CloudKind,
    options: I,
) -> Result<Arc<dyn ObjectStore>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: Into<String>,
{
    let options = options
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_ascii_lowercase(), v.into()));
    let opened: object_store::Result<Arc<dyn ObjectStore>> = match kind {
        CloudKind::S3 => {
            let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(config_key::<AmazonS3ConfigKey>(uri, &key)?, value);
            }
            builder.build().map(|s| Arc::new(s) as _)
        }
        CloudKind::Azure => {
            let mut builder = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(config_key::<AzureConfigKey>(uri, &key)?, value);
            }
            builder.build().map(|s| Arc::new(s) as _)
        }
        CloudKind::Gcs => {
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(config_key::<GoogleConfigKey>(uri, &key)?, value);
            }
            builder.build().map(|s| Arc::new(s) as _)
        }
    };
    opened.map_err(|source| Error::OpenStore {
        uri: uri.to_owned(),
        source,
    })
}

fn config_key<T: FromStr>(uri: &str, key: &str) -> Result<T> {
    key.parse().map_err(|_| Error::InvalidStoreUri {
        uri: uri.to_owned(),
        reason: format!("unknown option `{key}` for this store"),
    })
}

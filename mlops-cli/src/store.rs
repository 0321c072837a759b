//! `mlops store …`: check that a storage root works before pointing a service at it.

use std::time::Instant;

use bytes::Bytes;
use clap::Subcommand;
use mlops::core::{ArtifactPath, StoreRoot, StoreUri, Timestamp};
use mlops::core::{Created, put_if_absent};
use object_store::{ObjectStoreExt, PutPayload};

use crate::Result;
use crate::layout::RootArgs;
use crate::output::line;

#[derive(Subcommand, Debug)]
pub(crate) enum StoreCommand {
    /// Open a store and prove it works: write, read back, refuse a second create, list,
    /// delete. Prints the time each step took.
    Check {
        /// The store: a folder, file://, memory://, s3://, az:// or gs:// (the last three
        /// need the `cloud` feature) [default: the store root, --store].
        uri: Option<String>,
        #[command(flatten)]
        root: RootArgs,
        /// A store option as KEY=VALUE (object_store config keys, e.g. aws_endpoint=...).
        #[arg(long = "option", short = 'o', value_parser = parse_option)]
        options: Vec<(String, String)>,
    },
}

fn parse_option(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{text}`"))
}

pub(crate) async fn run(command: StoreCommand) -> Result<()> {
    match command {
        StoreCommand::Check { uri, root, options } => {
            let uri = uri.unwrap_or_else(|| root.root_uri());
            check(&uri, options).await
        }
    }
}

async fn check(uri: &str, options: Vec<(String, String)>) -> Result<()> {
    let started = Instant::now();
    let parsed = StoreUri::parse(uri)?;
    let root = parsed.open_with_options(options)?;
    line(&format!("store    {uri}"))?;
    line(&format!("backend  {:?}", parsed.backend()))?;
    line(&format!("prefix   {:?}", root.prefix().as_ref()))?;
    step("open", started)?;

    let probe = ArtifactPath::parse(format!(
        ".mlops-check/probe-{}-{}",
        std::process::id(),
        Timestamp::now().as_millis()
    ))?;
    let key = root.key(&probe);
    let body = Bytes::from(format!("mlops store check {}", Timestamp::now()));
    let result = exercise(&root, &key, body).await;
    // Clean up even when a step failed, then report the first failure.
    let cleanup = root.store().delete(&key).await;
    result?;
    cleanup?;
    line("ok       the store works: atomic create, read-back and delete all behave")?;
    Ok(())
}

async fn exercise(root: &StoreRoot, key: &object_store::path::Path, body: Bytes) -> Result<()> {
    let store = root.store();
    let t = Instant::now();
    if put_if_absent(store.as_ref(), key, body.clone()).await? == Created::Taken {
        return Err(format!("{key} exists already: the check needs a fresh key").into());
    }
    step("create", t)?;

    let t = Instant::now();
    let read = store.get(key).await?.bytes().await?;
    if read != body {
        return Err(format!(
            "read back {} bytes that differ from what was written",
            read.len()
        )
        .into());
    }
    step("read", t)?;

    let t = Instant::now();
    match put_if_absent(store.as_ref(), key, PutPayload::from_static(b"second")).await? {
        Created::Taken => step("refuse", t)?,
        Created::Won => {
            return Err("a second create of the same key succeeded: no atomic create".into());
        }
    }

    let t = Instant::now();
    let listed = store.list_with_delimiter(Some(root.prefix())).await?;
    step("list", t)?;
    line(&format!(
        "         {} objects and {} folders at the top of the prefix",
        listed.objects.len(),
        listed.common_prefixes.len()
    ))
}

fn step(name: &str, since: Instant) -> Result<()> {
    line(&format!(
        "{name:<8} {:.1} ms",
        since.elapsed().as_secs_f64() * 1e3
    ))
}

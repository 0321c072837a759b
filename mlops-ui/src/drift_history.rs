//! The drift pages' data: mlops-monitor's [`History`] under the `--monitor-history` root
//! (the windows of a model), each window's per-feature scores from its JSON report, and its
//! HTML report. A report is found by listing the history's `reports/model=M/version=V/`
//! folder for the window's id: the object key always comes from the store's listing, never
//! from a client, and the client names a window only by model, version and id.

use std::collections::HashMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mlops_core::{ArtifactPath, StoreRoot, Timestamp};
use mlops_drift::DriftReport;
use mlops_monitor::{History, HistoryRow, MonitorError};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use crate::UiError;

/// The history's folder of Parquet rows (mlops-monitor's layout, docs/MONITOR.md).
const ROWS: &str = "rows";
/// The history's folder of JSON and HTML reports.
const REPORTS: &str = "reports";
/// The largest JSON or HTML report read back (reports carry small binned plots).
pub(crate) const MAX_REPORT_BYTES: u64 = 32 << 20;
/// Reports read at once for the charts.
const PARALLEL_READS: usize = 16;
/// The longest model, version or window id accepted from a request.
const MAX_NAME: usize = 256;

/// The drift history the UI shows.
#[derive(Clone, Debug)]
pub(crate) struct DriftHistory {
    root: StoreRoot,
    history: History,
}

/// A model's newest windows, oldest first.
#[derive(Debug)]
pub(crate) struct Windows {
    /// The windows shown.
    pub(crate) rows: Vec<HistoryRow>,
    /// How many older windows were left out (the cap).
    pub(crate) left_out: usize,
}

impl DriftHistory {
    /// The history under `root` (the URI `mlops monitor run --history` writes to).
    pub(crate) fn new(root: StoreRoot) -> Self {
        Self {
            history: History::new(root.clone()),
            root,
        }
    }

    fn folder(&self, segments: &[String]) -> crate::Result<ObjectPath> {
        let path = ArtifactPath::from_segments(segments.iter().cloned())
            .map_err(|e| UiError::BadRequest(format!("drift history path: {e}")))?;
        Ok(self.root.key(&path))
    }

    /// The models that have windows, sorted, at most `max`.
    pub(crate) async fn models(&self, max: usize) -> crate::Result<Vec<String>> {
        let prefix = self.folder(&[ROWS.to_owned()])?;
        let listed = match self.root.store().list_with_delimiter(Some(&prefix)).await {
            Ok(listed) => listed,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(store_error(&prefix, e)),
        };
        let mut models: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename()?.strip_prefix("model=").map(str::to_owned))
            .collect();
        models.sort();
        models.truncate(max);
        Ok(models)
    }

    /// The newest `max` windows of `model` (every version) from `since` on, oldest first
    /// (the history skips older date partitions without reading them).
    pub(crate) async fn windows(
        &self,
        model: &str,
        since: Option<Timestamp>,
        max: usize,
    ) -> crate::Result<Windows> {
        let mut rows = self.history.list(model, since).await?;
        let left_out = rows.len().saturating_sub(max);
        rows.drain(..left_out);
        Ok(Windows { rows, left_out })
    }

    /// The report files of `model`'s windows, by (version, window id) and extension, from
    /// one listing of `reports/model=M/` (or of one version's folder).
    async fn report_keys(
        &self,
        model: &str,
        version: Option<&str>,
    ) -> crate::Result<HashMap<(String, String, String), ObjectPath>> {
        let mut segments = vec![REPORTS.to_owned(), format!("model={model}")];
        if let Some(v) = version {
            segments.push(format!("version={v}"));
        }
        let prefix = self.folder(&segments)?;
        let objects: Vec<object_store::ObjectMeta> = self
            .root
            .store()
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| store_error(&prefix, e))?;
        let mut keys = HashMap::new();
        for meta in objects {
            // .../version=V/date=D/<id>.<ext>
            let parts: Vec<String> = meta
                .location
                .parts()
                .map(|p| p.as_ref().to_owned())
                .collect();
            let [.., version, _date, file] = parts.as_slice() else {
                continue;
            };
            let (Some(version), Some((id, ext))) =
                (version.strip_prefix("version="), file.rsplit_once('.'))
            else {
                continue;
            };
            if meta.size <= MAX_REPORT_BYTES {
                keys.insert(
                    (version.to_owned(), id.to_owned(), ext.to_owned()),
                    meta.location,
                );
            }
        }
        Ok(keys)
    }

    /// The HTML report of one window, named by model, version and id (checked first).
    pub(crate) async fn report_html(
        &self,
        model: &str,
        version: &str,
        window: &str,
    ) -> crate::Result<Bytes> {
        check_name("version", version)?;
        check_name("window", window)?;
        let keys = self.report_keys(model, Some(version)).await?;
        let wanted = (version.to_owned(), window.to_owned(), "html".to_owned());
        let key = keys.get(&wanted).ok_or_else(|| {
            UiError::NotFound(format!(
                "drift report of model {model:?} version {version:?} window {window:?}"
            ))
        })?;
        self.read(key).await
    }

    /// The JSON reports of `rows` (all of `model`), in order; `None` where a report is
    /// missing or unreadable (the chart shows a gap; the table still lists the window).
    pub(crate) async fn reports(
        &self,
        model: &str,
        rows: &[HistoryRow],
    ) -> crate::Result<Vec<Option<DriftReport>>> {
        let keys = self.report_keys(model, None).await?;
        let wanted: Vec<Option<ObjectPath>> = rows
            .iter()
            .map(|r| {
                keys.get(&(r.version.clone(), r.window.clone(), "json".to_owned()))
                    .cloned()
            })
            .collect();
        futures::stream::iter(wanted)
            .map(|key| async move {
                let Some(key) = key else {
                    return Ok(None);
                };
                let bytes = self.read(&key).await?;
                let text = String::from_utf8_lossy(&bytes);
                match mlops_monitor::report_from_json(key.as_ref(), &text) {
                    Ok(report) => Ok(Some(report)),
                    Err(e) => {
                        tracing::warn!("drift history: {e}");
                        Ok(None)
                    }
                }
            })
            .buffered(PARALLEL_READS)
            .try_collect()
            .await
    }

    async fn read(&self, key: &ObjectPath) -> crate::Result<Bytes> {
        let got = self
            .root
            .store()
            .get(key)
            .await
            .map_err(|e| store_error(key, e))?;
        if got.meta.size > MAX_REPORT_BYTES {
            return Err(UiError::BadRequest(format!(
                "{key}: {} bytes, over the limit of {MAX_REPORT_BYTES}",
                got.meta.size
            )));
        }
        got.bytes().await.map_err(|e| store_error(key, e))
    }
}

/// A version or window id from a request: short, one path segment of plain characters.
pub(crate) fn check_name(what: &str, text: &str) -> crate::Result<()> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if text.is_empty() || text.len() > MAX_NAME || text.starts_with('.') || !text.chars().all(plain)
    {
        return Err(UiError::BadRequest(format!("{what} {text:?}")));
    }
    Ok(())
}

fn store_error(key: &ObjectPath, e: object_store::Error) -> UiError {
    match e {
        object_store::Error::NotFound { .. } => UiError::NotFound(format!("drift history {key}")),
        e => UiError::Monitor(MonitorError::Store {
            key: key.to_string(),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn window_names_are_plain_segments() {
        assert!(check_name("window", "0193a1b2-77c4-7d1e-9f00-1a2b3c4d5e6f").is_ok());
        assert!(check_name("version", "12").is_ok());
        for bad in ["", "..", ".hidden", "a/b", "a%2Fb", "a b", &"x".repeat(300)] {
            assert!(check_name("window", bad).is_err(), "{bad:?}");
        }
    }
}

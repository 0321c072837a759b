//! Searching runs and experiments with MLflow's filter syntax, evaluated here by the crate's
//! [`filter`](crate::filter) engine.
//!
//! Experiment filters (`name LIKE 'churn%' AND tags.team = 'a'`, `creation_time > 1700…`)
//! use the run-filter grammar with experiment attributes: `name`, `experiment_id`,
//! `creation_time` and `last_update_time` (also prefixed `attribute.`/`attributes.`), and
//! `tags.<key>`. They are evaluated by the run engine, with an experiment standing in for a
//! run: its name as the run name, its id as the run id, and its times as start and end time.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use mlops_core::{ExperimentId, LifecycleStage, RunId};

use super::experiments::ExperimentEntry;
use super::listing::{StoreListing, worth_listing};
use super::runs::Fresh;
use super::{Inner, RunSlot};
use crate::entities::{Experiment, Run};
use crate::error::{Result, TrackError};
use crate::filter::{
    AttrValue, Attribute, Filter, FilterError, MaxResults, OrderBy, PageToken, QueryFingerprint,
    RunSearch, Searchable,
};
use crate::store::{ExperimentQuery, Page, RunQuery, ViewType};

fn in_view(view: ViewType, stage: LifecycleStage) -> bool {
    match view {
        ViewType::ActiveOnly => stage == LifecycleStage::Active,
        ViewType::DeletedOnly => stage == LifecycleStage::Deleted,
        ViewType::All => true,
    }
}

fn view_name(view: ViewType) -> &'static str {
    match view {
        ViewType::ActiveOnly => "active",
        ViewType::DeletedOnly => "deleted",
        ViewType::All => "all",
    }
}

impl Inner {
    pub(crate) async fn search_runs(&self, query: &RunQuery) -> Result<Page<Run>> {
        let mut experiment_ids = query.experiment_ids.clone();
        experiment_ids.sort();
        experiment_ids.dedup();
        let mut scope: Vec<&str> = vec!["runs", view_name(query.view)];
        scope.extend(experiment_ids.iter().map(ExperimentId::as_str));
        // Parse (and refuse a bad filter or token) before reading anything.
        let search = RunSearch::parse(
            query.filter.as_deref().unwrap_or(""),
            &query.order_by,
            query.max_results,
            query.page_token.as_deref(),
            &scope,
        )?;
        let (experiments, covers_every_experiment): (HashMap<ExperimentId, ExperimentEntry>, bool) = {
            let log = self.experiments_now().await?;
            let covers = log
                .entries
                .keys()
                .all(|id| experiment_ids.binary_search(id).is_ok());
            let experiments = experiment_ids
                .iter()
                .filter_map(|id| log.get(id).map(|e| (id.clone(), e.clone())))
                .collect();
            (experiments, covers)
        };
        // Runs whose cached view is fresh enough are taken without I/O and without a task
        // each (the common case for a long-lived process); the others are read concurrently.
        let mut runs: Vec<Arc<Run>> = Vec::new();
        let mut to_read: Vec<(RunId, Arc<ExperimentEntry>)> = Vec::new();
        // Per experiment, how many runs its index holds, and how many of those were taken
        // from summaries and ended longer than the grace period ago (for its refresh below).
        let mut indexed: HashMap<ExperimentId, (usize, usize)> = HashMap::new();
        for (id, entry) in experiments {
            let entry = Arc::new(entry);
            let ids = self.run_ids_of(&id).await?;
            // Ended runs the index covers (and that changed neither since it was built nor in
            // this process) are served from it, without reading their records.
            let index = self.index_view(&id).await;
            if let Some(index) = &index {
                indexed.insert(id.clone(), (index.len(), index.fresh_settled));
            }
            runs.reserve(ids.len());
            let now = Instant::now();
            let slots = self
                .runs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for run in ids.iter() {
                let view = slots
                    .get(run)
                    .and_then(|slot| self.cached_for_search(slot, &entry, now))
                    .or_else(|| {
                        index
                            .as_ref()
                            .filter(|index| !self.written_since(run, index))
                            .and_then(|index| index.view(run, &entry))
                    });
                match view {
                    Some(view) => runs.push(view),
                    None => to_read.push((run.clone(), Arc::clone(&entry))),
                }
            }
        }
        // Many stale runs (a new process, or a cache past its refresh interval) of every
        // experiment: one listing of every run instead of two per run (see `listing`).
        let total = runs.len() + to_read.len();
        let listing = if worth_listing(to_read.len(), total, covers_every_experiment) {
            match self.list_all_runs().await {
                Ok(listing) => Some(listing),
                Err(e) => {
                    tracing::warn!(error = %e, "listing every run failed; listing runs one by one");
                    None
                }
            }
        } else {
            None
        };
        let listing = listing.as_ref();
        let read: Vec<Option<Arc<Run>>> =
            futures::stream::iter(to_read)
                .map(|(id, experiment)| async move {
                    self.run_for_search(id, &experiment, listing).await
                })
                .buffer_unordered(self.options.concurrency)
                .collect()
                .await;
        // Ended runs an index could hold: by their end time (the builder checks the time
        // their status was recorded), so that runs ended within the grace period do not make
        // every search build a generation that leaves them out.
        let mut ended: HashMap<ExperimentId, usize> = HashMap::new();
        let settled = mlops_core::Timestamp::now().as_millis().saturating_sub(
            i64::try_from(self.options.index_grace.as_millis()).unwrap_or(i64::MAX),
        );
        for run in read.iter().flatten() {
            if run.info.status.is_terminal()
                && run
                    .info
                    .end_time
                    .is_none_or(|end| end.as_millis() <= settled)
            {
                *ended.entry(run.info.experiment_id.clone()).or_default() += 1;
            }
        }
        // Summaries' runs past the grace period are read again by a build: they count as
        // read.
        for (experiment, (_, settled)) in &indexed {
            if *settled > 0 {
                *ended.entry(experiment.clone()).or_default() += settled;
            }
        }
        for (experiment, count) in ended {
            if let Some(&(held, _)) = indexed.get(&experiment) {
                self.refresh_index(&experiment, count, held).await;
            }
        }
        runs.extend(read.into_iter().flatten());
        runs.retain(|run| in_view(query.view, run.info.lifecycle_stage));
        let page = search.apply(runs.iter().map(|run| &**run));
        Ok(Page {
            items: page.runs.into_iter().cloned().collect(),
            next_page_token: page.next_page_token,
        })
    }

    /// A run's cached view when it is recent enough for a search (its meta log and metric
    /// files listed within the refresh interval), without waiting for its lock; `None` when
    /// the run must be read.
    fn cached_for_search(
        &self,
        slot: &RunSlot,
        experiment: &ExperimentEntry,
        now: Instant,
    ) -> Option<Arc<Run>> {
        let mut st = slot.state.try_lock().ok()?;
        let fresh = st.meta.is_some()
            && st
                .full_refreshed
                .is_some_and(|t| now.saturating_duration_since(t) < self.options.refresh_interval);
        if !fresh {
            return None;
        }
        // A run listed under another experiment takes the slow path, which reports it.
        st.view(Some(experiment), &self.base_uri)
            .filter(|run| run.info.experiment_id == experiment.experiment_id)
    }

    /// One run for a search: unreadable runs are skipped with a warning, never failing the
    /// search; a marker without a run (an interrupted creation) is skipped quietly.
    async fn run_for_search(
        &self,
        id: RunId,
        experiment: &ExperimentEntry,
        listing: Option<&StoreListing>,
    ) -> Option<Arc<Run>> {
        let slot = self.run_slot(&id);
        let mut st = slot.state.lock().await;
        let due = st.meta.is_none()
            || st
                .full_refreshed
                .is_none_or(|t| t.elapsed() >= self.options.refresh_interval);
        let loaded = match listing {
            Some(listing) if due => match self.refresh_run_listed(&id, &mut st, listing).await {
                Ok(()) => self.loaded(&id, &st),
                Err(e) => Err(e),
            },
            _ => self.load_run(&id, &mut st, Fresh::RecentFull).await,
        };
        match loaded {
            Ok(()) => {}
            Err(TrackError::NotFound { .. }) => {
                tracing::debug!(run = %id, "skipping a run whose creation was interrupted");
                return None;
            }
            Err(e) => {
                self.note_damage(
                    self.keys.run_meta_dir(&id).as_ref(),
                    &format!("an unreadable run, left out of a search: {e}"),
                );
                return None;
            }
        }
        let run = st.view(Some(experiment), &self.base_uri)?;
        if run.info.experiment_id != experiment.experiment_id {
            self.note_damage(
                self.keys
                    .run_marker(&experiment.experiment_id, &id)
                    .as_ref(),
                &format!(
                    "run {id} is filed under experiment {}, but belongs to experiment {}",
                    experiment.experiment_id, run.info.experiment_id
                ),
            );
            return None;
        }
        Some(run)
    }

    pub(crate) async fn search_experiments(
        &self,
        query: &ExperimentQuery,
    ) -> Result<Page<Experiment>> {
        let filter = parse_experiment_filter(query.filter.as_deref().unwrap_or(""))?;
        let order = ExperimentOrder::parse(&query.order_by)?;
        let max_results = query
            .max_results
            .map_or(Ok(MaxResults::default()), MaxResults::try_from)?;
        let mut scope: Vec<&str> = vec!["experiments", view_name(query.view)];
        scope.extend(query.order_by.iter().map(String::as_str));
        let fingerprint = QueryFingerprint::of(&filter, &OrderBy::default(), &scope);
        let offset = match query.page_token.as_deref() {
            None | Some("") => 0,
            Some(token) => PageToken::decode(token, fingerprint)?.offset(),
        };
        let mut experiments: Vec<Experiment> = {
            let log = self.experiments_now().await?;
            log.entries
                .values()
                .filter(|e| in_view(query.view, e.lifecycle))
                .map(|e| e.to_experiment(&self.base_uri))
                .filter(|e| filter.matches(&ExperimentRow(e)))
                .collect()
        };
        experiments.sort_by(|a, b| order.compare(a, b));
        let total = experiments.len();
        let end = offset.saturating_add(max_results.get());
        let items: Vec<Experiment> = experiments
            .into_iter()
            .skip(offset)
            .take(max_results.get())
            .collect();
        Ok(Page {
            items,
            next_page_token: (end < total).then(|| PageToken::new(end, fingerprint).encode()),
        })
    }
}

/// An experiment seen through the run-filter engine.
struct ExperimentRow<'a>(&'a Experiment);

impl Searchable for ExperimentRow<'_> {
    fn metric(&self, _: &str) -> Option<f64> {
        None
    }

    fn param(&self, _: &str) -> Option<&str> {
        None
    }

    fn tag(&self, key: &str) -> Option<&str> {
        self.0
            .tags
            .iter()
            .find(|t| t.key().as_str() == key)
            .map(|t| t.value())
    }

    fn attribute(&self, attribute: Attribute) -> Option<AttrValue<'_>> {
        let e = self.0;
        Some(match attribute {
            Attribute::RunName => AttrValue::Text(e.name.as_str()),
            Attribute::RunId => AttrValue::Text(e.experiment_id.as_str()),
            Attribute::StartTime => AttrValue::Millis(e.creation_time?.as_millis()),
            Attribute::EndTime => AttrValue::Millis(e.last_update_time?.as_millis()),
            _ => return None,
        })
    }
}

const EXPERIMENT_FIELDS: &str =
    "`name`, `experiment_id`, `creation_time`, `last_update_time` or `tags.<key>`";

/// The run attribute an experiment attribute is evaluated as.
fn experiment_attribute(word: &str) -> Option<&'static str> {
    let bare = word
        .strip_prefix("attributes.")
        .or_else(|| word.strip_prefix("attribute."))
        .unwrap_or(word);
    Some(match bare {
        "name" => "attributes.run_name",
        "experiment_id" => "attributes.run_id",
        "creation_time" => "attributes.start_time",
        "last_update_time" => "attributes.end_time",
        _ => return None,
    })
}

/// Parses an experiment filter by rewriting its attribute names into the run attributes that
/// stand for them (outside quotes), then parsing with the run grammar. Error positions refer
/// to the text as written.
fn parse_experiment_filter(text: &str) -> Result<Filter, FilterError> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    // (position in `out`, position in `text`) at the end of each rewritten word.
    let mut shifts: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' | b'"' | b'`' => {
                // Copy a quoted run verbatim (a doubled quote continues it).
                let start = i;
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == c {
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                out.push_str(&text[start..i]);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'_' | b'.'))
                {
                    i += 1;
                }
                let word = &text[start..i];
                let lower = word.to_ascii_lowercase();
                let keyword = matches!(
                    lower.as_str(),
                    "and" | "or" | "like" | "ilike" | "in" | "not" | "is" | "null"
                );
                let tag = word.starts_with("tags.") || word.starts_with("tag.");
                if keyword || tag {
                    out.push_str(word);
                } else if let Some(attribute) = experiment_attribute(word) {
                    out.push_str(attribute);
                    shifts.push((out.len(), i));
                } else {
                    return Err(FilterError::Syntax {
                        at: start,
                        expected: format!("an experiment field: {EXPERIMENT_FIELDS}"),
                        found: format!("`{word}`"),
                    });
                }
            }
            c if c.is_ascii_digit() || c == b'-' || c == b'+' || c == b'.' => {
                // A number, copied whole so that `1e5` is not read as a word.
                let start = i;
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'-' | b'+'))
                {
                    i += 1;
                }
                out.push_str(&text[start..i]);
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    Filter::parse(&out).map_err(|e| shift_error(e, &shifts))
}

/// Maps an error position in the rewritten text back to the text as written.
fn shift_error(error: FilterError, shifts: &[(usize, usize)]) -> FilterError {
    let map = |at: usize| {
        let mut delta: isize = 0;
        for &(out_end, text_end) in shifts {
            if out_end <= at {
                delta = out_end as isize - text_end as isize;
            }
        }
        (at as isize - delta).max(0) as usize
    };
    match error {
        FilterError::Syntax {
            at,
            expected,
            found,
        } => FilterError::Syntax {
            at: map(at),
            expected,
            found,
        },
        FilterError::Or { at } => FilterError::Or { at: map(at) },
        FilterError::Comparator {
            at,
            comparator,
            field,
            allowed,
        } => FilterError::Comparator {
            at: map(at),
            comparator,
            field,
            allowed,
        },
        FilterError::Value {
            at,
            field,
            expected,
            found,
        } => FilterError::Value {
            at: map(at),
            field,
            expected,
            found,
        },
        FilterError::Unterminated { at, what } => FilterError::Unterminated { at: map(at), what },
        FilterError::ReservedKey { at, word } => FilterError::ReservedKey { at: map(at), word },
        other => other,
    }
}

/// MLflow's experiment order: clauses on `name`, `experiment_id`, `creation_time`,
/// `last_update_time`, each `ASC` (default) or `DESC`; `creation_time DESC` when none; then
/// `experiment_id` ascending as the tie-breaker.
struct ExperimentOrder(Vec<(ExperimentKey, bool)>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExperimentKey {
    Name,
    Id,
    Created,
    Updated,
}

impl ExperimentOrder {
    fn parse(clauses: &[String]) -> Result<Self, FilterError> {
        let mut keys = Vec::new();
        for (index, clause) in clauses.iter().enumerate() {
            let wrap = |source: FilterError| FilterError::OrderByClause {
                index,
                source: Box::new(source),
            };
            let mut words = clause.split_whitespace();
            let field = words.next().unwrap_or("");
            let ascending = match words.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => true,
                Some("DESC") => false,
                Some(other) => {
                    return Err(wrap(FilterError::Syntax {
                        at: clause.find(other.get(..1).unwrap_or("")).unwrap_or(0),
                        expected: "`ASC` or `DESC`".to_owned(),
                        found: format!("`{other}`"),
                    }));
                }
            };
            if let Some(extra) = words.next() {
                return Err(wrap(FilterError::Syntax {
                    at: clause.find(extra).unwrap_or(0),
                    expected: "the end of the clause".to_owned(),
                    found: format!("`{extra}`"),
                }));
            }
            let key = match experiment_attribute(field) {
                Some("attributes.run_name") => ExperimentKey::Name,
                Some("attributes.run_id") => ExperimentKey::Id,
                Some("attributes.start_time") => ExperimentKey::Created,
                Some("attributes.end_time") => ExperimentKey::Updated,
                _ => {
                    return Err(wrap(FilterError::Syntax {
                        at: clause.find(field).unwrap_or(0),
                        expected: "`name`, `experiment_id`, `creation_time` or `last_update_time`"
                            .to_owned(),
                        found: if field.is_empty() {
                            "end of input".to_owned()
                        } else {
                            format!("`{field}`")
                        },
                    }));
                }
            };
            if keys.iter().any(|(k, _)| *k == key) {
                return Err(FilterError::DuplicateOrderBy {
                    field: field.to_owned(),
                });
            }
            keys.push((key, ascending));
        }
        if keys.is_empty() {
            keys.push((ExperimentKey::Created, false));
        }
        if !keys.iter().any(|(k, _)| *k == ExperimentKey::Id) {
            keys.push((ExperimentKey::Id, true));
        }
        Ok(Self(keys))
    }

    fn compare(&self, a: &Experiment, b: &Experiment) -> Ordering {
        for &(key, ascending) in &self.0 {
            let ordering = match key {
                ExperimentKey::Name => a.name.as_str().cmp(b.name.as_str()),
                ExperimentKey::Id => compare_ids(&a.experiment_id, &b.experiment_id),
                ExperimentKey::Created => a.creation_time.cmp(&b.creation_time),
                ExperimentKey::Updated => a.last_update_time.cmp(&b.last_update_time),
            };
            let ordering = if ascending {
                ordering
            } else {
                ordering.reverse()
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }
}

/// Decimal ids compare as numbers (as in MLflow's SQL store), others as text.
fn compare_ids(a: &ExperimentId, b: &ExperimentId) -> Ordering {
    let (a, b) = (a.as_str(), b.as_str());
    let decimal = |s: &str| s.len() < 32 && s.bytes().all(|c| c.is_ascii_digit());
    if decimal(a) && decimal(b) {
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

#[cfg(test)]
mod tests {
    use mlops_core::{ExperimentName, Tag, Timestamp};

    use super::*;

    fn experiment(id: &str, name: &str, created: i64) -> Experiment {
        Experiment {
            experiment_id: ExperimentId::parse(id).unwrap(),
            name: ExperimentName::parse(name).unwrap(),
            artifact_location: String::new(),
            lifecycle_stage: LifecycleStage::Active,
            creation_time: Some(Timestamp::from_millis(created).unwrap()),
            last_update_time: Some(Timestamp::from_millis(created + 5).unwrap()),
            tags: vec![Tag::parse("team", "a").unwrap()],
        }
    }

    #[test]
    fn experiment_filters_use_experiment_fields() {
        let e = experiment("7", "churn/weekly", 1000);
        for (text, expected) in [
            ("name = 'churn/weekly'", true),
            ("name LIKE 'churn%' AND tags.team = 'a'", true),
            ("attributes.name ILIKE 'CHURN%'", true),
            ("creation_time > 999 and last_update_time <= 1005", true),
            ("experiment_id IN ('7', '8')", true),
            ("tags.team != 'a'", false),
            ("tags.`team` = 'a'", true),
            ("name = 'name'", false),
            ("", true),
        ] {
            let filter = parse_experiment_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(filter.matches(&ExperimentRow(&e)), expected, "{text}");
        }
        let err = parse_experiment_filter("status = 'x'").unwrap_err();
        assert_eq!(err.position(), Some(0));
        let err = parse_experiment_filter("name = 'x' and metrics.m > 1").unwrap_err();
        assert_eq!(err.position(), Some(15));
        let err = parse_experiment_filter("name == 'x'").unwrap_err();
        assert_eq!(err.position(), Some(5), "{err}");
    }

    #[test]
    fn experiment_order_is_mlflows() {
        let a = experiment("2", "b", 10);
        let b = experiment("10", "a", 10);
        let c = experiment("3", "c", 20);
        let mut all = [a, b, c];
        all.sort_by(|x, y| ExperimentOrder::parse(&[]).unwrap().compare(x, y));
        let ids: Vec<&str> = all.iter().map(|e| e.experiment_id.as_str()).collect();
        assert_eq!(ids, ["3", "2", "10"]);
        let order = ExperimentOrder::parse(&["name ASC".to_owned()]).unwrap();
        all.sort_by(|x, y| order.compare(x, y));
        assert_eq!(all[0].name.as_str(), "a");
        assert!(ExperimentOrder::parse(&["status".to_owned()]).is_err());
        assert!(ExperimentOrder::parse(&["name sideways".to_owned()]).is_err());
        assert!(ExperimentOrder::parse(&["name".to_owned(), "name DESC".to_owned()]).is_err());
    }
}

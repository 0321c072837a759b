//! Aliases: each alias is an append-only log of moves, one create-if-absent object per move
//! (the model registry's protocol): two writers moving the same alias at once both land, in
//! some order, and the later entry is the alias's value. The log is the alias's history.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mlops_core::{Created, put_if_absent};
use serde::Serialize;

use crate::datasets::Datasets;
use crate::error::{DataError, Result};
use crate::keys::parse_slot;
use crate::names::{DatasetAlias, DatasetName};
use crate::record::AliasRecord;

/// One move of an alias.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AliasMove {
    /// The alias.
    pub alias: DatasetAlias,
    /// The version it was set to.
    pub version: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who, when known.
    pub actor: Option<String>,
}

impl Datasets {
    /// Points `alias` of `name` at `version` (which must exist). Setting it to the version
    /// it holds already writes nothing. Returns the alias's current move.
    ///
    /// # Errors
    ///
    /// [`DataError::NotFound`] for a missing version; store errors.
    pub async fn set_alias(
        &self,
        name: &DatasetName,
        alias: &DatasetAlias,
        version: u64,
        actor: Option<&str>,
    ) -> Result<AliasMove> {
        self.version(name, version).await?;
        for _ in 0..1000 {
            let log = self.alias_slots(name, alias).await?;
            if let Some(&last) = log.last() {
                let current = self.alias_entry(name, alias, last).await?;
                if current.version == version {
                    return Ok(current);
                }
            }
            let seq = log.last().map_or(1, |s| s + 1);
            let key = self.keys.alias_entry(name, alias, seq);
            let record = AliasRecord::new(version, Utc::now(), actor.map(str::to_owned));
            match put_if_absent(self.store.as_ref(), &key, record.to_bytes())
                .await
                .map_err(|e| DataError::storage(&key, e))?
            {
                Created::Won => {
                    return Ok(AliasMove {
                        alias: alias.clone(),
                        version,
                        at: record.at,
                        actor: record.actor,
                    });
                }
                // Another writer moved it meanwhile: read again and append after theirs.
                Created::Taken => {}
            }
        }
        Err(DataError::Busy {
            what: "dataset alias",
            name: format!("{name}@{alias}"),
            reason: "too many concurrent moves".into(),
        })
    }

    /// The version `alias` holds now, and since when.
    ///
    /// # Errors
    ///
    /// Store errors and corrupt records.
    pub async fn alias(
        &self,
        name: &DatasetName,
        alias: &DatasetAlias,
    ) -> Result<Option<AliasMove>> {
        match self.alias_slots(name, alias).await?.last() {
            Some(&last) => self.alias_entry(name, alias, last).await.map(Some),
            None => Ok(None),
        }
    }

    /// Every move of `alias`, oldest first.
    ///
    /// # Errors
    ///
    /// Store errors and corrupt records.
    pub async fn alias_history(
        &self,
        name: &DatasetName,
        alias: &DatasetAlias,
    ) -> Result<Vec<AliasMove>> {
        let mut out = Vec::new();
        for seq in self.alias_slots(name, alias).await? {
            out.push(self.alias_entry(name, alias, seq).await?);
        }
        Ok(out)
    }

    /// Every alias of `name` with its current move, sorted by alias.
    ///
    /// # Errors
    ///
    /// Store errors and corrupt records.
    pub async fn aliases(&self, name: &DatasetName) -> Result<Vec<AliasMove>> {
        let dir = self.keys.aliases(name);
        let listed = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| DataError::storage(&dir, e))?;
        let mut out = Vec::new();
        for prefix in listed.common_prefixes {
            let Some(alias) = prefix.filename().and_then(|a| DatasetAlias::parse(a).ok()) else {
                continue;
            };
            if let Some(current) = self.alias(name, &alias).await? {
                out.push(current);
            }
        }
        out.sort_by(|a, b| a.alias.cmp(&b.alias));
        Ok(out)
    }

    async fn alias_slots(&self, name: &DatasetName, alias: &DatasetAlias) -> Result<Vec<u64>> {
        let dir = self.keys.alias_log(name, alias);
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| DataError::storage(&dir, e))?;
        let mut slots: Vec<u64> = metas
            .iter()
            .filter_map(|m| parse_slot(&m.location))
            .collect();
        slots.sort_unstable();
        Ok(slots)
    }

    async fn alias_entry(
        &self,
        name: &DatasetName,
        alias: &DatasetAlias,
        seq: u64,
    ) -> Result<AliasMove> {
        let key = self.keys.alias_entry(name, alias, seq);
        let bytes = self
            .get_opt(&key)
            .await?
            .ok_or_else(|| DataError::corrupt(&key, &"listed but gone"))?;
        let record = AliasRecord::decode(key.as_ref(), &bytes)?;
        Ok(AliasMove {
            alias: alias.clone(),
            version: record.version,
            at: record.at,
            actor: record.actor,
        })
    }
}

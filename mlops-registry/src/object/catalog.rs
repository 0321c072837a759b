//! The catalog: the registry's model names and ids, as the fold of its own commit log
//! (`registry/catalog/`). Creating, renaming and deleting a model are catalog entries; a
//! model's id never changes, so a rename moves no data.

use std::collections::BTreeMap;

use mlops_core::{ModelName, Timestamp};
use serde::{Deserialize, Serialize};

use super::log::{Entry, Fold};

/// One model in the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CatalogModel {
    pub(crate) id: String,
    pub(crate) name: ModelName,
    pub(crate) created: Timestamp,
    pub(crate) creator: String,
}

/// A change of the catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum CatalogOp {
    Create {
        model: CatalogModel,
    },
    Rename {
        id: String,
        from: ModelName,
        to: ModelName,
    },
    Delete {
        id: String,
        name: ModelName,
    },
}

/// Live models by case-folded name.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Catalog {
    pub(crate) models: BTreeMap<String, CatalogModel>,
}

impl Fold for Catalog {
    type Op = CatalogOp;

    fn apply(&mut self, entry: &Entry<CatalogOp>) {
        match &entry.op {
            CatalogOp::Create { model } => {
                self.models.insert(model.name.case_folded(), model.clone());
            }
            CatalogOp::Rename { id, from, to } => {
                if let Some(mut model) = self.models.remove(&from.case_folded()) {
                    if &model.id == id {
                        model.name = to.clone();
                        self.models.insert(to.case_folded(), model);
                    } else {
                        self.models.insert(from.case_folded(), model);
                    }
                }
            }
            CatalogOp::Delete { id, name } => {
                if self
                    .models
                    .get(&name.case_folded())
                    .is_some_and(|m| &m.id == id)
                {
                    self.models.remove(&name.case_folded());
                }
            }
        }
    }
}

/// A name's confusable skeleton (Unicode TR 39), of its case-folded form: names with equal
/// skeletons look alike.
pub(crate) fn skeleton(name: &ModelName) -> String {
    unicode_security::skeleton(&name.case_folded()).collect()
}

impl Catalog {
    /// A live model (other than the one with id `except`) whose name looks like `name`:
    /// equal skeletons, where at least one of the two names has a non-ASCII character.
    /// Two ASCII names are left alone (TR 39 also pairs `rn` with `m` and `1` with `l`,
    /// which would refuse ordinary names such as `model-1` beside `model-l`); names equal
    /// ignoring case are refused before this check.
    pub(crate) fn confusable(
        &self,
        name: &ModelName,
        except: Option<&str>,
    ) -> Option<&CatalogModel> {
        let ascii = name.as_str().is_ascii();
        let mut wanted = None;
        self.models.values().find(|m| {
            if except == Some(m.id.as_str()) || (ascii && m.name.as_str().is_ascii()) {
                return false;
            }
            let wanted = wanted.get_or_insert_with(|| skeleton(name));
            skeleton(&m.name) == *wanted
        })
    }

    /// The live model with exactly this name.
    pub(crate) fn get(&self, name: &ModelName) -> Option<&CatalogModel> {
        self.models
            .get(&name.case_folded())
            .filter(|m| &m.name == name)
    }
}

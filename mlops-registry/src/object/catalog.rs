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

impl Catalog {
    /// The live model with exactly this name.
    pub(crate) fn get(&self, name: &ModelName) -> Option<&CatalogModel> {
        self.models
            .get(&name.case_folded())
            .filter(|m| &m.name == name)
    }
}

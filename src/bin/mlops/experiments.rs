//! `mlops experiments …`: the experiments of a tracking store.

use clap::Subcommand;

use crate::tracking::{
    Format, StoreArgs, View, all_experiments, open, print_json, print_table, time,
};
use crate::{EXIT_OK, Result};

#[derive(Subcommand, Debug)]
pub(crate) enum ExperimentsCommand {
    /// List experiments: name, id, lifecycle stage, creation time.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// MLflow's experiment filter syntax, e.g. "name LIKE 'churn%'".
        #[arg(long)]
        filter: Option<String>,
        /// Live, deleted or all experiments.
        #[arg(long, value_enum, default_value_t)]
        view: View,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub(crate) async fn run(command: ExperimentsCommand) -> Result<u8> {
    match command {
        ExperimentsCommand::List {
            store,
            filter,
            view,
            format,
        } => {
            let store = open(&store.store, false).await?;
            let experiments = all_experiments(store.as_ref(), view.into(), filter).await?;
            match format {
                Format::Json => print_json(&serde_json::to_value(&experiments)?)?,
                Format::Table => {
                    let headers = ["name", "id", "stage", "created", "tags"].map(String::from);
                    let rows: Vec<Vec<String>> = experiments
                        .iter()
                        .map(|e| {
                            vec![
                                e.name.to_string(),
                                e.experiment_id.to_string(),
                                e.lifecycle_stage.to_string(),
                                e.creation_time.map(time).unwrap_or_else(|| "-".to_owned()),
                                e.tags.len().to_string(),
                            ]
                        })
                        .collect();
                    print_table(&headers, &rows);
                }
            }
            Ok(EXIT_OK)
        }
    }
}

//! `mlops experiments …`: the experiments of a tracking store.

use clap::Subcommand;
use mlops::track::Experiment;

use crate::layout::TrackingArgs;
use crate::output::table::Table;
use crate::output::text::{or_dash, time};
use crate::output::{Format, json};
use crate::runs::args::View;
use crate::runs::ops::all_experiments;
use crate::stores::{self, Open};
use crate::{Result, exit};

#[derive(Subcommand, Debug)]
pub(crate) enum ExperimentsCommand {
    /// List experiments: name, id, lifecycle stage, creation time.
    List {
        #[command(flatten)]
        store: TrackingArgs,
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
            let store = stores::tracking(&store.tracking_uri(), Open::Existing).await?;
            let experiments = all_experiments(store.as_ref(), view.into(), filter).await?;
            print(&experiments, format)?;
            Ok(exit::OK)
        }
    }
}

fn print(experiments: &[Experiment], format: Format) -> Result<()> {
    if format == Format::Json {
        return json(&experiments);
    }
    let mut table = Table::new(["name", "id", "stage", "created", "tags"]).cut();
    for e in experiments {
        table.row([
            e.name.to_string(),
            e.experiment_id.to_string(),
            e.lifecycle_stage.to_string(),
            or_dash(e.creation_time.map(time)),
            e.tags.len().to_string(),
        ]);
    }
    table.print()
}

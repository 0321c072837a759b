//! `mlops experiments …`: the experiments of a tracking store.

use clap::Subcommand;
use mlops::track::{Damage, Experiment};

use crate::Result;
use crate::layout::TrackingArgs;
use crate::output::Format;
use crate::output::table::Table;
use crate::output::text::{or_dash, time};
use crate::runs::args::View;
use crate::runs::damage;
use crate::runs::ops::all_experiments;
use crate::stores::{self, Open};

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
        /// Exit 0 even when damaged records were left out (they are still reported).
        #[arg(long)]
        allow_damaged: bool,
    },
}

pub(crate) async fn run(command: ExperimentsCommand) -> Result<u8> {
    match command {
        ExperimentsCommand::List {
            store,
            filter,
            view,
            format,
            allow_damaged,
        } => {
            let store = stores::tracking(&store.tracking_uri(), Open::Existing).await?;
            let experiments = all_experiments(store.as_ref(), view.into(), filter).await?;
            let damaged = store.damage();
            print(&experiments, &damaged, format)?;
            damage::verdict(&damaged, allow_damaged)
        }
    }
}

fn print(experiments: &[Experiment], damaged: &[Damage], format: Format) -> Result<()> {
    if format == Format::Json {
        return damage::json_list("experiments", &experiments, damaged);
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

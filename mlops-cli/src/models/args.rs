//! The arguments of `mlops models …`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::layout::RegistryArgs;
use crate::output::Format;

/// `mlops models …`.
#[derive(Args, Debug)]
pub(crate) struct ModelsArgs {
    #[command(flatten)]
    pub(crate) stores: RegistryArgs,
    /// Who is acting, as recorded in the audit log (default: $USER).
    #[arg(long = "actor", env = "MLOPS_ACTOR", global = true)]
    pub(crate) actor: Option<String>,
    #[command(subcommand)]
    pub(crate) command: ModelsCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ModelsCommand {
    /// Register a new version from the files in a folder (the model is created if needed);
    /// prints the version number.
    Register {
        /// The model.
        #[arg(long)]
        name: String,
        /// The folder whose files become the version (symbolic links are refused).
        #[arg(long)]
        path: PathBuf,
        /// The run the model was trained in (in the tracking store of --store or
        /// --tracking): linked, with a snapshot of its metrics.
        #[arg(long)]
        run: Option<String>,
        /// A description of the version.
        #[arg(long)]
        description: Option<String>,
        /// A reference drift profile (`mlops profile build`, JSON or Parquet) stored with the
        /// version: what `mlops monitor` and `mlops serve --monitor` compare its traffic with.
        #[arg(long)]
        drift_profile: Option<PathBuf>,
        /// The version's signature: MLflow's signature JSON (`{"inputs": "[...]",
        /// "outputs": "[...]"}`), naming the columns of its tensors.
        #[arg(long)]
        signature: Option<PathBuf>,
        /// `table` prints the number; `json` the whole version.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Move an alias to a version if the precondition holds and every gate passes. Exits 0
    /// when promoted, 3 when the precondition or a gate failed, 1 on error.
    Promote {
        /// The model.
        #[arg(long)]
        name: String,
        /// The version to promote.
        #[arg(long)]
        version: String,
        /// The alias, e.g. champion.
        #[arg(long)]
        alias: String,
        /// What the alias must hold now: a version, `none` (unset) or `any` (the default).
        #[arg(long = "expect-current", default_value = "any")]
        expect_current: String,
        /// A gate: `metric:<key>:higher|lower[:<margin>]`, `schema`, `approval[:<n>]`.
        /// Repeatable; all must pass.
        #[arg(long = "gate")]
        gates: Vec<String>,
        /// POST a JSON event to this https URL when the alias moves (needs the `tls` feature;
        /// the host must resolve to public addresses only).
        #[arg(long)]
        webhook: Option<String>,
        /// Print the decision as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Move an alias back to its holder before the latest promotion. Exits 3 when the alias
    /// moved meanwhile.
    Rollback {
        /// The model.
        #[arg(long)]
        name: String,
        /// The alias.
        #[arg(long)]
        alias: String,
        /// POST a JSON event to this https URL when the alias moves.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Record an approval (or with --reject, a rejection, or with --request, a request) of
    /// a version for an alias by a named person.
    Approve {
        /// The model.
        #[arg(long)]
        name: String,
        /// The version.
        #[arg(long)]
        version: String,
        /// The alias it is to be promoted to.
        #[arg(long)]
        alias: String,
        /// Who approves (a named person).
        #[arg(long)]
        by: String,
        /// Record a rejection instead.
        #[arg(long, conflicts_with = "request")]
        reject: bool,
        /// Record a request for approval instead.
        #[arg(long)]
        request: bool,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
    },
    /// List registered models.
    List {
        /// Only names containing this text.
        #[arg(long)]
        filter: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Show a model, or one version with --version.
    Show {
        /// The model.
        #[arg(long)]
        name: String,
        /// A version number or an alias.
        #[arg(long)]
        version: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List a model's versions, newest first.
    Versions {
        /// The model.
        #[arg(long)]
        name: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// A model's audit log (or one alias's history with --alias), oldest first.
    History {
        /// The model.
        #[arg(long)]
        name: String,
        /// Only this alias's changes.
        #[arg(long)]
        alias: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

impl ModelsCommand {
    /// Whether the command may start a new registry: only `register` writes into one that
    /// does not exist yet; every other command needs an existing one.
    pub(crate) fn creates(&self) -> bool {
        matches!(self, ModelsCommand::Register { .. })
    }
}

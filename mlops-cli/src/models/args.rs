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
    /// Run the step at most once for this key (e.g. Airflow's `{{ run_id }}`): a retry with
    /// the same key prints the first attempt's result and exits with its code, doing nothing
    /// (register, promote, rollback, approve, approval request; object-store registries).
    #[arg(long = "idempotency-key", value_name = "KEY", global = true)]
    pub(crate) idempotency_key: Option<String>,
    #[command(subcommand)]
    pub(crate) command: ModelsCommand,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ModelsCommand {
    /// Register a new version from the files in a folder, or from a tracked run's artifacts
    /// (--run with --artifact-path); the model is created if needed. Prints the version
    /// number.
    Register {
        /// The model.
        #[arg(long)]
        name: String,
        /// The folder whose files become the version (symbolic links are refused).
        #[arg(long, required_unless_present = "artifact_path")]
        path: Option<PathBuf>,
        /// The run the model was trained in (in the tracking store of --store or
        /// --tracking): linked, with a snapshot of its metrics.
        #[arg(long)]
        run: Option<String>,
        /// Register the run's own artifacts under this folder (e.g. `model/`) instead of a
        /// local --path.
        #[arg(long, requires = "run", conflicts_with = "path")]
        artifact_path: Option<String>,
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
    /// Evaluate the gates of a promotion against the alias's current holder and move
    /// nothing (the deploy job promotes later, with --expect-current the holder compared).
    /// Exits 0 when a promotion would go through, 3 when it would be refused.
    Gate {
        /// The model.
        #[arg(long)]
        name: String,
        /// The candidate version.
        #[arg(long)]
        version: String,
        /// The alias, e.g. champion.
        #[arg(long)]
        alias: String,
        /// What the alias must hold now: a version, `none` (unset) or `any` (the default).
        #[arg(long = "expect-current", default_value = "any")]
        expect_current: String,
        /// A gate, as for `promote`. Repeatable; all must pass.
        #[arg(long = "gate")]
        gates: Vec<String>,
        /// Print the verdict as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Request a review of a version for an alias (notifying reviewers on Slack or Teams),
    /// and wait for the decision.
    #[command(subcommand)]
    Approval(ApprovalCommand),
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
        /// Print the decision as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
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
        /// Print the record as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
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

/// `mlops models approval …`.
#[derive(Subcommand, Debug)]
pub(crate) enum ApprovalCommand {
    /// Record a request for approval (by --actor) and notify the reviewers. A new request
    /// starts a new round: approvals given before it no longer count.
    Request {
        /// The model.
        #[arg(long)]
        name: String,
        /// The version to review.
        #[arg(long)]
        version: String,
        /// The alias it is to be promoted to.
        #[arg(long)]
        alias: String,
        /// A note for the reviewers.
        #[arg(long)]
        comment: Option<String>,
        #[command(flatten)]
        notify: NotifyArgs,
        /// Print the request (and each notification's delivery) as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Wait until the request is approved (exit 0) or rejected (exit 3), or the timeout
    /// passes (exit 1), polling the registry with a growing pause.
    Wait {
        /// The model.
        #[arg(long)]
        name: String,
        /// The version under review.
        #[arg(long)]
        version: String,
        /// The alias it is to be promoted to.
        #[arg(long)]
        alias: String,
        /// How long to wait, in seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
        /// The first pause between two looks, in seconds (doubled up to 60).
        #[arg(long, default_value_t = 2.0)]
        interval: f64,
        /// How many distinct people must approve.
        #[arg(long, default_value_t = 1)]
        min_approvers: usize,
        /// Print the decision as JSON.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// Where reviewers are notified.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct NotifyArgs {
    /// A Slack incoming-webhook URL (`https://hooks.slack.com/services/…`). The URL is a
    /// secret: messages name only its host.
    #[arg(
        long,
        env = "MLOPS_SLACK_WEBHOOK",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) slack_webhook: Option<String>,
    /// A Microsoft Teams Workflows webhook URL ("When a Teams webhook request is
    /// received"): an Adaptive Card is posted.
    #[arg(
        long,
        env = "MLOPS_TEAMS_WEBHOOK",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) teams_webhook: Option<String>,
    /// The page where reviewers decide: the notification's button opens it. `{model}`,
    /// `{version}` and `{alias}` in it are replaced (percent-encoded).
    #[arg(long, value_name = "URL")]
    pub(crate) approval_url: Option<String>,
    /// Allow http:// and loopback or private webhook addresses (a receiver you run).
    #[arg(long)]
    pub(crate) allow_private_webhooks: bool,
}

impl ModelsCommand {
    /// For the commands that change the registry or notify: the model and the step name an
    /// idempotency key is recorded under.
    pub(crate) fn idempotent_step(&self) -> Option<(&str, &'static str)> {
        match self {
            ModelsCommand::Register { name, .. } => Some((name, "register")),
            ModelsCommand::Promote { name, .. } => Some((name, "promote")),
            ModelsCommand::Rollback { name, .. } => Some((name, "rollback")),
            ModelsCommand::Approve {
                name,
                reject,
                request,
                ..
            } => Some((
                name,
                match (reject, request) {
                    (true, _) => "reject",
                    (false, true) => "request",
                    (false, false) => "approve",
                },
            )),
            ModelsCommand::Approval(ApprovalCommand::Request { name, .. }) => {
                Some((name, "approval-request"))
            }
            _ => None,
        }
    }

    /// Whether the command may start a new registry: only `register` writes into one that
    /// does not exist yet; every other command needs an existing one.
    pub(crate) fn creates(&self) -> bool {
        matches!(self, ModelsCommand::Register { .. })
    }
}

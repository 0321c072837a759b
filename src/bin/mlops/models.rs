//! `mlops models …`: register, promote, roll back, approve and inspect model versions in a
//! registry named by `--registry` / `MLOPS_REGISTRY` (default: the folder `./mlops-registry`).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use mlops::core::{AliasName, Backend, ModelName, ModelVersion, RunId, StoreUri};
use mlops::registry::gates::{Gate, parse_gate};
use mlops::registry::{
    AuditAction, AuditEntry, Expect, ModelQuery, ModelRegistry, NewVersion, ObjectRegistry,
    Outcome, Page, Promoter, Promotion, RegistryError, RegistryExt, RunLink, VersionInfo,
    VersionQuery, Webhook, WebhookOptions,
};
use serde_json::json;

use crate::tracking::{self, Format};
use crate::{EXIT_NEGATIVE, EXIT_OK, Result};

/// The default registry: a local folder.
pub(crate) const DEFAULT_REGISTRY: &str = "./mlops-registry";

/// Where the registry is and who acts.
#[derive(Args, Debug, Clone)]
pub(crate) struct RegistryArgs {
    /// The registry: a folder (the default, `./mlops-registry`), file://, memory://, s3://,
    /// az:// or gs:// (the last three need the `cloud` feature).
    #[arg(long = "registry", env = "MLOPS_REGISTRY", default_value = DEFAULT_REGISTRY, global = true)]
    registry: String,
    /// Who is acting, as recorded in the audit log (default: $USER).
    #[arg(long = "actor", env = "MLOPS_ACTOR", global = true)]
    actor: Option<String>,
}

/// `mlops models …`.
#[derive(Args, Debug)]
pub(crate) struct ModelsArgs {
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand, Debug)]
enum ModelsCommand {
    /// Register a new version from the files in a folder (the model is created if needed);
    /// prints the version number.
    Register {
        /// The model.
        #[arg(long)]
        name: String,
        /// The folder whose files become the version (symbolic links are refused).
        #[arg(long)]
        path: PathBuf,
        /// The run the model was trained in: linked, with a snapshot of its metrics.
        #[arg(long)]
        run: Option<String>,
        /// The tracking store holding the run (a folder, a store URI or an MLflow server).
        #[arg(long = "tracking", env = "MLOPS_TRACKING_URI", default_value = tracking::DEFAULT_STORE)]
        tracking: String,
        /// A description of the version.
        #[arg(long)]
        description: Option<String>,
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

/// Opens the registry. A local folder that holds no registry is created only by commands
/// that write (`create`), so a mistyped path in a read command is an error.
fn open(args: &RegistryArgs, create: bool) -> Result<ObjectRegistry> {
    let uri = StoreUri::parse(&args.registry)?;
    if let Backend::Local(folder) = uri.backend()
        && !create
        && !folder.join("registry").is_dir()
    {
        return Err(format!(
            "no registry at {} (give one with --registry or MLOPS_REGISTRY; the default is {DEFAULT_REGISTRY})",
            folder.display()
        )
        .into());
    }
    let registry = ObjectRegistry::open_uri(&uri)?;
    Ok(match &args.actor {
        Some(actor) => registry.with_actor(actor)?,
        None => registry,
    })
}

pub(crate) async fn run(args: ModelsArgs) -> Result<u8> {
    // Only `register` may start a new registry; every other command needs an existing one.
    let create = matches!(args.command, ModelsCommand::Register { .. });
    let registry = open(&args.registry, create)?;
    match args.command {
        ModelsCommand::Register {
            name,
            path,
            run,
            tracking,
            description,
            format,
        } => {
            register(
                &registry,
                &name,
                &path,
                run.as_deref(),
                &tracking,
                description,
                format,
            )
            .await
        }
        ModelsCommand::Promote {
            name,
            version,
            alias,
            expect_current,
            gates,
            webhook,
            format,
        } => {
            let name = ModelName::parse(name)?;
            let version = ModelVersion::parse(&version)?;
            let alias = AliasName::parse(alias)?;
            let expected: Expect = expect_current.parse()?;
            let gates: Vec<Box<dyn Gate>> = gates
                .iter()
                .map(|g| parse_gate(g))
                .collect::<std::result::Result<_, _>>()?;
            let promoter = promoter(registry, webhook.as_deref()).await?;
            let promotion = promoter
                .promote(&name, version, &alias, expected, &gates)
                .await?;
            report(&promotion, format)
        }
        ModelsCommand::Rollback {
            name,
            alias,
            webhook,
        } => {
            let name = ModelName::parse(name)?;
            let alias = AliasName::parse(alias)?;
            let promoter = promoter(registry, webhook.as_deref()).await?;
            report(&promoter.rollback(&name, &alias).await?, Format::Table)
        }
        ModelsCommand::Approve {
            name,
            version,
            alias,
            by,
            reject,
            request,
            comment,
        } => {
            let name = ModelName::parse(name)?;
            let version = ModelVersion::parse(&version)?;
            let alias = AliasName::parse(alias)?;
            let comment = comment.as_deref();
            let approval = if reject {
                registry
                    .reject(&name, version, &alias, &by, comment)
                    .await?
            } else if request {
                registry
                    .request_approval(&name, version, &alias, &by, comment)
                    .await?
            } else {
                registry
                    .approve(&name, version, &alias, &by, comment)
                    .await?
            };
            println!(
                "{:?} {name} v{version} for {alias} by {by} (log entry {})",
                approval.record.state, approval.seq
            );
            Ok(EXIT_OK)
        }
        ModelsCommand::List { filter, format } => list(&registry, filter, format).await,
        ModelsCommand::Show {
            name,
            version,
            format,
        } => show(&registry, &name, version.as_deref(), format).await,
        ModelsCommand::Versions { name, format } => versions(&registry, &name, format).await,
        ModelsCommand::History {
            name,
            alias,
            format,
        } => history(&registry, &name, alias.as_deref(), format).await,
    }
}

async fn promoter(registry: ObjectRegistry, webhook: Option<&str>) -> Result<Promoter> {
    let actor = registry.actor().to_owned();
    let promoter = Promoter::new(Arc::new(registry), actor);
    Ok(match webhook {
        Some(url) => promoter.with_webhook(Webhook::new(url, WebhookOptions::default()).await?),
        None => promoter,
    })
}

async fn register(
    registry: &ObjectRegistry,
    name: &str,
    path: &std::path::Path,
    run: Option<&str>,
    tracking_uri: &str,
    description: Option<String>,
    format: Format,
) -> Result<u8> {
    let name = ModelName::parse(name)?;
    let run = run.map(RunId::parse).transpose()?;
    let mut new = NewVersion::from_dir(path)?;
    new.description = description;
    if let Some(run_id) = &run {
        let store = tracking::open(tracking_uri, false).await?;
        let found = store.get_run(run_id).await?;
        new.run = Some(RunLink {
            run_id: found.info.run_id,
            experiment_id: found.info.experiment_id,
            artifact_path: None,
            metrics: found.data.metrics,
        });
    }
    match registry.create_model(&name, None, &[]).await {
        Ok(_) | Err(RegistryError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let info = registry.create_version(&name, new).await?;
    match format {
        Format::Table => println!("{}", info.version),
        Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
    }
    Ok(EXIT_OK)
}

fn report(promotion: &Promotion, format: Format) -> Result<u8> {
    let d = &promotion.decision;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "outcome": format!("{:?}", promotion.outcome),
                "decision": d,
                "event": promotion.event,
                "webhook": promotion.webhook.as_ref().map(|w| match w {
                    Ok(attempts) => json!({"delivered": true, "attempts": attempts}),
                    Err(e) => json!({"delivered": false, "error": e}),
                }),
            }))?
        ),
        Format::Table => {
            let word = match promotion.outcome {
                Outcome::Promoted => "promoted",
                Outcome::PreconditionFailed => "refused (precondition)",
                Outcome::GatesFailed => "refused (gate)",
            };
            println!("{word}: {}", d.reason);
            for gate in &d.gates {
                println!(
                    "  {} {}: {}",
                    if gate.passed { "pass" } else { "FAIL" },
                    gate.gate,
                    gate.reason
                );
            }
            if let Some(Err(e)) = &promotion.webhook {
                eprintln!("warning: webhook not delivered: {e}");
            }
        }
    }
    Ok(if promotion.promoted() {
        EXIT_OK
    } else {
        EXIT_NEGATIVE
    })
}

async fn list(registry: &ObjectRegistry, filter: Option<String>, format: Format) -> Result<u8> {
    let all = Page::collect_all(|page_token| {
        let query = ModelQuery {
            name_contains: filter.clone(),
            max_results: Some(1000),
            page_token,
        };
        async move { registry.search_models(&query).await }
    })
    .await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        Format::Table => {
            println!("{:<32} {:>7}  {:<19}  aliases", "name", "latest", "updated");
            for m in &all {
                let aliases: Vec<String> =
                    m.aliases.iter().map(|(a, v)| format!("{a}=v{v}")).collect();
                println!(
                    "{:<32} {:>7}  {:<19}  {}",
                    m.name.as_str(),
                    m.latest_version.map_or("-".to_owned(), |v| v.to_string()),
                    tracking::time(m.updated),
                    aliases.join(" ")
                );
            }
        }
    }
    Ok(EXIT_OK)
}

async fn show(
    registry: &ObjectRegistry,
    name: &str,
    version: Option<&str>,
    format: Format,
) -> Result<u8> {
    let name = ModelName::parse(name)?;
    let Some(reference) = version else {
        let model = registry.get_model(&name).await?;
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&model)?),
            Format::Table => {
                println!("name         {}", model.name);
                println!(
                    "created      {} by {}",
                    tracking::time(model.created),
                    model.creator
                );
                println!("updated      {}", tracking::time(model.updated));
                println!(
                    "latest       {}",
                    model
                        .latest_version
                        .map_or("-".to_owned(), |v| v.to_string())
                );
                println!(
                    "description  {}",
                    model.description.as_deref().unwrap_or("-")
                );
                for (alias, v) in &model.aliases {
                    println!("alias        {alias} -> v{v}");
                }
                for tag in &model.tags {
                    println!("tag          {}={}", tag.key(), tag.value());
                }
            }
        }
        return Ok(EXIT_OK);
    };
    let info = match ModelVersion::parse(reference) {
        Ok(v) => registry.get_version(&name, v).await?,
        Err(_) => {
            registry
                .resolve_alias(&name, &AliasName::parse(reference)?)
                .await?
        }
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&info)?),
        Format::Table => print_version(&info),
    }
    Ok(EXIT_OK)
}

fn print_version(info: &VersionInfo) {
    println!("model        {} v{}", info.model, info.version);
    println!(
        "created      {} by {}",
        tracking::time(info.created),
        info.creator
    );
    println!(
        "status       {}   stage {}",
        info.status.as_str(),
        info.stage
    );
    let aliases: Vec<&str> = info.aliases.iter().map(AliasName::as_str).collect();
    println!(
        "aliases      {}",
        if aliases.is_empty() {
            "-".to_owned()
        } else {
            aliases.join(", ")
        }
    );
    if let Some(run) = &info.run {
        println!(
            "run          {} (experiment {})",
            run.run_id, run.experiment_id
        );
        for m in &run.metrics {
            println!("metric       {} = {}", m.key, tracking::number(m.value));
        }
    }
    for a in &info.artifacts {
        println!(
            "artifact     {}  {} bytes  sha256 {}",
            a.path, a.size, a.sha256
        );
    }
    if let Some(sig) = &info.signature {
        let inputs: Vec<String> = sig
            .inputs
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        println!("inputs       {}", inputs.join(", "));
    }
}

async fn versions(registry: &ObjectRegistry, name: &str, format: Format) -> Result<u8> {
    let name = ModelName::parse(name)?;
    let all = Page::collect_all(|page_token| {
        let query = VersionQuery {
            model: Some(name.clone()),
            max_results: Some(1000),
            page_token,
            ..VersionQuery::default()
        };
        async move { registry.search_versions(&query).await }
    })
    .await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all)?),
        Format::Table => {
            println!(
                "{:>7}  {:<19}  {:<8}  {:<10}  {:<16}  aliases",
                "version", "created", "status", "stage", "creator"
            );
            for v in &all {
                let aliases: Vec<&str> = v.aliases.iter().map(AliasName::as_str).collect();
                println!(
                    "{:>7}  {:<19}  {:<8}  {:<10}  {:<16}  {}",
                    v.version.to_string(),
                    tracking::time(v.created),
                    v.status.as_str(),
                    v.stage.as_str(),
                    v.creator,
                    aliases.join(" ")
                );
            }
        }
    }
    Ok(EXIT_OK)
}

async fn history(
    registry: &ObjectRegistry,
    name: &str,
    alias: Option<&str>,
    format: Format,
) -> Result<u8> {
    let name = ModelName::parse(name)?;
    if let Some(alias) = alias {
        let events = registry
            .alias_history(&name, &AliasName::parse(alias)?)
            .await?;
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&events)?),
            Format::Table => {
                for e in &events {
                    println!(
                        "{:>6}  {}  {:<16}  {:?}  {} -> {}",
                        e.seq,
                        tracking::time(e.time),
                        e.actor,
                        e.kind,
                        e.from.map_or("-".to_owned(), |v| format!("v{v}")),
                        e.to.map_or("-".to_owned(), |v| format!("v{v}"))
                    );
                }
            }
        }
        return Ok(EXIT_OK);
    }
    let log = registry.audit_log(&name).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&log)?),
        Format::Table => {
            for entry in &log {
                println!(
                    "{:>6}  {}  {:<16}  {}",
                    entry.seq,
                    tracking::time(entry.time),
                    entry.actor,
                    describe(entry)
                );
            }
        }
    }
    Ok(EXIT_OK)
}

fn describe(entry: &AuditEntry) -> String {
    let show = |v: &Option<ModelVersion>| v.map_or("-".to_owned(), |v| format!("v{v}"));
    match &entry.action {
        AuditAction::ModelCreated { name } => format!("created model {name}"),
        AuditAction::ModelRenamed { from, to } => format!("renamed {from} to {to}"),
        AuditAction::ModelDeleted { name } => format!("deleted model {name}"),
        AuditAction::VersionCreated { version, run_id } => match run_id {
            Some(run) => format!("registered v{version} from run {run}"),
            None => format!("registered v{version}"),
        },
        AuditAction::VersionDeleted { version } => format!("deleted v{version}"),
        AuditAction::AliasChanged {
            alias,
            from,
            to,
            kind,
            gates,
            ..
        } => {
            let passed = if gates.is_empty() {
                String::new()
            } else {
                format!(" ({} gates passed)", gates.len())
            };
            format!("{kind:?} {alias}: {} -> {}{passed}", show(from), show(to))
        }
        AuditAction::Approval(r) => {
            format!("{:?} v{} for {} by {}", r.state, r.version, r.alias, r.by)
        }
        AuditAction::Decision(d) => format!(
            "{} {:?} v{} to {}: {}",
            if d.promoted { "decided" } else { "REFUSED" },
            d.kind,
            d.version,
            d.alias,
            d.reason
        ),
        AuditAction::StageTransition { version, stage, .. } => {
            format!("v{version} to stage {stage}")
        }
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

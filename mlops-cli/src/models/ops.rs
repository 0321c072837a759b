//! The library calls behind `mlops models …`: each parses its inputs into the registry's
//! types, calls the registry, and returns what the command prints.

use std::path::Path;
use std::sync::Arc;

use mlops::core::{AliasName, ArtifactPath, ModelName, ModelVersion, RunId};
use mlops::registry::gates::{Gate, parse_gate};
use mlops::registry::{
    AliasEvent, Approval, AuditEntry, Evaluation, Expect, ModelQuery, NewVersion, Page, Promoter,
    Promotion, RegisteredModel, RegistryError, RegistryExt, RunLink, VersionInfo, VersionQuery,
    Webhook, WebhookOptions, evaluate,
};
use mlops::track::TrackingStore;

use crate::Result;
use crate::output::progress::Progress;
use crate::output::text::bytes;
use crate::stores::Registry;

/// Where a new version's files come from.
pub(crate) enum Source<'a> {
    /// A local folder.
    Dir(&'a Path),
    /// The artifacts of the run (`--run`) under this folder.
    RunArtifacts(&'a str),
}

/// The largest signature file read.
const SIGNATURE_MAX_BYTES: u64 = 4 << 20;

/// The files of a new version: where they come from, and optionally its reference drift
/// profile and signature (local files).
pub(crate) struct VersionFiles<'a> {
    /// The version's files.
    pub(crate) source: Source<'a>,
    /// `--drift-profile`.
    pub(crate) drift_profile: Option<&'a Path>,
    /// `--signature`.
    pub(crate) signature: Option<&'a Path>,
}

/// Registers the files of `files.source` as a new version of `name` (creating the model if
/// needed), with its drift profile and signature when given, linked to `run` (looked up in
/// `tracking`) when given.
pub(crate) async fn register(
    registry: &Registry,
    tracking: Option<Arc<dyn TrackingStore>>,
    name: &str,
    files: VersionFiles<'_>,
    run: Option<&str>,
    description: Option<String>,
) -> Result<VersionInfo> {
    let VersionFiles {
        source,
        drift_profile,
        signature,
    } = files;
    let name = ModelName::parse(name)?;
    let run = run.map(RunId::parse).transpose()?;
    let mut new = match (&source, &run, &tracking) {
        (Source::Dir(path), _, _) => NewVersion::from_dir(path)?,
        (Source::RunArtifacts(folder), Some(run_id), Some(store)) => {
            // `model/` and `model` name the same folder.
            let trimmed = folder.trim_end_matches('/');
            let dir = if trimmed.is_empty() {
                None
            } else {
                Some(ArtifactPath::parse(trimmed)?)
            };
            let new = NewVersion::from_run(store.as_ref(), run_id, dir.as_ref()).await?;
            if new.artifacts.is_empty() {
                return Err(format!(
                    "run {run_id} has no artifacts under {folder:?}: nothing to register"
                )
                .into());
            }
            new
        }
        (Source::RunArtifacts(_), _, _) => return Err("--artifact-path needs --run".into()),
    };
    new.description = description;
    if let Some(file) = drift_profile {
        // Checked as a profile before it is stored: a registry holds no unreadable one.
        crate::data::read_profile(file, crate::data::DEFAULT_MAX_PROFILE_BYTES)?;
        let bytes = mlops::core::read_local_file(file, crate::data::DEFAULT_MAX_PROFILE_BYTES)
            .map_err(|e| format!("cannot read --drift-profile: {e}"))?;
        new.drift_profile = Some(bytes.into());
    }
    if let Some(file) = signature {
        let bytes = mlops::core::read_local_file(file, SIGNATURE_MAX_BYTES)
            .map_err(|e| format!("cannot read --signature: {e}"))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("--signature {}: not UTF-8 text", file.display()))?;
        let parsed = mlops::registry::Signature::from_mlflow_json(&text)
            .map_err(|e| format!("--signature {}: {e}", file.display()))?;
        new.signature = Some(parsed);
    }
    if let (Source::Dir(_), Some(run_id), Some(store)) = (&source, &run, &tracking) {
        let found = store.get_run(run_id).await?;
        new.run = Some(RunLink {
            run_id: found.info.run_id,
            experiment_id: found.info.experiment_id,
            artifact_path: None,
            metrics: found.data.metrics,
        });
    }
    let registry = registry.registry.as_ref();
    match registry.create_model(&name, None, &[]).await {
        Ok(_) => {}
        // Taken by a name that differs only in case: say which, rather than fail later
        // with "`CHURN` does not exist".
        Err(RegistryError::AlreadyExists { name: existing, .. }) if existing != name.as_str() => {
            return Err(format!(
                "cannot register {name:?}: model {existing:?} exists and names are unique \
                 ignoring case; use --name {existing:?}"
            )
            .into());
        }
        Err(RegistryError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    let size: usize = new.artifacts.iter().map(|(_, b)| b.len()).sum();
    let _progress = Progress::spinner(format!(
        "registering {name}: {} files, {}",
        new.artifacts.len(),
        bytes(size as u64)
    ));
    Ok(match (source, &run, &tracking) {
        // The link (experiment, metrics, the folder) is read from the tracking store.
        (Source::RunArtifacts(_), Some(run_id), Some(store)) => {
            registry
                .register_from_run(&name, store.as_ref(), run_id, new)
                .await?
        }
        _ => registry.create_version(&name, new).await?,
    })
}

/// What `gate` asks for, as typed on the command line.
pub(crate) struct GateRequest<'a> {
    /// The model.
    pub(crate) name: &'a str,
    /// The candidate version.
    pub(crate) version: &'a str,
    /// The alias.
    pub(crate) alias: &'a str,
    /// What the alias must hold now.
    pub(crate) expect_current: &'a str,
    /// Gate specifications.
    pub(crate) gates: &'a [String],
}

/// Runs the gates against the alias's holder; moves nothing.
pub(crate) async fn gate(registry: &Registry, request: GateRequest<'_>) -> Result<Evaluation> {
    let name = ModelName::parse(request.name)?;
    let version = ModelVersion::parse(request.version)?;
    let alias = AliasName::parse(request.alias)?;
    let expected: Expect = request.expect_current.parse()?;
    let gates: Vec<Box<dyn Gate>> = request
        .gates
        .iter()
        .map(|g| parse_gate(g))
        .collect::<std::result::Result<_, _>>()?;
    Ok(evaluate(
        registry.registry.as_ref(),
        &name,
        version,
        &alias,
        expected,
        &gates,
    )
    .await?)
}

/// What `promote` asks for, as typed on the command line.
pub(crate) struct PromoteRequest<'a> {
    /// The model.
    pub(crate) name: &'a str,
    /// The candidate version.
    pub(crate) version: &'a str,
    /// The alias to move.
    pub(crate) alias: &'a str,
    /// What the alias must hold now.
    pub(crate) expect_current: &'a str,
    /// Gate specifications.
    pub(crate) gates: &'a [String],
    /// A webhook to notify.
    pub(crate) webhook: Option<&'a str>,
}

/// Moves the alias if the precondition holds and every gate passes.
pub(crate) async fn promote(registry: &Registry, request: PromoteRequest<'_>) -> Result<Promotion> {
    let name = ModelName::parse(request.name)?;
    let version = ModelVersion::parse(request.version)?;
    let alias = AliasName::parse(request.alias)?;
    let expected: Expect = request.expect_current.parse()?;
    let gates: Vec<Box<dyn Gate>> = request
        .gates
        .iter()
        .map(|g| parse_gate(g))
        .collect::<std::result::Result<_, _>>()?;
    let promoter = promoter(registry, request.webhook).await?;
    Ok(promoter
        .promote(&name, version, &alias, expected, &gates)
        .await?)
}

/// Moves the alias back to its holder before the latest promotion.
pub(crate) async fn rollback(
    registry: &Registry,
    name: &str,
    alias: &str,
    webhook: Option<&str>,
) -> Result<Promotion> {
    let name = ModelName::parse(name)?;
    let alias = AliasName::parse(alias)?;
    let promoter = promoter(registry, webhook).await?;
    Ok(promoter.rollback(&name, &alias).await?)
}

async fn promoter(registry: &Registry, webhook: Option<&str>) -> Result<Promoter> {
    let promoter = Promoter::new(Arc::clone(&registry.registry), registry.actor.clone());
    Ok(match webhook {
        Some(url) => promoter.with_webhook(Webhook::new(url, WebhookOptions::default()).await?),
        None => promoter,
    })
}

/// Which approval record `approve` writes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Verdict {
    /// An approval.
    Approve,
    /// A rejection.
    Reject,
    /// A request for approval.
    Request,
}

/// What `approve` records, as typed on the command line.
pub(crate) struct ApprovalRequest<'a> {
    /// The model.
    pub(crate) name: &'a str,
    /// The version.
    pub(crate) version: &'a str,
    /// The alias it is for.
    pub(crate) alias: &'a str,
    /// Who.
    pub(crate) by: &'a str,
    /// Approve, reject or request.
    pub(crate) verdict: Verdict,
    /// A comment.
    pub(crate) comment: Option<&'a str>,
}

/// Records an approval, a rejection or a request.
pub(crate) async fn approve(registry: &Registry, request: ApprovalRequest<'_>) -> Result<Approval> {
    let name = ModelName::parse(request.name)?;
    let version = ModelVersion::parse(request.version)?;
    let alias = AliasName::parse(request.alias)?;
    let (by, comment) = (request.by, request.comment);
    let registry = registry.registry.as_ref();
    Ok(match request.verdict {
        Verdict::Reject => registry.reject(&name, version, &alias, by, comment).await?,
        Verdict::Request => {
            registry
                .request_approval(&name, version, &alias, by, comment)
                .await?
        }
        Verdict::Approve => {
            registry
                .approve(&name, version, &alias, by, comment)
                .await?
        }
    })
}

/// Every model whose name contains `filter`.
pub(crate) async fn list(
    registry: &Registry,
    filter: Option<String>,
) -> Result<Vec<RegisteredModel>> {
    let registry = registry.registry.as_ref();
    Ok(Page::collect_all(|page_token| {
        let query = ModelQuery {
            name_contains: filter.clone(),
            max_results: Some(1000),
            page_token,
        };
        async move { registry.search_models(&query).await }
    })
    .await?)
}

/// What `show` prints: a model, or one of its versions.
pub(crate) enum Shown {
    /// The model.
    Model(RegisteredModel),
    /// A version.
    Version(Box<VersionInfo>),
}

/// The model, or the version `reference` names (a number or an alias).
pub(crate) async fn show(
    registry: &Registry,
    name: &str,
    reference: Option<&str>,
) -> Result<Shown> {
    let name = ModelName::parse(name)?;
    let registry = registry.registry.as_ref();
    let Some(reference) = reference else {
        return Ok(Shown::Model(registry.get_model(&name).await?));
    };
    let info = match ModelVersion::parse(reference) {
        Ok(v) => registry.get_version(&name, v).await?,
        Err(_) => {
            registry
                .resolve_alias(&name, &AliasName::parse(reference)?)
                .await?
        }
    };
    Ok(Shown::Version(Box::new(info)))
}

/// Every version of a model, newest first.
pub(crate) async fn versions(registry: &Registry, name: &str) -> Result<Vec<VersionInfo>> {
    let name = ModelName::parse(name)?;
    let registry = registry.registry.as_ref();
    Ok(Page::collect_all(|page_token| {
        let query = VersionQuery {
            model: Some(name.clone()),
            max_results: Some(1000),
            page_token,
            ..VersionQuery::default()
        };
        async move { registry.search_versions(&query).await }
    })
    .await?)
}

/// What `history` prints: one alias's changes, or the whole audit log.
pub(crate) enum History {
    /// The alias's changes.
    Alias(Vec<AliasEvent>),
    /// The model's audit log.
    Log(Vec<AuditEntry>),
}

/// A model's audit log, or one alias's history.
pub(crate) async fn history(
    registry: &Registry,
    name: &str,
    alias: Option<&str>,
) -> Result<History> {
    let name = ModelName::parse(name)?;
    let registry = registry.registry.as_ref();
    Ok(match alias {
        Some(alias) => History::Alias(
            registry
                .alias_history(&name, &AliasName::parse(alias)?)
                .await?,
        ),
        None => History::Log(registry.audit_log(&name).await?),
    })
}

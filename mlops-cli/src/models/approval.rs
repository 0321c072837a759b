//! `mlops models approval request | wait`: the human-in-the-loop step. `request` records a
//! request in the registry's audit log and notifies the reviewers; `wait` polls the log
//! until the round is approved or rejected, or the timeout passes.

use std::time::{Duration, Instant};

use mlops::core::{AliasName, Backoff, ModelName, ModelVersion};
use mlops::registry::{
    Approval, ApprovalStatus, RegistryError, RegistryExt, current_approval_status,
};

use crate::Result;
use crate::models::args::NotifyArgs;
use crate::models::notify::{self, ApprovalNotice, Delivery};
use crate::stores::Registry;

/// The longest pause between two looks at the log.
const MAX_PAUSE: Duration = Duration::from_secs(60);

/// What `request` did.
pub(crate) struct Requested {
    /// The request, as recorded.
    pub(crate) approval: Approval,
    /// Each notification's delivery.
    pub(crate) deliveries: Vec<Delivery>,
}

/// What `approval request` asks for, as typed on the command line.
pub(crate) struct RequestArgs<'a> {
    /// The model.
    pub(crate) name: &'a str,
    /// The version.
    pub(crate) version: &'a str,
    /// The alias.
    pub(crate) alias: &'a str,
    /// The note.
    pub(crate) comment: Option<&'a str>,
    /// Where to notify.
    pub(crate) notify: &'a NotifyArgs,
}

/// Records the request (by the registry's actor), then notifies. The webhook URLs are
/// checked first: a refused one records nothing.
pub(crate) async fn request(registry: &Registry, args: RequestArgs<'_>) -> Result<Requested> {
    let name = ModelName::parse(args.name)?;
    let version = ModelVersion::parse(args.version)?;
    let alias = AliasName::parse(args.alias)?;
    let targets = notify::targets(args.notify).await?;
    let r = registry.registry.as_ref();
    // The version must exist: a request for nothing would wait forever.
    let info = r.get_version(&name, version).await?;
    let approval = r
        .request_approval(&name, version, &alias, &registry.actor, args.comment)
        .await?;
    let notice = ApprovalNotice {
        model: name.to_string(),
        version: version.get(),
        alias: alias.to_string(),
        requested_by: registry.actor.clone(),
        comment: args.comment.map(str::to_owned),
        metrics: info
            .run
            .iter()
            .flat_map(|run| run.metrics.iter().map(|m| (m.key.to_string(), m.value)))
            .collect(),
        approval_url: args
            .notify
            .approval_url
            .as_deref()
            .map(|url| notify::fill_url(url, &name, version, &alias)),
    };
    let key = format!("{name}/approval/{}", approval.seq);
    let deliveries = notify::send(&targets, &notice, &key).await;
    Ok(Requested {
        approval,
        deliveries,
    })
}

/// What `approval wait` waits for, as typed on the command line.
pub(crate) struct WaitArgs<'a> {
    /// The model.
    pub(crate) name: &'a str,
    /// The version.
    pub(crate) version: &'a str,
    /// The alias.
    pub(crate) alias: &'a str,
    /// How long to wait.
    pub(crate) timeout: Duration,
    /// The first pause.
    pub(crate) interval: Duration,
    /// Distinct approvers needed.
    pub(crate) min_approvers: usize,
}

/// Polls until the round is decided: `Ok` with the decision (approved or rejected), or an
/// error naming where it stood when `timeout` passed.
pub(crate) async fn wait(registry: &Registry, args: WaitArgs<'_>) -> Result<ApprovalStatus> {
    let name = ModelName::parse(args.name)?;
    let version = ModelVersion::parse(args.version)?;
    let alias = AliasName::parse(args.alias)?;
    let r = registry.registry.as_ref();
    r.get_version(&name, version).await?;
    let deadline = Instant::now() + args.timeout;
    let pauses = Backoff::exponential(args.interval, MAX_PAUSE.max(args.interval));
    let mut look = 0;
    loop {
        look += 1;
        let approvers =
            match current_approval_status(r, &name, version, &alias, args.min_approvers).await {
                Ok(ApprovalStatus::Pending { approvers }) => approvers,
                Ok(decided) => return Ok(decided),
                // A wait spans minutes or hours: a storage or network hiccup is not the answer.
                Err(e @ (RegistryError::Transport { .. } | RegistryError::Storage { .. })) => {
                    tracing::warn!("cannot read the approvals now (will look again): {e}");
                    Vec::new()
                }
                Err(e) => return Err(e.into()),
            };
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "no decision on {name} v{version} for {alias} after {}s: {} of {} approvals{}",
                args.timeout.as_secs(),
                approvers.len(),
                args.min_approvers.max(1),
                if approvers.is_empty() {
                    String::new()
                } else {
                    format!(" (by {})", approvers.join(", "))
                }
            )
            .into());
        }
        tracing::info!("waiting for a decision on {name} v{version} for {alias} (look {look})");
        tokio::time::sleep(pauses.delay(look).min(deadline - now)).await;
    }
}

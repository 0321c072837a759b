//! `mlops models …`: register, gate, promote, roll back, review (approval request, approve,
//! wait) and inspect model versions in the registry of the store root (`--store`) or the one
//! `--registry` names (a store URI or an MLflow server). `args` parses, `ops` and `approval`
//! call the registry, `notify` tells reviewers, `print` prints, `report` tells the
//! orchestrator (`step`), `idempotent` runs a keyed step once.

mod approval;
mod args;
mod idempotent;
mod notify;
mod ops;
mod print;
mod report;

pub(crate) use args::ModelsArgs;

use std::time::Duration;

use args::{ApprovalCommand, ModelsCommand};
use mlops::registry::ApprovalStatus;

use crate::stores::{self, Open};
use crate::{Result, exit};

pub(crate) async fn run(args: ModelsArgs) -> Result<u8> {
    let open = if args.command.creates() {
        Open::OrCreate
    } else {
        Open::Existing
    };
    let uri = args.stores.registry_uri();
    let registry = stores::registry(&uri, args.actor.as_deref(), open)?;
    match args.idempotency_key.clone() {
        Some(key) => idempotent::run(&uri, &registry, &key, args).await,
        None => execute(args, &registry).await,
    }
}

/// Runs one `models` command on `registry`; its exit code.
async fn execute(args: ModelsArgs, registry: &stores::Registry) -> Result<u8> {
    match args.command {
        ModelsCommand::Register {
            name,
            path,
            run,
            artifact_path,
            description,
            drift_profile,
            signature,
            format,
        } => {
            let tracking = match &run {
                Some(_) => {
                    let uri = args.stores.tracking.tracking_uri();
                    Some(stores::tracking(&uri, Open::Existing).await?)
                }
                None => None,
            };
            let source = match (&path, &artifact_path) {
                (Some(path), _) => ops::Source::Dir(path),
                (None, Some(folder)) => ops::Source::RunArtifacts(folder),
                (None, None) => return Err("give --path, or --run with --artifact-path".into()),
            };
            let files = ops::VersionFiles {
                source,
                drift_profile: drift_profile.as_deref(),
                signature: signature.as_deref(),
            };
            let info = ops::register(
                registry,
                tracking,
                &name,
                files,
                run.as_deref(),
                description,
            )
            .await?;
            crate::step::report(report::registered(&info));
            print::registered(&info, format)?;
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
            let request = ops::PromoteRequest {
                name: &name,
                version: &version,
                alias: &alias,
                expect_current: &expect_current,
                gates: &gates,
                webhook: webhook.as_deref(),
            };
            let promotion = ops::promote(registry, request).await?;
            crate::step::report(report::promotion(&name, &promotion));
            print::promotion(&promotion, format)?;
            return Ok(verdict(promotion.promoted()));
        }
        ModelsCommand::Gate {
            name,
            version,
            alias,
            expect_current,
            gates,
            format,
        } => {
            let request = ops::GateRequest {
                name: &name,
                version: &version,
                alias: &alias,
                expect_current: &expect_current,
                gates: &gates,
            };
            let evaluation = ops::gate(registry, request).await?;
            crate::step::report(report::evaluation(&name, &alias, &evaluation));
            print::evaluation(&evaluation, format)?;
            return Ok(verdict(evaluation.passed()));
        }
        ModelsCommand::Approval(ApprovalCommand::Request {
            name,
            version,
            alias,
            comment,
            notify,
            format,
        }) => {
            let args = approval::RequestArgs {
                name: &name,
                version: &version,
                alias: &alias,
                comment: comment.as_deref(),
                notify: &notify,
            };
            let requested = approval::request(registry, args).await?;
            crate::step::report(report::requested(&name, &requested));
            print::requested(&name, &requested, format)?;
            let failed: Vec<String> = requested
                .deliveries
                .iter()
                .filter_map(|d| d.error.as_ref().map(|e| format!("{:?}: {e}", d.chat)))
                .collect();
            if !failed.is_empty() {
                // Recorded, but nobody may know: the step fails so that the run says so.
                return Err(format!(
                    "the request is recorded (log entry {}) but not every reviewer was notified: {}",
                    requested.approval.seq,
                    failed.join("; ")
                )
                .into());
            }
        }
        ModelsCommand::Approval(ApprovalCommand::Wait {
            name,
            version,
            alias,
            timeout,
            interval,
            min_approvers,
            format,
        }) => {
            if !(interval.is_finite() && interval > 0.0) {
                return Err(
                    format!("--interval {interval}: give a positive number of seconds").into(),
                );
            }
            let args = approval::WaitArgs {
                name: &name,
                version: &version,
                alias: &alias,
                timeout: Duration::from_secs(timeout),
                interval: Duration::from_secs_f64(interval),
                min_approvers,
            };
            let status = approval::wait(registry, args).await?;
            crate::step::report(report::decided(&name, &version, &alias, &status));
            print::decided(&status, format)?;
            return Ok(verdict(matches!(status, ApprovalStatus::Approved { .. })));
        }
        ModelsCommand::Rollback {
            name,
            alias,
            webhook,
            format,
        } => {
            let promotion = ops::rollback(registry, &name, &alias, webhook.as_deref()).await?;
            crate::step::report(report::promotion(&name, &promotion));
            print::promotion(&promotion, format)?;
            return Ok(verdict(promotion.promoted()));
        }
        ModelsCommand::Approve {
            name,
            version,
            alias,
            by,
            reject,
            request,
            comment,
            format,
        } => {
            let verdict = match (reject, request) {
                (true, _) => ops::Verdict::Reject,
                (false, true) => ops::Verdict::Request,
                (false, false) => ops::Verdict::Approve,
            };
            let request = ops::ApprovalRequest {
                name: &name,
                version: &version,
                alias: &alias,
                by: &by,
                verdict,
                comment: comment.as_deref(),
            };
            let approval = ops::approve(registry, request).await?;
            crate::step::report(report::approval(&name, &approval));
            print::approval(&name, &approval, format)?;
        }
        ModelsCommand::List { filter, format } => {
            print::models(&ops::list(registry, filter).await?, format)?;
        }
        ModelsCommand::Show {
            name,
            version,
            format,
        } => {
            let shown = ops::show(registry, &name, version.as_deref()).await?;
            print::shown(&shown, format)?;
        }
        ModelsCommand::Versions { name, format } => {
            print::versions(&ops::versions(registry, &name).await?, format)?;
        }
        ModelsCommand::History {
            name,
            alias,
            format,
        } => {
            let history = ops::history(registry, &name, alias.as_deref()).await?;
            print::history(&history, format)?;
        }
    }
    Ok(exit::OK)
}

/// A promotion's exit code: 0 when the alias moved, 3 when it was refused.
fn verdict(promoted: bool) -> u8 {
    if promoted { exit::OK } else { exit::NEGATIVE }
}

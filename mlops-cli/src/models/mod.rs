//! `mlops models …`: register, promote, roll back, approve and inspect model versions in the
//! registry of the store root (`--store`) or the one `--registry` names (a store URI or an
//! MLflow server). `args` parses, `ops` calls the registry, `print` prints.

mod args;
mod ops;
mod print;

pub(crate) use args::ModelsArgs;

use args::ModelsCommand;

use crate::stores::{self, Open};
use crate::{Result, exit};

pub(crate) async fn run(args: ModelsArgs) -> Result<u8> {
    let open = if args.command.creates() {
        Open::OrCreate
    } else {
        Open::Existing
    };
    let registry = stores::registry(&args.stores.registry_uri(), args.actor.as_deref(), open)?;
    match args.command {
        ModelsCommand::Register {
            name,
            path,
            run,
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
            let files = ops::VersionFiles {
                path: &path,
                drift_profile: drift_profile.as_deref(),
                signature: signature.as_deref(),
            };
            let info = ops::register(
                &registry,
                tracking,
                &name,
                files,
                run.as_deref(),
                description,
            )
            .await?;
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
            let promotion = ops::promote(&registry, request).await?;
            print::promotion(&promotion, format)?;
            return Ok(verdict(promotion.promoted()));
        }
        ModelsCommand::Rollback {
            name,
            alias,
            webhook,
        } => {
            let promotion = ops::rollback(&registry, &name, &alias, webhook.as_deref()).await?;
            print::promotion(&promotion, crate::output::Format::Table)?;
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
            let approval = ops::approve(&registry, request).await?;
            print::approval(&name, &approval)?;
        }
        ModelsCommand::List { filter, format } => {
            print::models(&ops::list(&registry, filter).await?, format)?;
        }
        ModelsCommand::Show {
            name,
            version,
            format,
        } => {
            let shown = ops::show(&registry, &name, version.as_deref()).await?;
            print::shown(&shown, format)?;
        }
        ModelsCommand::Versions { name, format } => {
            print::versions(&ops::versions(&registry, &name).await?, format)?;
        }
        ModelsCommand::History {
            name,
            alias,
            format,
        } => {
            let history = ops::history(&registry, &name, alias.as_deref()).await?;
            print::history(&history, format)?;
        }
    }
    Ok(exit::OK)
}

/// A promotion's exit code: 0 when the alias moved, 3 when it was refused.
fn verdict(promoted: bool) -> u8 {
    if promoted { exit::OK } else { exit::NEGATIVE }
}

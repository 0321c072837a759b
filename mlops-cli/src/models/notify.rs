//! Reviewer notifications for an approval request: a Slack incoming-webhook message (Block
//! Kit: a header, the facts as fields, the comment, a button to the approval page) and a
//! Microsoft Teams Workflows webhook message (an Adaptive Card 1.4 attachment: the same
//! facts, an `Action.OpenUrl` button). Sent through the registry's [`Webhook`] (https only,
//! public addresses only unless `--allow-private-webhooks`, retries with backoff).

use mlops::core::{AliasName, ModelName, ModelVersion};
use mlops::registry::{Webhook, WebhookOptions};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Result;
use crate::models::args::NotifyArgs;

/// Slack's limit on a header's text.
const SLACK_HEADER_MAX: usize = 150;
/// Slack allows ten fields in a section; four are the request's facts.
const MAX_METRICS: usize = 6;

/// What reviewers are told.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApprovalNotice {
    /// The model.
    pub(crate) model: String,
    /// The version to review.
    pub(crate) version: u64,
    /// The alias it is for.
    pub(crate) alias: String,
    /// Who asked.
    pub(crate) requested_by: String,
    /// Their note.
    pub(crate) comment: Option<String>,
    /// The version's metrics (from its run), shown as facts.
    pub(crate) metrics: Vec<(String, f64)>,
    /// The page where reviewers decide.
    pub(crate) approval_url: Option<String>,
}

impl ApprovalNotice {
    fn title(&self) -> String {
        format!(
            "Approval requested: {} v{} to {}",
            self.model, self.version, self.alias
        )
    }

    /// The facts, in order: the request's, then up to [`MAX_METRICS`] metrics.
    fn facts(&self) -> Vec<(String, String)> {
        let mut facts = vec![
            ("Model".to_owned(), self.model.clone()),
            ("Version".to_owned(), self.version.to_string()),
            ("Alias".to_owned(), self.alias.clone()),
            ("Requested by".to_owned(), self.requested_by.clone()),
        ];
        facts.extend(
            self.metrics
                .iter()
                .take(MAX_METRICS)
                .map(|(k, v)| (k.clone(), format!("{v}"))),
        );
        facts
    }
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped (they start links and mentions).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// The Slack incoming-webhook body: `text` (the notification's fallback) and blocks.
pub(crate) fn slack(notice: &ApprovalNotice) -> Value {
    let title = notice.title();
    let fields: Vec<Value> = notice
        .facts()
        .into_iter()
        .map(|(k, v)| {
            json!({"type": "mrkdwn", "text": format!("*{}*\n{}", slack_escape(&k), slack_escape(&v))})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, SLACK_HEADER_MAX)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(comment) = &notice.comment {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_escape(comment)}}),
        );
    }
    if let Some(url) = &notice.approval_url {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Review"},
            "style": "primary",
            "url": url,
        }]}));
    }
    json!({"text": title, "blocks": blocks})
}

/// The Teams Workflows webhook body: a message with one Adaptive Card 1.4 attachment.
pub(crate) fn teams(notice: &ApprovalNotice) -> Value {
    let facts: Vec<Value> = notice
        .facts()
        .into_iter()
        .map(|(title, value)| json!({"title": title, "value": value}))
        .collect();
    let mut body = vec![
        json!({"type": "TextBlock", "text": notice.title(), "weight": "Bolder", "size": "Medium", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let Some(comment) = &notice.comment {
        body.push(json!({"type": "TextBlock", "text": comment, "wrap": true}));
    }
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    });
    if let Some(url) = &notice.approval_url {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Review", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// `url` with `{model}`, `{version}` and `{alias}` replaced, each percent-encoded (all but
/// RFC 3986's unreserved characters), so one `--approval-url` serves every request.
pub(crate) fn fill_url(
    url: &str,
    model: &ModelName,
    version: ModelVersion,
    alias: &AliasName,
) -> String {
    url.replace("{model}", &encode(model.as_str()))
        .replace("{version}", &version.to_string())
        .replace("{alias}", &encode(alias.as_str()))
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Which chat a target posts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Chat {
    /// Slack.
    Slack,
    /// Microsoft Teams.
    Teams,
}

/// A checked notification target.
pub(crate) struct Target {
    chat: Chat,
    hook: Webhook,
    /// The URL as given, to take out of error messages.
    url: String,
}

/// A webhook URL as messages may show it: the scheme and host, not the path that carries
/// the secret (`https://hooks.slack.com/…`).
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}/…")
        }
        None => "(not a URL)".to_owned(),
    }
}

/// `text` with every occurrence of `url` (errors tend to quote it) redacted.
fn scrub(text: &str, url: &str) -> String {
    text.replace(url, &redacted(url))
}

/// One notification's delivery.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Delivery {
    /// Where.
    pub(crate) chat: Chat,
    /// Whether it was delivered.
    pub(crate) delivered: bool,
    /// Attempts made, when delivered.
    pub(crate) attempts: Option<u32>,
    /// Why not, when not.
    pub(crate) error: Option<String>,
}

/// The targets `args` names, each URL checked (and its host resolved and pinned) before
/// anything is recorded, so a refused URL records no request.
pub(crate) async fn targets(args: &NotifyArgs) -> Result<Vec<Target>> {
    let options = if args.allow_private_webhooks {
        WebhookOptions::default().allow_local()
    } else {
        WebhookOptions::default()
    };
    if let Some(url) = &args.approval_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(format!("--approval-url {url:?}: give an http(s) URL").into());
    }
    let mut targets = Vec::new();
    for (chat, url) in [
        (Chat::Slack, &args.slack_webhook),
        (Chat::Teams, &args.teams_webhook),
    ] {
        if let Some(url) = url {
            let flag = match chat {
                Chat::Slack => "--slack-webhook",
                Chat::Teams => "--teams-webhook",
            };
            let hook = Webhook::new(url, options.clone())
                .await
                .map_err(|e| format!("{flag}: {}", scrub(&e.to_string(), url)))?;
            targets.push(Target {
                chat,
                hook,
                url: url.clone(),
            });
        }
    }
    Ok(targets)
}

/// Sends `notice` to every target; `key` de-duplicates retries at receivers that honour it.
pub(crate) async fn send(targets: &[Target], notice: &ApprovalNotice, key: &str) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for target in targets {
        let body = match target.chat {
            Chat::Slack => slack(notice),
            Chat::Teams => teams(notice),
        };
        let sent = target.hook.send_json(&body, key).await;
        deliveries.push(match sent {
            Ok(attempts) => Delivery {
                chat: target.chat,
                delivered: true,
                attempts: Some(attempts),
                error: None,
            },
            Err(e) => Delivery {
                chat: target.chat,
                delivered: false,
                attempts: None,
                error: Some(scrub(&e.to_string(), &target.url)),
            },
        });
    }
    deliveries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> ApprovalNotice {
        ApprovalNotice {
            model: "taxi-fare".into(),
            version: 3,
            alias: "champion".into(),
            requested_by: "airflow <ci>".into(),
            comment: Some("MAE 2.1 → 1.9 & RMSE down".into()),
            metrics: vec![("mae".into(), 1.9), ("rmse".into(), 3.25)],
            approval_url: Some("https://mlops.example.com/approve?model=taxi-fare&v=3".into()),
        }
    }

    fn golden(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    #[test]
    fn the_slack_message_is_golden() {
        assert_eq!(slack(&notice()), golden("slack-approval.json"));
    }

    #[test]
    fn the_teams_card_is_golden() {
        assert_eq!(teams(&notice()), golden("teams-approval.json"));
    }

    #[test]
    fn the_approval_url_is_filled_in() {
        let url = fill_url(
            "https://ui.example/models/{model}/versions/{version}?alias={alias}",
            &ModelName::parse("taxi fare").unwrap(),
            ModelVersion::new(3).unwrap(),
            &AliasName::parse("champion").unwrap(),
        );
        assert_eq!(
            url,
            "https://ui.example/models/taxi%20fare/versions/3?alias=champion"
        );
    }

    #[test]
    fn secrets_in_webhook_urls_are_not_repeated() {
        let url = "https://hooks.slack.com/services/T0/B0/secret";
        assert_eq!(redacted(url), "https://hooks.slack.com/…");
        assert_eq!(
            scrub(&format!("error sending request for url ({url})"), url),
            "error sending request for url (https://hooks.slack.com/…)"
        );
        assert_eq!(
            redacted("http://127.0.0.1:8080?k=v"),
            "http://127.0.0.1:8080/…"
        );
        assert_eq!(redacted("nonsense"), "(not a URL)");
    }

    #[test]
    fn without_a_url_or_comment_there_is_no_button_or_note() {
        let bare = ApprovalNotice {
            comment: None,
            approval_url: None,
            metrics: (0..9).map(|i| (format!("m{i}"), f64::from(i))).collect(),
            ..notice()
        };
        let s = slack(&bare);
        let blocks = s["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 2);
        // Slack's ten-field limit.
        assert_eq!(blocks[1]["fields"].as_array().unwrap().len(), 10);
        let t = teams(&bare);
        assert!(t["attachments"][0]["content"].get("actions").is_none());
        let long = ApprovalNotice {
            model: "m".repeat(200),
            ..bare
        };
        let header = slack(&long)["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(header.chars().count(), SLACK_HEADER_MAX);
    }
}

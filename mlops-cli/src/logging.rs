//! Log output: the libraries log through `tracing`; the tool writes warnings and errors to
//! stderr by default, more with `-v` (info), `-vv` (debug), `-vvv` (trace). `RUST_LOG`
//! (tracing's filter syntax, e.g. `mlops_track=debug`) overrides the flag. Stdout stays for
//! results. Lines read like the tool's own errors: `warning: ...`, `error: ...`.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

/// Installs the subscriber; `verbose` counts the `-v` flags.
pub(crate) fn init(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // A second subscriber cannot be installed; the first one stays, which is what we want.
    // The filter decides for both: Dagster Pipes gets the lines stderr gets.
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain {
            targets: verbose > 0,
        })
        .finish()
        .with(crate::step::pipes::LogLayer);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// `level: [target: ]message fields`, one line per event.
struct Plain {
    /// Whether to name the module that logged (useful with -v, noise without).
    targets: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let label = match *metadata.level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "{label}: ")?;
        if self.targets {
            write!(writer, "{}: ", metadata.target())?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

//! The steps' command line: `<step> [--name value | --switch]...`, a repeated option keeping
//! every value. Small on purpose: the template has no dependency beyond the library's.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::Error;

/// A usage error: exit code 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Switches: options that take no value.
const SWITCHES: [&str; 1] = ["fail-on-drift"];

/// A parsed command line.
#[derive(Debug, Default)]
pub(crate) struct Args {
    /// The step.
    pub(crate) command: String,
    options: BTreeMap<String, Vec<String>>,
}

impl Args {
    /// Parses the arguments after the program name.
    pub(crate) fn parse(mut items: impl Iterator<Item = String>) -> Result<Self, UsageError> {
        let command = items
            .next()
            .ok_or_else(|| UsageError("no step given".into()))?;
        let mut options: BTreeMap<String, Vec<String>> = BTreeMap::new();
        while let Some(item) = items.next() {
            let name = item
                .strip_prefix("--")
                .ok_or_else(|| UsageError(format!("unexpected argument {item:?}")))?;
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None if SWITCHES.contains(&name) => (name.to_owned(), "true".to_owned()),
                None => {
                    let value = items
                        .next()
                        .ok_or_else(|| UsageError(format!("--{name} needs a value")))?;
                    (name.to_owned(), value)
                }
            };
            options.entry(name).or_default().push(value);
        }
        Ok(Self { command, options })
    }

    /// Refuses any option not in `allowed` (a typo must not silently change a pipeline).
    pub(crate) fn allow(&self, allowed: &[&str]) -> Result<(), UsageError> {
        match self.options.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(UsageError(format!("{} takes no --{k}", self.command))),
            None => Ok(()),
        }
    }

    /// The last value of `--name`.
    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.options
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of a repeated `--name`.
    pub(crate) fn values(&self, name: &str) -> Vec<String> {
        self.options.get(name).cloned().unwrap_or_default()
    }

    /// Whether the switch `--name` was given.
    pub(crate) fn switch(&self, name: &str) -> bool {
        self.value(name) == Some("true")
    }

    /// `--name`, else the environment variable `env`, else `default`.
    pub(crate) fn value_or_env(&self, name: &str, env: &str, default: &str) -> String {
        (self.value(name).map(str::to_owned))
            .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| default.to_owned())
    }

    /// `--name`, which must be given.
    pub(crate) fn required(&self, name: &str) -> Result<&str, UsageError> {
        self.value(name)
            .ok_or_else(|| UsageError(format!("{} needs --{name}", self.command)))
    }

    /// `--name` as a number, else `default`.
    pub(crate) fn number<T: FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.value(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| UsageError(format!("--{name} {v:?} is not a number")).into()),
        }
    }
}

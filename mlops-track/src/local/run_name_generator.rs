//! Display names for runs created without one, in the spirit of MLflow's (`bright-owl-42`).

use mlops_core::RunName;

const ADJECTIVES: [&str; 24] = [
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "gentle",
    "glad", "keen", "lucid", "merry", "nimble", "polite", "quick", "quiet", "rapid", "sharp",
    "steady", "sunny", "swift", "witty",
];

const ANIMALS: [&str; 24] = [
    "badger", "bat", "bee", "crane", "deer", "dove", "eel", "finch", "fox", "gull", "hare",
    "heron", "ibis", "jay", "koala", "lark", "lynx", "mole", "newt", "otter", "owl", "panda",
    "seal", "wren",
];

/// A random name such as `swift-otter-417`, drawn from the random bits of a UUID v7.
pub(crate) fn random_run_name() -> Option<RunName> {
    let bits = uuid::Uuid::now_v7().as_u128();
    let a = ADJECTIVES[(bits % 24) as usize];
    let b = ANIMALS[((bits >> 8) % 24) as usize];
    let n = (bits >> 16) % 1000;
    // Letters, digits and `-` only: always a valid run name.
    RunName::parse(format!("{a}-{b}-{n}")).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_valid_and_vary() {
        let names: std::collections::HashSet<String> = (0..50)
            .map(|_| super::random_run_name().unwrap().into_string())
            .collect();
        assert!(names.len() > 10);
        assert!(names.iter().all(|n| n.split('-').count() == 3));
    }
}

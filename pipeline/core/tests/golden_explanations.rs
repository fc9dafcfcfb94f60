//! Golden explanations: the published `ReferenceScore` of every reference of a fixed
//! catalogue, compared byte for byte with `tests/golden/<case>.json`. Run with
//! `UPDATE_GOLDEN=1` to rewrite the files after an intended change, then review the diff.

use crate::fixtures;

use std::path::PathBuf;

use hub_core::profile::EconomicsConfig;

#[test]
fn explanations_match_the_golden_files() {
    let config = EconomicsConfig::embedded().expect("embedded configuration loads");
    let fba = fixtures::fba_profile();
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1");
    let mut mismatches = Vec::new();
    for case in fixtures::catalogue() {
        let score = fixtures::score_case(&config, &fba, &case);
        let rendered = serde_json::to_string_pretty(&score).expect("scores serialise") + "\n";
        let path = folder.join(format!("{}.json", case.name));
        if update {
            std::fs::write(&path, &rendered).expect("golden file is writable");
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!(
                "{}: {error}; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            )
        });
        if expected != rendered {
            mismatches.push(format!("{}:\n{rendered}", path.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} golden file(s) differ (UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn scoring_is_deterministic_and_contributions_add_up() {
    let config = EconomicsConfig::embedded().expect("embedded configuration loads");
    let fba = fixtures::fba_profile();
    for case in fixtures::catalogue() {
        let first = fixtures::score_case(&config, &fba, &case);
        let second = fixtures::score_case(&config, &fba, &case);
        assert_eq!(first, second, "{}", case.name);
        let sum: rust_decimal::Decimal = first.factors.iter().map(|f| f.contribution).sum();
        assert_eq!(sum, first.score, "{}", case.name);
        assert_eq!(first.score.scale(), 4, "{}", case.name);
    }
}

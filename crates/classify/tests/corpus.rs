//! The default rules against a labelled corpus of realistic torrents (`corpus.jsonl`, made by
//! `make_corpus.py`): prints precision and recall per content type and fails below 95%
//! overall accuracy.

use classify::rules::{RuleSet, TorrentFacts};
use std::collections::BTreeMap;

/// One labelled torrent.
#[derive(Debug)]
pub struct Labelled {
    /// Expected content type.
    pub expected: String,
    /// The torrent.
    pub facts: TorrentFacts,
}

/// Reads `tests/corpus.jsonl`.
pub fn corpus() -> Vec<Labelled> {
    let text = include_str!("corpus.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("corpus line is JSON");
            let files = v["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| {
                    (
                        f["path"].as_str().expect("path").to_string(),
                        f["size"].as_u64().expect("size"),
                    )
                })
                .collect();
            Labelled {
                expected: v["type"].as_str().expect("type").to_string(),
                facts: TorrentFacts::new(v["name"].as_str().expect("name"), files),
            }
        })
        .collect()
}

#[test]
fn default_rules_classify_the_corpus() {
    let rules = RuleSet::load(None).expect("defaults load");
    let corpus = corpus();
    assert!(corpus.len() >= 300, "corpus has {} entries", corpus.len());

    // type -> (true positives, predicted as type, expected as type)
    let mut stats: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut correct = 0;
    let mut wrong = Vec::new();
    for item in &corpus {
        let verdict = rules.classify(&item.facts);
        assert!(
            verdict.errors.is_empty(),
            "{}: {:?}",
            item.facts.name,
            verdict.errors
        );
        let got = verdict.content_type().to_string();
        stats.entry(got.clone()).or_default().1 += 1;
        stats.entry(item.expected.clone()).or_default().2 += 1;
        if got == item.expected {
            correct += 1;
            stats.entry(got).or_default().0 += 1;
        } else {
            wrong.push(format!(
                "  expected {:<9} got {:<9} {} (fired: {})",
                item.expected,
                got,
                item.facts.name,
                verdict.fired.join(", ")
            ));
        }
    }
    println!(
        "{:<10} {:>9} {:>9} {:>6}",
        "type", "precision", "recall", "n"
    );
    for (t, (tp, predicted, expected)) in &stats {
        let p = if *predicted == 0 {
            1.0
        } else {
            *tp as f64 / *predicted as f64
        };
        let r = if *expected == 0 {
            1.0
        } else {
            *tp as f64 / *expected as f64
        };
        println!(
            "{t:<10} {:>8.1}% {:>8.1}% {expected:>6}",
            p * 100.0,
            r * 100.0
        );
    }
    let accuracy = correct as f64 / corpus.len() as f64;
    println!(
        "overall: {correct}/{} = {:.1}% correct",
        corpus.len(),
        accuracy * 100.0
    );
    if !wrong.is_empty() {
        println!("misclassified:\n{}", wrong.join("\n"));
    }
    assert!(accuracy >= 0.95, "accuracy {:.1}% < 95%", accuracy * 100.0);
}

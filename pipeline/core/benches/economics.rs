//! Throughput of the per-record work of the scoring processor: the quality gate on the
//! incoming offer signal, then margin, score, action and the published `ReferenceScore`,
//! over the golden catalogue (all channels and situations). See `docs/benchmarks.md`.

#[path = "../tests/golden/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hub_core::gate::{self, GateConfig};
use hub_core::profile::EconomicsConfig;

fn economics(c: &mut Criterion) {
    let config = EconomicsConfig::embedded().expect("embedded configuration loads");
    let fba = fixtures::fba_profile();
    let gate_config = GateConfig::default();
    let cases: Vec<_> = fixtures::catalogue()
        .into_iter()
        .filter(|case| case.offer.is_some())
        .collect();
    let mut group = c.benchmark_group("per_record");
    group.throughput(Throughput::Elements(cases.len() as u64));
    group.bench_function("gate_margin_score", |b| {
        b.iter(|| {
            for case in &cases {
                let offer = case.offer.as_ref().expect("filtered on offers");
                let verdict = gate::check_offer(offer, None, fixtures::T, &gate_config);
                black_box(verdict.reason());
                black_box(fixtures::score_case(&config, &fba, case));
            }
        })
    });
    group.bench_function("margin_score", |b| {
        b.iter(|| {
            for case in &cases {
                black_box(fixtures::score_case(&config, &fba, case));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, economics);
criterion_main!(benches);

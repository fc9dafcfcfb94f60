//! Throughput of the per-record work of the scoring processor: the quality gate on the
//! incoming offer signal, then margin, score, action and the published `ReferenceScore`,
//! over the golden catalogue (all channels and situations). Configuration, profiles and fx
//! rates are loaded once, as in the processor. See `docs/benchmarks.md`.

#[path = "../tests/golden/fixtures.rs"]
mod fixtures;

use std::hint::black_box;

/// The allocator of the `hub` binary that runs the processor (`pipeline/hub/src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hub_core::gate::{self, GateConfig};
use hub_core::profile::EconomicsConfig;
use hub_core::score::{ScoringInput, score_reference};

fn economics(c: &mut Criterion) {
    let config = EconomicsConfig::embedded().expect("embedded configuration loads");
    let fba = fixtures::fba_profile();
    let default_seller = config.seller("default").expect("default seller profile");
    let weights = config.weights("default").expect("default weights");
    let fx = fixtures::fx();
    let gate_config = GateConfig::default();
    let cases: Vec<_> = fixtures::catalogue()
        .into_iter()
        .filter(|case| case.offer.is_some())
        .collect();
    let inputs: Vec<ScoringInput<'_>> = cases
        .iter()
        .map(|case| ScoringInput {
            reference: &case.reference,
            channel: case.channel,
            offer: case.offer.as_ref(),
            stock: &case.stock,
            costs: &case.costs,
            config: &config,
            weights,
            seller: if case.fba_seller {
                &fba
            } else {
                default_seller
            },
            fx: &fx,
            version: 1,
            now: case.now,
        })
        .collect();
    let mut group = c.benchmark_group("per_record");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    // Inputs and whole results go through `black_box`: with the whole program optimised at
    // link time (the release profile's fat LTO) the compiler sees every call, and would
    // otherwise drop what only an unused part of a result needs (a refusal's detail text)
    // or reuse the work of one iteration in the next.
    group.bench_function("gate_margin_score", |b| {
        b.iter(|| {
            for input in black_box(&inputs) {
                let offer = input.offer.expect("filtered on offers");
                let verdict = gate::check_offer(offer, None, fixtures::T, &gate_config);
                black_box(&verdict);
                black_box(score_reference(input).expect("catalogue scores"));
            }
        })
    });
    group.bench_function("margin_score", |b| {
        b.iter(|| {
            for input in black_box(&inputs) {
                black_box(score_reference(input).expect("catalogue scores"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, economics);
criterion_main!(benches);

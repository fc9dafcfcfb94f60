//! Tests of the contracts through the public API, in one binary so the fake schema registry
//! and the sample generators are shared.

mod compatibility;
mod fake_registry;
mod known_answers;
mod registry_client;
mod roundtrip;
mod samples;

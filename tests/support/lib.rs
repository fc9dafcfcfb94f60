//! Shared helpers for the integration tests: engine addresses and unique names.

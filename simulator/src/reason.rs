//! The reason codes the quality gate must give to each kind of corrupt record the simulator
//! emits. They are the gate's stable codes (`docs/quarantine-reasons.md`), spelled out here
//! because the simulator is the gate's adversary and must not share its implementation.

pub const INVALID_GTIN: &str = "INVALID_GTIN";
pub const PRICE_JUMP: &str = "PRICE_JUMP";
pub const NEGATIVE_STOCK: &str = "NEGATIVE_STOCK";
pub const OBSERVED_IN_FUTURE: &str = "OBSERVED_IN_FUTURE";
pub const BUY_BOX_BELOW_LOWEST: &str = "BUY_BOX_BELOW_LOWEST";
pub const UNKNOWN_CURRENCY: &str = "UNKNOWN_CURRENCY";
pub const LANDED_PRICE_MISMATCH: &str = "LANDED_PRICE_MISMATCH";
pub const PLACEHOLDER_OFFER: &str = "PLACEHOLDER_OFFER";
pub const NON_POSITIVE_PRICE: &str = "NON_POSITIVE_PRICE";
pub const ILLEGAL_VAT_RATE: &str = "ILLEGAL_VAT_RATE";
pub const UNDECODABLE: &str = "UNDECODABLE";

/// Every reason the simulator produces, in a fixed order.
pub const ALL: [&str; 11] = [
    INVALID_GTIN,
    PRICE_JUMP,
    NEGATIVE_STOCK,
    OBSERVED_IN_FUTURE,
    BUY_BOX_BELOW_LOWEST,
    UNKNOWN_CURRENCY,
    LANDED_PRICE_MISMATCH,
    PLACEHOLDER_OFFER,
    NON_POSITIVE_PRICE,
    ILLEGAL_VAT_RATE,
    UNDECODABLE,
];

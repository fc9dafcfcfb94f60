//! Rules for purchase costs (`hub.signals.costs`).

use hub_schemas::records::{CostKind, CostSignal, EpochMillis};

use super::rules::{
    Subject, at_least, currency, gtin, observation_time, positive_price, price_jump, required_text,
    set_normalised,
};
use super::{GateConfig, Verdict};
use crate::calendar::{MILLIS_PER_DAY, format_utc};
use crate::reason::{Quarantine, ReasonCode, RecordType};

/// Checks one cost signal. `previous` is the last accepted cost for the same GTIN, cost kind
/// and supplier, if any: it bounds the jump of the unit cost (skipped when its currency
/// differs). On acceptance the GTIN is GTIN-13 and the currency upper-case.
pub fn check_cost(
    cost: &CostSignal,
    previous: Option<&CostSignal>,
    now: EpochMillis,
    config: &GateConfig,
) -> Verdict<CostSignal> {
    check(cost, previous, now, config).into()
}

fn check(
    cost: &CostSignal,
    previous: Option<&CostSignal>,
    now: EpochMillis,
    config: &GateConfig,
) -> Result<CostSignal, Quarantine> {
    let supplier = cost.supplier_id.as_deref().unwrap_or("");
    let subject = Subject::new(
        RecordType::CostSignal,
        &cost.gtin,
        [("supplier", supplier), ("source", &cost.source)],
    );
    required_text(&subject, "source", &cost.source)?;
    let gtin = gtin(&subject, &cost.gtin)?;
    if cost.cost_kind == CostKind::SupplierPrice && supplier.trim().is_empty() {
        return Err(subject.refuse(
            ReasonCode::MissingField,
            "supplier_id is absent on a SUPPLIER_PRICE; the connector must name the supplier",
        ));
    }
    let currency = currency(&subject, &cost.currency)?;
    observation_time(
        &subject,
        "observed_at",
        cost.observed_at,
        now,
        Some(i64::from(config.max_cost_age_days) * MILLIS_PER_DAY),
        config,
    )?;
    positive_price(
        &subject,
        "unit_cost_excl_vat",
        cost.unit_cost_excl_vat,
        &currency,
        config,
        ReasonCode::NonPositivePrice,
    )?;
    at_least(&subject, "moq", cost.moq.map(i64::from), 1)?;
    at_least(
        &subject,
        "lead_time_days",
        cost.lead_time_days.map(i64::from),
        0,
    )?;
    check_validity(&subject, cost)?;
    if let Some(previous) = previous.filter(|p| p.currency.trim().eq_ignore_ascii_case(&currency)) {
        price_jump(
            &subject,
            "unit_cost_excl_vat",
            Some(cost.unit_cost_excl_vat),
            Some(previous.unit_cost_excl_vat),
            &currency,
            config,
        )?;
    }
    let mut accepted = cost.clone();
    set_normalised(&mut accepted.gtin, &cost.gtin, &gtin);
    set_normalised(&mut accepted.currency, &cost.currency, &currency);
    Ok(accepted)
}

/// A price list line applies between its validity dates, both inclusive; a line observed
/// outside them describes another period's price.
fn check_validity(subject: &Subject, cost: &CostSignal) -> Result<(), Quarantine> {
    if let (Some(from), Some(to)) = (cost.valid_from, cost.valid_to)
        && from > to
    {
        return Err(subject.refuse(
            ReasonCode::InvalidValidityRange,
            format!(
                "valid_from {} is after valid_to {}; the supplier's dates are swapped or mistyped",
                format_utc(from),
                format_utc(to)
            ),
        ));
    }
    let observed = cost.observed_at;
    let before_start = cost.valid_from.filter(|&from| observed < from);
    let after_end = cost.valid_to.filter(|&to| observed > to);
    if let Some(bound) = before_start.or(after_end) {
        let side = if before_start.is_some() {
            "before valid_from"
        } else {
            "after valid_to"
        };
        return Err(subject.refuse(
            ReasonCode::CostOutsideValidity,
            format!(
                "observed_at {} is {side} {}; load the price list while it is valid",
                format_utc(observed),
                format_utc(bound)
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    const NOW: EpochMillis = 1_740_817_800_000;
    const DAY: EpochMillis = 86_400_000;

    fn cost() -> CostSignal {
        CostSignal {
            gtin: "4006381333931".to_owned(),
            cost_kind: CostKind::SupplierPrice,
            supplier_id: Some("grossiste_ouest".to_owned()),
            unit_cost_excl_vat: dec!(12.4167),
            currency: "EUR".to_owned(),
            moq: Some(6),
            valid_from: Some(NOW - 30 * DAY),
            valid_to: Some(NOW + 30 * DAY),
            lead_time_days: Some(3),
            source: "supplier.grossiste_ouest.csv".to_owned(),
            request_id: None,
            observed_at: NOW - DAY,
        }
    }

    fn reason(cost: &CostSignal) -> Option<ReasonCode> {
        check_cost(cost, None, NOW, &GateConfig::default()).reason()
    }

    #[test]
    fn a_valid_supplier_price_is_accepted() {
        assert_eq!(
            check_cost(&cost(), None, NOW, &GateConfig::default()),
            Verdict::Accepted(cost())
        );
    }

    #[test]
    fn supplier_price_needs_a_supplier_erp_cost_does_not() {
        assert_eq!(
            reason(&CostSignal {
                supplier_id: None,
                ..cost()
            }),
            Some(ReasonCode::MissingField)
        );
        assert_eq!(
            reason(&CostSignal {
                supplier_id: Some(" ".to_owned()),
                ..cost()
            }),
            Some(ReasonCode::MissingField)
        );
        let erp = CostSignal {
            cost_kind: CostKind::ErpStandardCost,
            supplier_id: None,
            ..cost()
        };
        assert_eq!(reason(&erp), None);
    }

    #[test]
    fn unit_cost_must_be_positive_and_below_the_ceiling() {
        let costing = |unit_cost_excl_vat| CostSignal {
            unit_cost_excl_vat,
            ..cost()
        };
        assert_eq!(
            reason(&costing(dec!(0))),
            Some(ReasonCode::NonPositivePrice)
        );
        assert_eq!(
            reason(&costing(dec!(-3))),
            Some(ReasonCode::NonPositivePrice)
        );
        assert_eq!(reason(&costing(dec!(0.0001))), None);
        assert_eq!(reason(&costing(dec!(50000))), None);
        assert_eq!(
            reason(&costing(dec!(50000.0001))),
            Some(ReasonCode::PriceAboveCeiling)
        );
    }

    #[test]
    fn moq_and_lead_time_bounds() {
        assert_eq!(
            reason(&CostSignal {
                moq: Some(1),
                ..cost()
            }),
            None
        );
        assert_eq!(
            reason(&CostSignal {
                moq: Some(0),
                ..cost()
            }),
            Some(ReasonCode::OutOfRange)
        );
        assert_eq!(
            reason(&CostSignal {
                lead_time_days: Some(-1),
                ..cost()
            }),
            Some(ReasonCode::OutOfRange)
        );
    }

    #[test]
    fn validity_range_must_be_ordered() {
        let single_day = CostSignal {
            valid_from: Some(NOW - DAY),
            valid_to: Some(NOW - DAY),
            ..cost()
        };
        assert_eq!(reason(&single_day), None);
        let swapped = CostSignal {
            valid_from: Some(NOW + 30 * DAY),
            valid_to: Some(NOW - 30 * DAY),
            ..cost()
        };
        assert_eq!(reason(&swapped), Some(ReasonCode::InvalidValidityRange));
    }

    #[test]
    fn observation_must_fall_within_validity_inclusive() {
        let observed = |observed_at| CostSignal {
            observed_at,
            ..cost()
        };
        assert_eq!(reason(&observed(NOW - 30 * DAY)), None);
        assert_eq!(
            reason(&observed(NOW - 30 * DAY - 1)),
            Some(ReasonCode::CostOutsideValidity)
        );
        let ended = CostSignal {
            valid_to: Some(NOW - 2 * DAY),
            ..cost()
        };
        assert_eq!(reason(&ended), Some(ReasonCode::CostOutsideValidity));
        let open_ended = CostSignal {
            valid_from: None,
            valid_to: None,
            ..cost()
        };
        assert_eq!(reason(&open_ended), None);
    }

    #[test]
    fn cost_age_bound_is_in_days() {
        let open = |observed_at| CostSignal {
            observed_at,
            valid_from: None,
            valid_to: None,
            ..cost()
        };
        assert_eq!(reason(&open(NOW - 400 * DAY)), None);
        assert_eq!(
            reason(&open(NOW - 400 * DAY - 1)),
            Some(ReasonCode::ObservationTooOld)
        );
    }

    #[test]
    fn unit_cost_jump_against_previous() {
        let config = GateConfig::default();
        let previous = CostSignal {
            unit_cost_excl_vat: dec!(1241.67),
            ..cost()
        };
        assert_eq!(
            check_cost(&cost(), Some(&previous), NOW, &config).reason(),
            Some(ReasonCode::PriceJump)
        );
        let previous = CostSignal {
            unit_cost_excl_vat: dec!(13.10),
            ..cost()
        };
        assert_eq!(
            check_cost(&cost(), Some(&previous), NOW, &config).reason(),
            None
        );
    }
}

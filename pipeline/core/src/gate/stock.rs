//! Rules for availability signals (`hub.signals.stock`).

use hub_schemas::records::{EpochMillis, StockSignal};

use super::rules::{
    MILLIS_PER_HOUR, Subject, at_least, gtin, observation_time, required_text, set_normalised,
};
use super::{GateConfig, Verdict};
use crate::reason::{Quarantine, ReasonCode, RecordType};

/// Checks one stock signal. Stock has no jump rule: a restock from 0 to 500 units is normal.
/// On acceptance the GTIN is GTIN-13.
pub fn check_stock(
    stock: &StockSignal,
    now: EpochMillis,
    config: &GateConfig,
) -> Verdict<StockSignal> {
    check(stock, now, config).into()
}

fn check(
    stock: &StockSignal,
    now: EpochMillis,
    config: &GateConfig,
) -> Result<StockSignal, Quarantine> {
    let location = stock.location.as_deref().unwrap_or("");
    let subject = Subject::new(
        RecordType::StockSignal,
        &stock.gtin,
        [("location", location), ("source", &stock.source)],
    );
    required_text(&subject, "source", &stock.source)?;
    let gtin = gtin(&subject, &stock.gtin)?;
    observation_time(
        &subject,
        "observed_at",
        stock.observed_at,
        now,
        Some(i64::from(config.max_stock_age_hours) * MILLIS_PER_HOUR),
        config,
    )?;
    for (field, quantity) in [
        ("quantity", Some(stock.quantity)),
        ("incoming_quantity", stock.incoming_quantity),
    ] {
        if let Some(quantity) = quantity
            && quantity < 0
        {
            return Err(subject.refuse(
                ReasonCode::NegativeStock,
                format!(
                    "{field} {quantity} must be >= 0; a backorder is 0 available, not a negative count"
                ),
            ));
        }
    }
    at_least(
        &subject,
        "lead_time_days",
        stock.lead_time_days.map(i64::from),
        0,
    )?;
    let mut accepted = stock.clone();
    set_normalised(&mut accepted.gtin, &stock.gtin, &gtin);
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use hub_schemas::records::StockSource;

    use super::*;

    const NOW: EpochMillis = 1_740_817_800_000;
    const HOUR: EpochMillis = 3_600_000;

    fn stock() -> StockSignal {
        StockSignal {
            gtin: "96385074".to_owned(),
            stock_source: StockSource::Erp,
            location: Some("WH-LYON".to_owned()),
            quantity: 12,
            incoming_quantity: Some(40),
            lead_time_days: Some(2),
            source: "odoo.stock.quant".to_owned(),
            request_id: None,
            observed_at: NOW - HOUR,
        }
    }

    fn reason(stock: &StockSignal) -> Option<ReasonCode> {
        check_stock(stock, NOW, &GateConfig::default()).reason()
    }

    #[test]
    fn valid_stock_is_accepted_with_a_gtin_13() {
        let accepted = check_stock(&stock(), NOW, &GateConfig::default())
            .into_result()
            .unwrap();
        assert_eq!(
            accepted,
            StockSignal {
                gtin: "0000096385074".to_owned(),
                ..stock()
            }
        );
    }

    #[test]
    fn quantities_may_be_zero_but_not_negative() {
        assert_eq!(
            reason(&StockSignal {
                quantity: 0,
                incoming_quantity: Some(0),
                ..stock()
            }),
            None
        );
        assert_eq!(
            reason(&StockSignal {
                quantity: -1,
                ..stock()
            }),
            Some(ReasonCode::NegativeStock)
        );
        assert_eq!(
            reason(&StockSignal {
                incoming_quantity: Some(-5),
                ..stock()
            }),
            Some(ReasonCode::NegativeStock)
        );
        assert_eq!(
            reason(&StockSignal {
                quantity: i64::MAX,
                ..stock()
            }),
            None
        );
    }

    #[test]
    fn lead_time_may_be_zero_but_not_negative() {
        assert_eq!(
            reason(&StockSignal {
                lead_time_days: Some(0),
                ..stock()
            }),
            None
        );
        assert_eq!(
            reason(&StockSignal {
                lead_time_days: Some(-1),
                ..stock()
            }),
            Some(ReasonCode::OutOfRange)
        );
    }

    #[test]
    fn identity_and_time_are_checked() {
        assert_eq!(
            reason(&StockSignal {
                gtin: "96385075".to_owned(),
                ..stock()
            }),
            Some(ReasonCode::InvalidGtin)
        );
        assert_eq!(
            reason(&StockSignal {
                source: String::new(),
                ..stock()
            }),
            Some(ReasonCode::MissingField)
        );
        assert_eq!(
            reason(&StockSignal {
                observed_at: NOW - 72 * HOUR,
                ..stock()
            }),
            None
        );
        assert_eq!(
            reason(&StockSignal {
                observed_at: NOW - 72 * HOUR - 1,
                ..stock()
            }),
            Some(ReasonCode::ObservationTooOld)
        );
        assert_eq!(
            reason(&StockSignal {
                observed_at: NOW + 300_001,
                ..stock()
            }),
            Some(ReasonCode::ObservedInFuture)
        );
    }
}

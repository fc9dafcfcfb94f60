//! Rules for product references (`hub.reference.products`).

use hub_schemas::records::{EpochMillis, ProductReference};

use super::rules::{
    Subject, at_least, gtin, non_negative_amount, observation_time, quoted, required_text,
    set_normalised,
};
use super::{GateConfig, Verdict};
use crate::category::Category;
use crate::reason::{Quarantine, ReasonCode, RecordType};

/// The contract carries levies without a currency: they are in the hub's trading currency.
const LEVY_CURRENCY: &str = "EUR";

/// Checks one product reference. References change rarely, so `updated_at` has no maximum
/// age, only the future bound. On acceptance the GTIN is GTIN-13.
pub fn check_product(
    product: &ProductReference,
    now: EpochMillis,
    config: &GateConfig,
) -> Verdict<ProductReference> {
    check(product, now, config).into()
}

fn check(
    product: &ProductReference,
    now: EpochMillis,
    config: &GateConfig,
) -> Result<ProductReference, Quarantine> {
    let subject = Subject::new(
        RecordType::ProductReference,
        &product.gtin,
        [("sku", &product.sku), ("source", &product.source)],
    );
    required_text(&subject, "source", &product.source)?;
    let gtin = gtin(&subject, &product.gtin)?;
    required_text(&subject, "sku", &product.sku)?;
    required_text(&subject, "title", &product.title)?;
    if let Some(brand) = &product.brand
        && brand.trim().is_empty()
    {
        return Err(subject.refuse(
            ReasonCode::MissingField,
            format!(
                "brand {} is blank; send null when the brand is unknown",
                quoted(brand)
            ),
        ));
    }
    required_text(&subject, "category", &product.category)?;
    product.category.parse::<Category>().map_err(|error| {
        subject.refuse(
            ReasonCode::UnknownCategory,
            format!("category: {error}; map the source category to a hub category"),
        )
    })?;
    let legal_rates = config.vat_country_legal_rates();
    if !legal_rates.contains(&product.vat_rate) {
        return Err(subject.refuse(
            ReasonCode::IllegalVatRate,
            format!(
                "vat_rate {} is not a legal {} rate ({}); rates are fractions, 0.2 for 20%",
                product.vat_rate,
                config.vat_country,
                legal_rates
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for (field, value) in [
        ("weight_g", product.weight_g),
        ("length_mm", product.length_mm),
        ("width_mm", product.width_mm),
        ("height_mm", product.height_mm),
    ] {
        at_least(&subject, field, value.map(i64::from), 1)?;
    }
    for (index, levy) in product.levies.iter().enumerate() {
        non_negative_amount(
            &subject,
            &format!("levies[{index}].amount_incl_vat ({:?})", levy.kind),
            levy.amount_incl_vat,
            LEVY_CURRENCY,
            config,
        )?;
    }
    observation_time(
        &subject,
        "updated_at",
        product.updated_at,
        now,
        None,
        config,
    )?;
    let mut accepted = product.clone();
    set_normalised(&mut accepted.gtin, &product.gtin, &gtin);
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use hub_schemas::records::{Levy, LevyKind};
    use rust_decimal_macros::dec;

    use super::*;

    const NOW: EpochMillis = 1_740_817_800_000;

    fn product() -> ProductReference {
        ProductReference {
            gtin: "3760123456784".to_owned(),
            sku: "TV-55-OLED-B4".to_owned(),
            title: "Téléviseur OLED 55\" 4K".to_owned(),
            brand: Some("Lumio".to_owned()),
            category: "tv".to_owned(),
            vat_rate: dec!(0.200000),
            weight_g: Some(18_500),
            length_mm: Some(1_380),
            width_mm: Some(180),
            height_mm: Some(850),
            levies: vec![Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat: dec!(10.00),
            }],
            source: "odoo.product.product".to_owned(),
            updated_at: NOW - 400 * 86_400_000,
            active: true,
        }
    }

    fn reason(product: &ProductReference) -> Option<ReasonCode> {
        check_product(product, NOW, &GateConfig::default()).reason()
    }

    #[test]
    fn a_complete_reference_is_accepted_even_when_old() {
        assert_eq!(
            check_product(&product(), NOW, &GateConfig::default()),
            Verdict::Accepted(product())
        );
    }

    #[test]
    fn french_vat_rates_are_legal_others_are_not() {
        for rate in [dec!(0.2), dec!(0.10), dec!(0.055), dec!(0.021000)] {
            assert_eq!(
                reason(&ProductReference {
                    vat_rate: rate,
                    ..product()
                }),
                None,
                "{rate}"
            );
        }
        for rate in [
            dec!(20),
            dec!(0.19),
            dec!(0.05),
            dec!(0.0551),
            dec!(0),
            dec!(-0.2),
            dec!(0.021001),
        ] {
            assert_eq!(
                reason(&ProductReference {
                    vat_rate: rate,
                    ..product()
                }),
                Some(ReasonCode::IllegalVatRate),
                "{rate}"
            );
        }
    }

    #[test]
    fn vat_rates_follow_the_configured_country() {
        let german = GateConfig {
            vat_country: "DE".to_owned(),
            ..GateConfig::default()
        };
        let reference = ProductReference {
            vat_rate: dec!(0.19),
            ..product()
        };
        assert_eq!(check_product(&reference, NOW, &german).reason(), None);
        assert_eq!(
            check_product(&product(), NOW, &german).reason(),
            Some(ReasonCode::IllegalVatRate)
        );
    }

    #[test]
    fn category_must_be_a_hub_category() {
        assert_eq!(
            reason(&ProductReference {
                category: "books".to_owned(),
                ..product()
            }),
            None
        );
        assert_eq!(
            reason(&ProductReference {
                category: "TV".to_owned(),
                ..product()
            }),
            Some(ReasonCode::UnknownCategory)
        );
        assert_eq!(
            reason(&ProductReference {
                category: "gardening".to_owned(),
                ..product()
            }),
            Some(ReasonCode::UnknownCategory)
        );
        assert_eq!(
            reason(&ProductReference {
                category: String::new(),
                ..product()
            }),
            Some(ReasonCode::MissingField)
        );
    }

    #[test]
    fn required_texts_are_checked() {
        assert_eq!(
            reason(&ProductReference {
                sku: " ".to_owned(),
                ..product()
            }),
            Some(ReasonCode::MissingField)
        );
        assert_eq!(
            reason(&ProductReference {
                title: String::new(),
                ..product()
            }),
            Some(ReasonCode::MissingField)
        );
        assert_eq!(
            reason(&ProductReference {
                brand: Some(String::new()),
                ..product()
            }),
            Some(ReasonCode::MissingField)
        );
        assert_eq!(
            reason(&ProductReference {
                brand: None,
                ..product()
            }),
            None
        );
    }

    #[test]
    fn dimensions_and_weight_must_be_positive() {
        assert_eq!(
            reason(&ProductReference {
                weight_g: Some(1),
                ..product()
            }),
            None
        );
        assert_eq!(
            reason(&ProductReference {
                weight_g: Some(0),
                ..product()
            }),
            Some(ReasonCode::OutOfRange)
        );
        assert_eq!(
            reason(&ProductReference {
                height_mm: Some(-850),
                ..product()
            }),
            Some(ReasonCode::OutOfRange)
        );
    }

    #[test]
    fn levies_may_not_be_negative() {
        let levied = |amount_incl_vat| ProductReference {
            levies: vec![Levy {
                kind: LevyKind::PrivateCopy,
                amount_incl_vat,
            }],
            ..product()
        };
        assert_eq!(reason(&levied(dec!(0))), None);
        assert_eq!(
            reason(&levied(dec!(-0.01))),
            Some(ReasonCode::NegativeAmount)
        );
    }

    #[test]
    fn updated_in_the_future_is_refused() {
        assert_eq!(
            reason(&ProductReference {
                updated_at: NOW + 300_000,
                ..product()
            }),
            None
        );
        assert_eq!(
            reason(&ProductReference {
                updated_at: NOW + 300_001,
                ..product()
            }),
            Some(ReasonCode::ObservedInFuture)
        );
    }
}

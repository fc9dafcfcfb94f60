//! A one-schedule Amazon fee grid of any shape, for the margin's tests.

use rust_decimal::Decimal;

use crate::fees::FeeSchedules;

/// The instant the tests evaluate at, within the grid's validity.
pub(super) const AT: i64 = 1_748_736_000_000;

/// A fee grid of the given shape, parsed like any file of config/fees/.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    pub(super) base: &'static str,
    pub(super) rate: Decimal,
    pub(super) minimum: Decimal,
    pub(super) dsf: Option<Decimal>,
    pub(super) monthly: Option<Decimal>,
    pub(super) fba_fee: Decimal,
}

impl Grid {
    pub(super) fn schedules(&self) -> FeeSchedules {
        let mut text = format!(
            r#"
            channel = "amazon"
            [[schedule]]
            version = "test"
            valid_from = 2020-01-01
            currency = "EUR"
            fee_vat_rate = "0.20"
            commission_base = "{}"
            commission.default = {{ rate = "{}", minimum_excl_vat = "{}" }}
            "#,
            self.base, self.rate, self.minimum
        );
        if let Some(dsf) = self.dsf {
            text += &format!("digital_services_fee = {{ rate = \"{dsf}\" }}\n");
        }
        if let Some(monthly) = self.monthly {
            text += &format!("subscription = {{ monthly_excl_vat = \"{monthly}\" }}\n");
        }
        text += &format!(
            r#"
            [schedule.fba]
            dimensional_weight_divisor_cm3_per_kg = 5000
            [[schedule.fba.tier]]
            name = "all"
            fee_excl_vat = "{}"
            "#,
            self.fba_fee
        );
        let mut schedules = FeeSchedules::default();
        schedules
            .load_channel_file("amazon.toml", &text)
            .expect("test grid is valid");
        schedules
    }
}

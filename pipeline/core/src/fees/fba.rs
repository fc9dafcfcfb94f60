//! Fulfilment by Amazon size tiers: which tier a packed unit falls in, and the per-unit fee
//! the schedule charges for it.
//!
//! The limits (weight, sorted dimensions, dimensional weight) are Amazon's published EU tier
//! definitions; the euro amounts change often and are the user's data (see
//! `config/fees/amazon.toml`). Tiers are tried in the schedule's order and the first that
//! holds the unit wins, so the table lists them from smallest to largest and ends with a
//! tier without limits.

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::money::exact;

/// A packed unit: shipping weight and its three dimensions, longest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parcel {
    pub weight_g: Decimal,
    pub dimensions_mm: [Decimal; 3],
}

impl Parcel {
    /// Any order of dimensions is accepted: tiers compare longest with longest.
    pub fn new(weight_g: Decimal, dimensions_mm: [Decimal; 3]) -> Self {
        let mut dimensions_mm = dimensions_mm;
        dimensions_mm.sort_unstable_by(|a, b| b.cmp(a));
        Self {
            weight_g,
            dimensions_mm,
        }
    }

    /// From centimetres, the unit `hub quote` takes.
    pub fn from_cm(weight_g: Decimal, dimensions_cm: [Decimal; 3]) -> Self {
        Self::new(weight_g, dimensions_cm.map(|cm| cm * Decimal::TEN))
    }

    fn volume_mm3(&self) -> Decimal {
        self.dimensions_mm.iter().product()
    }
}

/// One size tier with its limits (absent = unbounded) and its fee.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FbaTier {
    pub name: String,
    pub max_weight_g: Option<u32>,
    /// Longest, median and shortest side limits, in millimetres.
    pub max_dimensions_mm: Option<[u32; 3]>,
    /// Limit on the volumetric weight (volume / divisor), for oversize tiers.
    pub max_dimensional_weight_g: Option<u32>,
    #[serde(deserialize_with = "exact::deserialize")]
    pub fee_excl_vat: Decimal,
}

impl FbaTier {
    fn holds(&self, parcel: &Parcel, divisor: Decimal) -> bool {
        let within_weight = self
            .max_weight_g
            .is_none_or(|max| parcel.weight_g <= Decimal::from(max));
        let within_dimensions = self.max_dimensions_mm.is_none_or(|max| {
            let mut max = max;
            max.sort_unstable_by(|a, b| b.cmp(a));
            parcel
                .dimensions_mm
                .iter()
                .zip(max)
                .all(|(side, limit)| *side <= Decimal::from(limit))
        });
        let within_dimensional_weight = self
            .max_dimensional_weight_g
            .is_none_or(|max| parcel.volume_mm3() / divisor <= Decimal::from(max));
        within_weight && within_dimensions && within_dimensional_weight
    }

    fn is_unbounded(&self) -> bool {
        self.max_weight_g.is_none()
            && self.max_dimensions_mm.is_none()
            && self.max_dimensional_weight_g.is_none()
    }
}

/// The FBA fee table of one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FbaTable {
    /// Volumetric divisor in cm³ per kg (5000 in the EU): dimensional weight in grams is the
    /// volume in mm³ divided by this number.
    #[serde(deserialize_with = "exact::deserialize")]
    pub dimensional_weight_divisor_cm3_per_kg: Decimal,
    #[serde(rename = "tier")]
    pub tiers: Vec<FbaTier>,
}

impl FbaTable {
    /// The first tier that holds the parcel. [`FbaTable::validate`] guarantees one does.
    pub fn tier_for(&self, parcel: &Parcel) -> &FbaTier {
        let divisor = self.dimensional_weight_divisor_cm3_per_kg;
        self.tiers
            .iter()
            .find(|tier| tier.holds(parcel, divisor))
            .unwrap_or_else(|| {
                self.tiers
                    .last()
                    .expect("validated FBA tables end with an unbounded tier")
            })
    }

    /// Problems that would make tier selection ambiguous or a fee meaningless.
    pub fn validate(&self) -> Result<(), String> {
        if self.dimensional_weight_divisor_cm3_per_kg <= Decimal::ZERO {
            return Err("fba.dimensional_weight_divisor_cm3_per_kg must be positive".into());
        }
        let Some(last) = self.tiers.last() else {
            return Err("fba has no [[tier]]; list the size tiers smallest first".into());
        };
        if !last.is_unbounded() {
            return Err(format!(
                "the last FBA tier {:?} has limits; end the table with a tier without limits \
                 (special oversize) so every parcel has a fee",
                last.name
            ));
        }
        for (index, tier) in self.tiers.iter().enumerate() {
            if tier.fee_excl_vat < Decimal::ZERO || tier.fee_excl_vat.normalize().scale() > 2 {
                return Err(format!(
                    "FBA tier {:?} fee_excl_vat {} must be a non-negative amount in cents",
                    tier.name, tier.fee_excl_vat
                ));
            }
            if index + 1 < self.tiers.len() && tier.is_unbounded() {
                return Err(format!(
                    "FBA tier {:?} has no limits but is not the last tier, so the tiers after \
                     it could never apply",
                    tier.name
                ));
            }
            if self.tiers[..index]
                .iter()
                .any(|other| other.name == tier.name)
            {
                return Err(format!("FBA tier {:?} is listed twice", tier.name));
            }
        }
        Ok(())
    }
}

//! The synthetic catalogue: product references, the channels that sell them, their
//! suppliers and costs, and the exchange rates those costs need. Generated once from a seed;
//! the market simulation then animates it.

use std::collections::HashSet;

use hub_core::category::Category;
use hub_core::channel::Channel;
use hub_schemas::records::{EpochMillis, Levy, LevyKind, ProductReference};
use rand::seq::IndexedRandom;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::gtin::{GtinOrigin, pick_weighted, random_gtin};
use crate::kinds::{
    AUTHOR_FIRST_NAMES, AUTHOR_LAST_NAMES, KINDS, Kind, NOVEL_ENDINGS, NOVEL_OPENINGS, TitleStyle,
    channel_reach,
};
use crate::money::{charm_price, decimal, jitter, lerp, round_cents};

pub(crate) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Product references come from the ERP.
pub const PRODUCT_SOURCE: &str = "odoo.product.product";

/// What to generate. `Default` gives 10,000 references from 20 suppliers.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueParams {
    pub seed: u64,
    pub references: usize,
    pub suppliers: usize,
    /// The catalogue's date: products were last updated before it, and every supplier price
    /// list is valid from before it until at least 30 days after it.
    pub as_of: EpochMillis,
    /// Share of references whose cheapest supplier cost leaves no margin after marketplace
    /// fees (cost above about 88% of the price excluding VAT).
    pub unprofitable_share: f64,
    /// Share of non-book references printed with a UPC-A barcode.
    pub upc_share: f64,
    /// Share of non-book references printed with an EAN-8 barcode.
    pub ean8_share: f64,
    /// Share of channel listings on which we have an offer (otherwise only competitors sell).
    pub our_listing_share: f64,
}

impl Default for CatalogueParams {
    fn default() -> Self {
        CatalogueParams {
            seed: 42,
            references: 10_000,
            suppliers: 20,
            // 2025-03-03T00:00:00Z.
            as_of: 1_740_960_000_000,
            unprofitable_share: 0.08,
            upc_share: 0.06,
            ean8_share: 0.02,
            our_listing_share: 0.7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue parameter {field} is {value}: {expected}")]
    InvalidParameter {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl CatalogueParams {
    fn validate(&self) -> Result<(), CatalogueError> {
        if self.references == 0 {
            return Err(CatalogueError::InvalidParameter {
                field: "references",
                value: "0".to_owned(),
                expected: "at least 1",
            });
        }
        if self.suppliers == 0 {
            return Err(CatalogueError::InvalidParameter {
                field: "suppliers",
                value: "0".to_owned(),
                expected: "at least 1",
            });
        }
        for (field, share) in [
            ("unprofitable_share", self.unprofitable_share),
            ("upc_share", self.upc_share),
            ("ean8_share", self.ean8_share),
            ("our_listing_share", self.our_listing_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(CatalogueError::InvalidParameter {
                    field,
                    value: share.to_string(),
                    expected: "a share in [0, 1]",
                });
            }
        }
        if self.upc_share + self.ean8_share > 1.0 {
            return Err(CatalogueError::InvalidParameter {
                field: "upc_share + ean8_share",
                value: (self.upc_share + self.ean8_share).to_string(),
                expected: "at most 1",
            });
        }
        Ok(())
    }
}

/// How a supplier's prices reach the hub: its own file, or the buyers' entries in Odoo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceFeed {
    /// `supplier.<id>.csv`, which also carries the supplier's stock.
    SupplierFile,
    /// `odoo.product.supplierinfo` (stock still comes from the supplier's file).
    OdooSupplierinfo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplier {
    pub id: String,
    pub name: String,
    /// ISO 4217 code of its price lists.
    pub currency: &'static str,
    pub price_feed: PriceFeed,
    /// Delivery delay range to our warehouse, days.
    pub lead_time_days: (i32, i32),
}

impl Supplier {
    /// The connector source of this supplier's file (stock, and prices when it is the feed).
    pub fn file_source(&self) -> String {
        format!("supplier.{}.csv", self.id)
    }

    /// The connector source of this supplier's prices.
    pub fn price_source(&self) -> String {
        match self.price_feed {
            PriceFeed::SupplierFile => self.file_source(),
            PriceFeed::OdooSupplierinfo => "odoo.product.supplierinfo".to_owned(),
        }
    }
}

struct SupplierSeed {
    id: &'static str,
    name: &'static str,
    currency: &'static str,
    price_feed: PriceFeed,
    lead_time_days: (i32, i32),
}

/// Suppliers of a French electronics distributor: French and European wholesalers in euros,
/// Asian exporters in US dollars, one British wholesaler in pounds.
const SUPPLIERS: [SupplierSeed; 20] = [
    SupplierSeed {
        id: "eurotech",
        name: "Eurotech Distribution",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (2, 7),
    },
    SupplierSeed {
        id: "grossiste_ouest",
        name: "Grossiste de l'Ouest",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (1, 5),
    },
    SupplierSeed {
        id: "digidis",
        name: "Digidis",
        currency: "EUR",
        price_feed: PriceFeed::OdooSupplierinfo,
        lead_time_days: (2, 6),
    },
    SupplierSeed {
        id: "shenzhen_huaxin",
        name: "Shenzhen Huaxin Electronics",
        currency: "USD",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (25, 60),
    },
    SupplierSeed {
        id: "elec_direct",
        name: "Élec Direct",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (1, 4),
    },
    SupplierSeed {
        id: "nordis_pro",
        name: "Nordis Pro",
        currency: "EUR",
        price_feed: PriceFeed::OdooSupplierinfo,
        lead_time_days: (2, 8),
    },
    SupplierSeed {
        id: "atlantic_supply",
        name: "Atlantic Supply",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (3, 10),
    },
    SupplierSeed {
        id: "london_tech",
        name: "London Tech Wholesale",
        currency: "GBP",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (4, 12),
    },
    SupplierSeed {
        id: "alpes_electro",
        name: "Alpes Électro",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (2, 6),
    },
    SupplierSeed {
        id: "pacific_gadgets",
        name: "Pacific Gadgets Ltd",
        currency: "USD",
        price_feed: PriceFeed::OdooSupplierinfo,
        lead_time_days: (20, 45),
    },
    SupplierSeed {
        id: "medisud",
        name: "Medisud Négoce",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (2, 9),
    },
    SupplierSeed {
        id: "rhenus_handel",
        name: "Rhenus Handel GmbH",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (3, 8),
    },
    SupplierSeed {
        id: "bretagne_pro",
        name: "Bretagne Pro Distribution",
        currency: "EUR",
        price_feed: PriceFeed::OdooSupplierinfo,
        lead_time_days: (1, 5),
    },
    SupplierSeed {
        id: "brightway_hk",
        name: "Brightway Trading HK",
        currency: "USD",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (20, 50),
    },
    SupplierSeed {
        id: "iberica_import",
        name: "Ibérica Import",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (3, 10),
    },
    SupplierSeed {
        id: "lumen_import",
        name: "Lumen Import",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (2, 7),
    },
    SupplierSeed {
        id: "vectra_dist",
        name: "Vectra Distribution",
        currency: "EUR",
        price_feed: PriceFeed::OdooSupplierinfo,
        lead_time_days: (2, 6),
    },
    SupplierSeed {
        id: "taipei_link",
        name: "Taipei Link Co.",
        currency: "USD",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (25, 55),
    },
    SupplierSeed {
        id: "benelux_trade",
        name: "Benelux Trade",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (2, 6),
    },
    SupplierSeed {
        id: "orion_dist",
        name: "Orion Distribution",
        currency: "EUR",
        price_feed: PriceFeed::SupplierFile,
        lead_time_days: (1, 6),
    },
];

/// How many euros one unit of a currency buys, as the buyers' rate table has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxRate {
    pub currency: &'static str,
    pub eur_per_unit: Decimal,
}

/// Rates of early March 2025 (ECB reference rates, inverted and rounded to 4 decimals).
fn fx_rates() -> Vec<FxRate> {
    vec![
        FxRate {
            currency: "EUR",
            eur_per_unit: Decimal::ONE,
        },
        FxRate {
            currency: "GBP",
            eur_per_unit: Decimal::new(12_085, 4),
        },
        FxRate {
            currency: "USD",
            eur_per_unit: Decimal::new(9_268, 4),
        },
    ]
}

/// A channel that sells the reference, with that marketplace's category label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub channel: Channel,
    pub marketplace_category: &'static str,
    /// Whether we have an offer on this channel (competitors may sell it either way).
    pub we_sell: bool,
    /// Whether our offer is fulfilled by Amazon (only ever on Amazon).
    pub fulfilled_by_amazon: bool,
}

/// One line of a supplier's price list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierOffer {
    /// Index into `Catalogue::suppliers`.
    pub supplier: usize,
    pub unit_cost_excl_vat: Decimal,
    pub currency: &'static str,
    pub moq: i32,
    pub lead_time_days: i32,
    pub valid_from: EpochMillis,
    pub valid_to: EpochMillis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueReference {
    pub product: ProductReference,
    pub category: Category,
    pub gtin_origin: GtinOrigin,
    /// The going market price including VAT, in euros, that channel prices scatter around.
    pub market_price_incl_vat: Decimal,
    pub listings: Vec<Listing>,
    pub supplier_offers: Vec<SupplierOffer>,
    /// Odoo's `standard_price`, in euros.
    pub erp_standard_cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    pub as_of: EpochMillis,
    pub references: Vec<CatalogueReference>,
    pub suppliers: Vec<Supplier>,
    pub fx_rates: Vec<FxRate>,
}

impl Catalogue {
    /// Generates the catalogue; the same parameters always give the same catalogue.
    pub fn generate(params: &CatalogueParams) -> Result<Catalogue, CatalogueError> {
        params.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        let suppliers = suppliers(params.suppliers);
        let fx_rates = fx_rates();
        let frequencies: Vec<u32> = KINDS.iter().map(|kind| kind.frequency).collect();
        let mut gtins = HashSet::with_capacity(params.references);
        let mut references = Vec::with_capacity(params.references);
        for index in 0..params.references {
            let kind = &KINDS[pick_weighted(&mut rng, &frequencies)];
            let gtin_and_origin = loop {
                let candidate = random_gtin(
                    &mut rng,
                    kind.category == Category::Books,
                    params.upc_share,
                    params.ean8_share,
                );
                if gtins.insert(candidate.0.clone()) {
                    break candidate;
                }
            };
            let mut builder = ReferenceBuilder {
                rng: &mut rng,
                params,
                suppliers: &suppliers,
                fx_rates: &fx_rates,
            };
            references.push(builder.build(index, kind, gtin_and_origin));
        }
        Ok(Catalogue {
            as_of: params.as_of,
            references,
            suppliers,
            fx_rates,
        })
    }

    /// Euros per unit of `currency`, if the rate table has it.
    pub fn eur_per_unit(&self, currency: &str) -> Option<Decimal> {
        self.fx_rates
            .iter()
            .find(|rate| rate.currency == currency)
            .map(|rate| rate.eur_per_unit)
    }

    /// The latest instant at which every price list of the catalogue is still valid.
    pub fn price_lists_valid_until(&self) -> EpochMillis {
        self.references
            .iter()
            .flat_map(|reference| &reference.supplier_offers)
            .map(|offer| offer.valid_to)
            .min()
            .unwrap_or(EpochMillis::MAX)
    }
}

fn suppliers(count: usize) -> Vec<Supplier> {
    (0..count)
        .map(|index| {
            let seed = &SUPPLIERS[index % SUPPLIERS.len()];
            // Beyond the table, further branches of the same wholesalers.
            let round = index / SUPPLIERS.len();
            let (id, name) = if round == 0 {
                (seed.id.to_owned(), seed.name.to_owned())
            } else {
                (
                    format!("{}_{}", seed.id, round + 1),
                    format!("{} ({})", seed.name, round + 1),
                )
            };
            Supplier {
                id,
                name,
                currency: seed.currency,
                price_feed: seed.price_feed,
                lead_time_days: seed.lead_time_days,
            }
        })
        .collect()
}

/// Start of the UTC day containing `at`: price lists apply from midnight.
pub(crate) fn start_of_day(at: EpochMillis) -> EpochMillis {
    at.div_euclid(MILLIS_PER_DAY) * MILLIS_PER_DAY
}

/// Last millisecond of the UTC day containing `at`.
pub(crate) fn end_of_day(at: EpochMillis) -> EpochMillis {
    start_of_day(at) + MILLIS_PER_DAY - 1
}

struct ReferenceBuilder<'a> {
    rng: &'a mut ChaCha8Rng,
    params: &'a CatalogueParams,
    suppliers: &'a [Supplier],
    fx_rates: &'a [FxRate],
}

impl ReferenceBuilder<'_> {
    fn build(
        &mut self,
        index: usize,
        kind: &'static Kind,
        (gtin, gtin_origin): (String, GtinOrigin),
    ) -> CatalogueReference {
        // One position along the kind's range drives size, price, variant and levies, so a
        // 85" TV is heavy, expensive and pays the top DEEE band. Squaring part of it skews
        // the catalogue towards the smaller, cheaper models that sell most.
        let draw: f64 = self.rng.random();
        let size = 0.5 * draw + 0.5 * draw * draw;
        let variant = &kind.variants
            [((size * kind.variants.len() as f64) as usize).min(kind.variants.len() - 1)];
        let &(brand, line) = kind.lines.choose(self.rng).expect("kinds have lines");

        let price_position = size + 0.15 * (self.rng.random::<f64>() - 0.5);
        let price_cents =
            charm_price(100.0 * lerp(kind.price_eur.0, kind.price_eur.1, price_position));
        let weight_g = round_cents(jitter(
            self.rng,
            lerp(kind.weight_g.0, kind.weight_g.1, size),
            0.06,
        ));
        let mut dims: Vec<i64> = kind
            .dims_mm
            .iter()
            .map(|&(low, high)| round_cents(jitter(self.rng, lerp(low, high, size), 0.04)).max(1))
            .collect();
        dims.sort_unstable_by(|a, b| b.cmp(a));

        let is_book = kind.category == Category::Books;
        let vat_rate = if is_book {
            Decimal::new(55, 3)
        } else {
            Decimal::new(2, 1)
        };
        let mut levies = Vec::new();
        if kind.deee_cents.1 > 0.0 {
            levies.push(Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat: decimal(round_cents(lerp(
                    kind.deee_cents.0,
                    kind.deee_cents.1,
                    size,
                ))),
            });
        }
        if variant.private_copy_cents > 0 {
            levies.push(Levy {
                kind: LevyKind::PrivateCopy,
                amount_incl_vat: decimal(variant.private_copy_cents),
            });
        }
        let title = self.title(kind, brand, line, variant.label);
        let updated_at = self.params.as_of - self.rng.random_range(3_600_000..540 * MILLIS_PER_DAY);
        let product = ProductReference {
            gtin,
            sku: format!(
                "{}-{}-{:06}",
                category_code(kind.category),
                kind.code,
                index + 1
            ),
            title,
            brand: Some(brand.to_owned()),
            category: kind.category.key().to_owned(),
            vat_rate,
            weight_g: Some(to_i32(weight_g.max(1))),
            length_mm: Some(to_i32(dims[0])),
            width_mm: Some(to_i32(dims[1])),
            height_mm: Some(to_i32(dims[2])),
            levies,
            source: PRODUCT_SOURCE.to_owned(),
            updated_at,
            active: true,
        };

        let listings = self.listings(kind, weight_g);
        let vat_factor = 1.0 + f64::try_from(vat_rate).expect("VAT rates are small decimals");
        let price_excl_vat_cents = price_cents as f64 / vat_factor;
        let cost_ratio = if self.rng.random_bool(self.params.unprofitable_share) {
            0.90 + 0.14 * self.rng.random::<f64>()
        } else {
            0.55 + 0.30 * self.rng.random::<f64>()
        };
        let (supplier_offers, erp_standard_cost) =
            self.supplier_offers(price_excl_vat_cents * cost_ratio, price_cents);
        CatalogueReference {
            product,
            category: kind.category,
            gtin_origin,
            market_price_incl_vat: decimal(price_cents),
            listings,
            supplier_offers,
            erp_standard_cost,
        }
    }

    fn title(&mut self, kind: &Kind, brand: &str, line: &str, variant: &str) -> String {
        match kind.title {
            TitleStyle::Product { part_number: true } => {
                let letters: String = (0..2)
                    .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
                    .collect();
                let digits = self.rng.random_range(1_000..10_000);
                format!(
                    "{} {brand} {line} {variant} - {letters}{digits}FR",
                    kind.noun
                )
            }
            TitleStyle::Product { part_number: false } => {
                format!("{} {brand} {line} {variant}", kind.noun)
            }
            TitleStyle::Named => format!("{line} - {variant}"),
            TitleStyle::Novel => {
                let opening = NOVEL_OPENINGS.choose(self.rng).expect("non-empty");
                let ending = NOVEL_ENDINGS.choose(self.rng).expect("non-empty");
                let first = AUTHOR_FIRST_NAMES.choose(self.rng).expect("non-empty");
                let last = AUTHOR_LAST_NAMES.choose(self.rng).expect("non-empty");
                format!("{opening} {ending} - {first} {last} ({variant}, {line})")
            }
            TitleStyle::Series => {
                let volume = self.rng.random_range(1..=40);
                format!("{line} - Tome {volume} ({variant})")
            }
        }
    }

    fn listings(&mut self, kind: &Kind, weight_g: i64) -> Vec<Listing> {
        let reach = channel_reach(kind.category);
        let mut listings = Vec::new();
        for (channel, share) in Channel::ALL.into_iter().zip(reach) {
            if self.rng.random_bool(share) {
                listings.push(self.listing(kind, channel, weight_g));
            }
        }
        if listings.is_empty() {
            // A reference in the catalogue is sold somewhere; Amazon carries nearly everything.
            listings.push(self.listing(kind, Channel::Amazon, weight_g));
        }
        listings
    }

    fn listing(&mut self, kind: &Kind, channel: Channel, weight_g: i64) -> Listing {
        let we_sell = self.rng.random_bool(self.params.our_listing_share);
        // FBA takes parcels up to about 23 kg; the distributor ships a share of them via FBA.
        let fulfilled_by_amazon = channel == Channel::Amazon
            && we_sell
            && weight_g <= 23_000
            && self.rng.random_bool(0.45);
        Listing {
            channel,
            marketplace_category: kind.label(channel),
            we_sell,
            fulfilled_by_amazon,
        }
    }

    fn supplier_offers(
        &mut self,
        base_cost_eur_cents: f64,
        price_cents: i64,
    ) -> (Vec<SupplierOffer>, Decimal) {
        let wanted = 1 + pick_weighted(self.rng, &[35, 35, 20, 10]);
        let count = wanted.min(self.suppliers.len());
        let chosen = sample(self.rng, self.suppliers.len(), count);
        let as_of = self.params.as_of;
        let mut eur_costs = Vec::with_capacity(count);
        let mut offers = Vec::with_capacity(count);
        for supplier_index in chosen {
            let supplier = &self.suppliers[supplier_index];
            let eur_cents = jitter(self.rng, base_cost_eur_cents, 0.05).max(1.0);
            let rate = self
                .fx_rates
                .iter()
                .find(|rate| rate.currency == supplier.currency)
                .expect("every supplier currency has a rate");
            let rate_f64 = f64::try_from(rate.eur_per_unit).expect("rates are small decimals");
            let cost_cents = round_cents(eur_cents / rate_f64).max(1);
            eur_costs.push(eur_cents);
            let moq_choices: &[i32] = match price_cents {
                ..2_000 => &[10, 20, 50, 100],
                2_000..20_000 => &[1, 5, 10],
                _ => &[1, 2],
            };
            let (lead_min, lead_max) = supplier.lead_time_days;
            offers.push(SupplierOffer {
                supplier: supplier_index,
                unit_cost_excl_vat: decimal(cost_cents),
                currency: supplier.currency,
                moq: *moq_choices.choose(self.rng).expect("non-empty"),
                lead_time_days: self.rng.random_range(lead_min..=lead_max),
                valid_from: start_of_day(as_of - self.rng.random_range(0..90 * MILLIS_PER_DAY)),
                valid_to: end_of_day(
                    as_of
                        + self
                            .rng
                            .random_range(30 * MILLIS_PER_DAY..365 * MILLIS_PER_DAY),
                ),
            });
        }
        // Odoo's standard price: the buyers' average landed purchase cost, a little off the
        // current price lists because it is updated by hand.
        let average = eur_costs.iter().sum::<f64>() / eur_costs.len() as f64;
        let standard_cost = round_cents(jitter(self.rng, average, 0.03)).max(1);
        (offers, decimal(standard_cost))
    }
}

fn to_i32(value: i64) -> i32 {
    i32::try_from(value).expect("sizes and weights fit in i32")
}

fn category_code(category: Category) -> &'static str {
    match category {
        Category::Computers => "INF",
        Category::Tv => "TVV",
        Category::Phones => "TEL",
        Category::ConsumerElectronics => "HTC",
        Category::LargeAppliances => "GEM",
        Category::SmallAppliances => "PEM",
        Category::VideoGameConsoles => "CSL",
        Category::VideoGames => "JVI",
        Category::Books => "LIV",
        Category::Accessories => "ACC",
        Category::Diy => "BRI",
        Category::Furniture => "MEU",
        Category::Other => "DIV",
    }
}

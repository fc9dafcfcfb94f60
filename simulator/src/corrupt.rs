//! Corrupt records, each built from the live market state so that exactly one rule of the
//! quality gate fails — the one whose reason code tags it. The gate runs identity, currency,
//! time, amounts, cross-field and jump rules in that order and reports the first failure,
//! so every other field of a corrupt record stays as valid as in a good one.
//!
//! Corruption draws only from its own random stream and never writes market state: the
//! last accepted prices, which the next good record is compared against, stay untouched.

use hub_schemas::records::{CostSignal, EpochMillis, OfferSignal, ProductReference, StockSignal};
use rand::Rng;
use rand::seq::IndexedRandom;
use rust_decimal::Decimal;

use crate::gtin::with_wrong_check_digit;
use crate::ids::uuid;
use crate::money::decimal;
use crate::reason;
use crate::simulation::{CorruptRecord, MarketEvent, MarketSimulation, Phase, RecordKind};

/// How many random pages to look at for one with competitors before giving up on a
/// cross-field corruption; most pages have competitors, so this rarely runs out.
const PAGE_ATTEMPTS: usize = 32;

/// Spellings that are not active ISO 4217 codes: a name, a symbol, a withdrawn code, a
/// colloquial code and a pre-euro currency.
const UNKNOWN_CURRENCIES: [&str; 6] = ["EURO", "€", "HRK", "RMB", "US$", "FRF"];

/// Rates a product can wrongly carry: the French rate before 2014, a percentage instead of
/// a fraction, Belgian, German and overseas-department rates.
const ILLEGAL_VAT_RATES: [(i64, u32); 6] = [(196, 3), (20, 0), (21, 2), (19, 2), (85, 3), (7, 2)];

/// Bodies that reach a topic when a producer or proxy misbehaves.
const NOT_AVRO_PAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body><center>\
                             <h1>502 Bad Gateway</h1></center></body></html>";

impl MarketSimulation {
    pub(crate) fn corrupt_event(&mut self) -> MarketEvent {
        let reasons = self.applicable_reasons();
        let reason = *reasons
            .choose(&mut self.corruption_rng)
            .expect("undecodable bytes are always possible");
        let record = self
            .corrupt_record(reason)
            .unwrap_or_else(|| self.undecodable());
        let expected_reason = match &record {
            CorruptRecord::Raw { .. } => reason::UNDECODABLE,
            _ => reason,
        };
        MarketEvent::Corrupt {
            record,
            expected_reason,
        }
    }

    /// Before any signal, only product records exist to corrupt; a price jump needs a
    /// page or price list whose good record was already emitted.
    fn applicable_reasons(&self) -> Vec<&'static str> {
        match self.phase {
            Phase::Products { .. } => vec![
                reason::INVALID_GTIN,
                reason::ILLEGAL_VAT_RATE,
                reason::OBSERVED_IN_FUTURE,
                reason::UNDECODABLE,
            ],
            _ if self.emitted_references() == 0 => reason::ALL
                .into_iter()
                .filter(|&code| code != reason::PRICE_JUMP)
                .collect(),
            _ => reason::ALL.to_vec(),
        }
    }

    /// References whose whole snapshot has been emitted, so every page and price list of
    /// theirs has a last accepted record.
    fn emitted_references(&self) -> usize {
        match self.phase {
            Phase::Products { .. } => 0,
            Phase::Snapshot { reference, .. } => reference,
            Phase::Changes => self.states.len(),
        }
    }

    fn corrupt_record(&mut self, reason: &'static str) -> Option<CorruptRecord> {
        match reason {
            reason::INVALID_GTIN => Some(self.invalid_gtin()),
            reason::PRICE_JUMP => self.price_jump(),
            reason::NEGATIVE_STOCK => Some(self.negative_stock()),
            reason::OBSERVED_IN_FUTURE => Some(self.observed_in_future()),
            reason::BUY_BOX_BELOW_LOWEST => self.buy_box_below_lowest(),
            reason::UNKNOWN_CURRENCY => Some(self.unknown_currency()),
            reason::LANDED_PRICE_MISMATCH => self.landed_price_mismatch(),
            reason::PLACEHOLDER_OFFER => Some(self.placeholder_offer()),
            reason::NON_POSITIVE_PRICE => Some(self.non_positive_price()),
            reason::ILLEGAL_VAT_RATE => Some(self.illegal_vat_rate()),
            _ => Some(self.undecodable()),
        }
    }

    fn random_reference(&mut self) -> usize {
        self.corruption_rng.random_range(0..self.states.len())
    }

    fn random_page(&mut self) -> (usize, usize) {
        let reference = self.random_reference();
        let page = self
            .corruption_rng
            .random_range(0..self.states[reference].markets.len());
        (reference, page)
    }

    /// A page that shows a lowest competing price, needed by the cross-field corruptions.
    fn page_with_competitors(&mut self) -> Option<(usize, usize)> {
        for _ in 0..PAGE_ATTEMPTS {
            let (reference, page) = self.random_page();
            if !self.states[reference].markets[page].competitors.is_empty() {
                return Some((reference, page));
            }
        }
        None
    }

    fn fresh_offer(&mut self, reference: usize, page: usize) -> OfferSignal {
        let request_id = uuid(&mut self.corruption_rng);
        self.offer_signal(reference, page, request_id)
    }

    fn random_offer(&mut self) -> OfferSignal {
        let (reference, page) = self.random_page();
        self.fresh_offer(reference, page)
    }

    fn random_stock(&mut self) -> StockSignal {
        let reference = self.random_reference();
        let lines = self.states[reference].stock_lines();
        let line = *lines
            .choose(&mut self.corruption_rng)
            .expect("ERP line exists");
        let request_id = uuid(&mut self.corruption_rng);
        self.stock_signal(reference, line, request_id)
    }

    /// A cost that is valid now: a supplier line inside its validity window, else the
    /// ERP standard cost, which has none.
    fn random_cost(&mut self) -> CostSignal {
        let reference = self.random_reference();
        let request_id = uuid(&mut self.corruption_rng);
        let now = self.now;
        let valid: Vec<usize> = self.states[reference]
            .supplier_lines
            .iter()
            .enumerate()
            .filter(|(_, line)| line.valid_from <= now && now <= line.valid_to)
            .map(|(index, _)| index)
            .collect();
        match valid.choose(&mut self.corruption_rng) {
            Some(&line) if self.corruption_rng.random_bool(0.7) => {
                self.supplier_cost(reference, line, request_id)
            }
            _ => self.erp_cost(reference, request_id),
        }
    }

    fn random_product(&mut self) -> ProductReference {
        let reference = self.random_reference();
        self.catalogue.references[reference].product.clone()
    }

    /// A well-typed record of any kind the current phase has.
    fn random_record(&mut self) -> Typed {
        let kinds: &[RecordKind] = match self.phase {
            Phase::Products { .. } => &[RecordKind::Product],
            _ => &RecordKind::ALL,
        };
        match *kinds.choose(&mut self.corruption_rng).expect("non-empty") {
            RecordKind::Product => Typed::Product(self.random_product()),
            RecordKind::Offer => Typed::Offer(self.random_offer()),
            RecordKind::Stock => Typed::Stock(self.random_stock()),
            RecordKind::Cost => Typed::Cost(self.random_cost()),
        }
    }

    fn invalid_gtin(&mut self) -> CorruptRecord {
        let mut record = self.random_record();
        let gtin = record.gtin_mut();
        *gtin = with_wrong_check_digit(&mut self.corruption_rng, gtin);
        record.into()
    }

    fn observed_in_future(&mut self) -> CorruptRecord {
        let mut record = self.random_record();
        *record.observed_at_mut() = self.now + self.params.future_skew_ms;
        record.into()
    }

    fn illegal_vat_rate(&mut self) -> CorruptRecord {
        let mut product = self.random_product();
        let &(mantissa, scale) = ILLEGAL_VAT_RATES
            .choose(&mut self.corruption_rng)
            .expect("non-empty");
        product.vat_rate = Decimal::new(mantissa, scale);
        // An ERP re-sync that just wrote the wrong tax on the product.
        product.updated_at = self.now;
        CorruptRecord::Product(product)
    }

    fn negative_stock(&mut self) -> CorruptRecord {
        let mut stock = self.random_stock();
        // An ERP reporting a backorder as negative availability.
        stock.quantity = -self.corruption_rng.random_range(1..=20);
        CorruptRecord::Stock(stock)
    }

    fn unknown_currency(&mut self) -> CorruptRecord {
        let currency = (*UNKNOWN_CURRENCIES
            .choose(&mut self.corruption_rng)
            .expect("non-empty"))
        .to_owned();
        if self.corruption_rng.random_bool(0.5) {
            let mut offer = self.random_offer();
            offer.currency = currency;
            CorruptRecord::Offer(offer)
        } else {
            let mut cost = self.random_cost();
            cost.currency = currency;
            CorruptRecord::Cost(cost)
        }
    }

    /// Cents read as euros: every amount of the last accepted record divided by 100, which
    /// keeps landed = listing + shipping and the buy box above the lowest price, so only
    /// the jump against the previous accepted value fails.
    fn price_jump(&mut self) -> Option<CorruptRecord> {
        let reference = self
            .corruption_rng
            .random_range(0..self.emitted_references().max(1));
        let now = self.now;
        let state = &self.states[reference];
        let cost = state
            .supplier_lines
            .iter()
            .filter(|line| line.valid_from <= now && now <= line.valid_to)
            .find_map(|line| line.last_cost.clone())
            .or_else(|| state.erp.last_cost.clone());
        let offer = state
            .markets
            .choose(&mut self.corruption_rng)
            .and_then(|page| page.last_accepted.clone());
        let request_id = Some(uuid(&mut self.corruption_rng));
        match offer {
            Some(mut offer) if cost.is_none() || self.corruption_rng.random_bool(0.7) => {
                for amount in [
                    &mut offer.our_price_incl_vat,
                    &mut offer.our_shipping_incl_vat,
                    &mut offer.buy_box_price_incl_vat,
                    &mut offer.lowest_listing_price_incl_vat,
                    &mut offer.lowest_shipping_incl_vat,
                    &mut offer.lowest_landed_price_incl_vat,
                ] {
                    *amount = amount.map(|value| value / Decimal::ONE_HUNDRED);
                }
                offer.observed_at = now;
                offer.request_id = request_id;
                Some(CorruptRecord::Offer(offer))
            }
            _ => {
                let mut cost = cost?;
                cost.unit_cost_excl_vat /= Decimal::ONE_HUNDRED;
                cost.observed_at = now;
                cost.request_id = request_id;
                Some(CorruptRecord::Cost(cost))
            }
        }
    }

    /// A connector that read the buy box and the lowest price at different times.
    fn buy_box_below_lowest(&mut self) -> Option<CorruptRecord> {
        let (reference, page) = self.page_with_competitors()?;
        let mut offer = self.fresh_offer(reference, page);
        let lowest = offer.lowest_landed_price_incl_vat?;
        offer.buy_box_price_incl_vat = Some((lowest * Decimal::new(70, 2)).round_dp(2));
        offer.we_own_buy_box = Some(false);
        Some(CorruptRecord::Offer(offer))
    }

    /// A connector that took the landed price of one offer and the shipping of another.
    fn landed_price_mismatch(&mut self) -> Option<CorruptRecord> {
        let (reference, page) = self.page_with_competitors()?;
        let mut offer = self.fresh_offer(reference, page);
        let listing = offer.lowest_listing_price_incl_vat?;
        let shipping = offer.lowest_shipping_incl_vat?;
        offer.lowest_landed_price_incl_vat = Some(if shipping.is_zero() {
            listing + decimal(self.corruption_rng.random_range(299..=1_990))
        } else {
            listing
        });
        Some(CorruptRecord::Offer(offer))
    }

    /// A zero-price placeholder, as Mirakl's P11 returns for inactive offers.
    fn placeholder_offer(&mut self) -> CorruptRecord {
        let mut offer = self.random_offer();
        if offer.lowest_listing_price_incl_vat.is_some() {
            offer.lowest_listing_price_incl_vat = Some(Decimal::ZERO);
            offer.lowest_shipping_incl_vat = Some(Decimal::ZERO);
            offer.lowest_landed_price_incl_vat = Some(Decimal::ZERO);
        } else {
            offer.our_price_incl_vat = Some(Decimal::ZERO);
        }
        CorruptRecord::Offer(offer)
    }

    /// A negative price (a discount column mapped as the price) or a zero unit cost (a
    /// "price on request" line).
    fn non_positive_price(&mut self) -> CorruptRecord {
        if self.corruption_rng.random_bool(0.5) {
            let mut offer = self.random_offer();
            if let Some(price) = offer.our_price_incl_vat {
                offer.our_price_incl_vat = Some(-price);
                return CorruptRecord::Offer(offer);
            }
        }
        let mut cost = self.random_cost();
        cost.unit_cost_excl_vat = Decimal::ZERO;
        CorruptRecord::Cost(cost)
    }

    /// A record serialised as JSON on an Avro topic, or a proxy's error page.
    fn undecodable(&mut self) -> CorruptRecord {
        if self.corruption_rng.random_bool(0.3) {
            let kind = *RecordKind::ALL
                .choose(&mut self.corruption_rng)
                .expect("non-empty");
            let reference = self.random_reference();
            return CorruptRecord::Raw {
                kind,
                key: self.catalogue.references[reference].product.gtin.clone(),
                bytes: NOT_AVRO_PAGE.as_bytes().to_vec(),
            };
        }
        let mut record = self.random_record();
        CorruptRecord::Raw {
            kind: record.kind(),
            key: record.gtin_mut().clone(),
            bytes: record.to_json(),
        }
    }
}

/// A well-typed record about to be corrupted.
enum Typed {
    Product(ProductReference),
    Offer(OfferSignal),
    Stock(StockSignal),
    Cost(CostSignal),
}

impl Typed {
    fn kind(&self) -> RecordKind {
        match self {
            Typed::Product(_) => RecordKind::Product,
            Typed::Offer(_) => RecordKind::Offer,
            Typed::Stock(_) => RecordKind::Stock,
            Typed::Cost(_) => RecordKind::Cost,
        }
    }

    fn gtin_mut(&mut self) -> &mut String {
        match self {
            Typed::Product(product) => &mut product.gtin,
            Typed::Offer(offer) => &mut offer.gtin,
            Typed::Stock(stock) => &mut stock.gtin,
            Typed::Cost(cost) => &mut cost.gtin,
        }
    }

    /// The time the gate bounds by "now": `updated_at` for a product reference.
    fn observed_at_mut(&mut self) -> &mut EpochMillis {
        match self {
            Typed::Product(product) => &mut product.updated_at,
            Typed::Offer(offer) => &mut offer.observed_at,
            Typed::Stock(stock) => &mut stock.observed_at,
            Typed::Cost(cost) => &mut cost.observed_at,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        match self {
            Typed::Product(product) => serde_json::to_vec(product),
            Typed::Offer(offer) => serde_json::to_vec(offer),
            Typed::Stock(stock) => serde_json::to_vec(stock),
            Typed::Cost(cost) => serde_json::to_vec(cost),
        }
        .expect("records serialise to JSON")
    }
}

impl From<Typed> for CorruptRecord {
    fn from(record: Typed) -> Self {
        match record {
            Typed::Product(product) => CorruptRecord::Product(product),
            Typed::Offer(offer) => CorruptRecord::Offer(offer),
            Typed::Stock(stock) => CorruptRecord::Stock(stock),
            Typed::Cost(cost) => CorruptRecord::Cost(cost),
        }
    }
}

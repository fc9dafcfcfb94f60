//! One product page on one channel: our offer, the competitors', the buy box and the sales
//! rank, and the moves that change them. Amounts are integer cents including VAT.

use hub_core::channel::Channel;
use hub_schemas::records::{EpochMillis, OfferSignal};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::money::{decimal, jitter, round_cents};

/// Prices stay within these bounds of the page's base price, in percent: enough room for
/// markdowns and price wars, far from the x8 moves the quality gate treats as unit errors.
const FLOOR_PERCENT: i64 = 55;
const CEILING_PERCENT: i64 = 160;

/// Buy box algorithms favour fulfilment by Amazon: an FBA offer competes as if it were 2%
/// cheaper.
const FBA_SCORE_PERCENT: i64 = 98;

/// How far above the best offer a rotation may hand the buy box, in percent of its score.
const ROTATION_MARGIN_PERCENT: i64 = 105;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offer {
    pub listing: i64,
    pub shipping: i64,
    pub fba: bool,
}

impl Offer {
    pub(crate) fn landed(self) -> i64 {
        self.listing + self.shipping
    }

    fn score(self) -> i64 {
        self.landed() * if self.fba { FBA_SCORE_PERCENT } else { 100 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuyBox {
    /// Suppressed: the marketplace features no offer.
    Nobody,
    Us,
    Competitor(u32),
}

/// What a shipment of this weight costs the buyer, or 0 when the seller offers delivery.
pub(crate) fn shipping_cents<R: Rng>(rng: &mut R, weight_g: i32) -> i64 {
    let (free_share, fees): (f64, &[i64]) = match weight_g {
        ..=2_000 => (0.55, &[299, 399, 499, 599]),
        2_001..=30_000 => (0.35, &[699, 990, 1_490, 1_990]),
        _ => (0.15, &[2_900, 3_900, 4_900, 7_900]),
    };
    if rng.random_bool(free_share) {
        0
    } else {
        *fees.choose(rng).expect("non-empty")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelMarket {
    pub channel: Channel,
    pub marketplace_category: &'static str,
    /// This channel's going price for the reference.
    pub base: i64,
    pub weight_g: i32,
    pub ours: Option<Offer>,
    /// Whether our offer, when we list one, ships from FBA.
    pub our_fba: bool,
    pub competitors: Vec<(u32, Offer)>,
    pub buy_box: BuyBox,
    pub suppressed: bool,
    /// Amazon publishes sales ranks; the other channels do not.
    pub sales_rank: Option<i64>,
    /// Until when competitors undercut each other on this page.
    pub war_until: EpochMillis,
    next_seller: u32,
    /// The last offer signal emitted for this page as a good record: what the quality gate
    /// holds as the previous accepted prices.
    pub last_accepted: Option<OfferSignal>,
}

impl ChannelMarket {
    pub(crate) fn open<R: Rng>(
        rng: &mut R,
        channel: Channel,
        marketplace_category: &'static str,
        market_price: i64,
        weight_g: i32,
        we_sell: bool,
        our_fba: bool,
    ) -> ChannelMarket {
        let (level, max_competitors) = match channel {
            Channel::Amazon => (1.0, 12.0),
            Channel::Cdiscount => (0.98, 10.0),
            Channel::FnacDarty => (1.01, 6.0),
            Channel::Mirakl => (1.0, 4.0),
        };
        let base = round_cents(jitter(rng, market_price as f64 * level, 0.02)).max(1);
        let mut market = ChannelMarket {
            channel,
            marketplace_category,
            base,
            weight_g,
            ours: None,
            our_fba,
            competitors: Vec::new(),
            buy_box: BuyBox::Nobody,
            suppressed: rng.random_bool(0.03),
            sales_rank: (channel == Channel::Amazon).then(|| {
                let draw: f64 = rng.random();
                1 + round_cents(draw * draw * 500_000.0)
            }),
            war_until: 0,
            next_seller: 1,
            last_accepted: None,
        };
        if we_sell {
            market.ours = Some(market.our_new_offer(rng));
        }
        let draw: f64 = rng.random();
        let mut competitors = round_cents(draw * draw * max_competitors);
        if !we_sell {
            competitors = competitors.max(1);
        }
        for _ in 0..competitors {
            market.add_competitor(rng);
        }
        market.recompute_buy_box();
        market
    }

    fn clamp(&self, cents: i64) -> i64 {
        cents.clamp(
            (self.base * FLOOR_PERCENT / 100).max(1),
            self.base * CEILING_PERCENT / 100,
        )
    }

    fn scaled(&self, factor: f64) -> i64 {
        self.clamp(round_cents(self.base as f64 * factor))
    }

    fn our_new_offer<R: Rng>(&self, rng: &mut R) -> Offer {
        Offer {
            listing: self.scaled(0.96 + 0.10 * rng.random::<f64>()),
            shipping: if self.our_fba {
                0
            } else {
                shipping_cents(rng, self.weight_g)
            },
            fba: self.our_fba,
        }
    }

    pub(crate) fn add_competitor<R: Rng>(&mut self, rng: &mut R) {
        let fba = self.channel == Channel::Amazon && rng.random_bool(0.35);
        let offer = Offer {
            listing: self.scaled(0.93 + 0.17 * rng.random::<f64>()),
            shipping: if fba {
                0
            } else {
                shipping_cents(rng, self.weight_g)
            },
            fba,
        };
        self.competitors.push((self.next_seller, offer));
        self.next_seller += 1;
    }

    /// The lowest competing offer by landed price (then listing price): ours never counts.
    fn lowest(&self) -> Option<Offer> {
        self.competitors
            .iter()
            .map(|&(_, offer)| offer)
            .min_by_key(|offer| (offer.landed(), offer.listing))
    }

    fn candidates(&self) -> impl Iterator<Item = (BuyBox, Offer)> + '_ {
        self.ours
            .map(|offer| (BuyBox::Us, offer))
            .into_iter()
            .chain(
                self.competitors
                    .iter()
                    .map(|&(seller, offer)| (BuyBox::Competitor(seller), offer)),
            )
    }

    fn offer_of(&self, owner: BuyBox) -> Option<Offer> {
        self.candidates()
            .find(|&(candidate, _)| candidate == owner)
            .map(|(_, offer)| offer)
    }

    /// The marketplace's own choice: the best score wins, ties go to the earliest offer.
    pub(crate) fn recompute_buy_box(&mut self) {
        self.buy_box = if self.suppressed {
            BuyBox::Nobody
        } else {
            self.candidates()
                .min_by_key(|&(_, offer)| offer.score())
                .map_or(BuyBox::Nobody, |(owner, _)| owner)
        };
    }

    /// Buy box algorithms rotate the featured offer among sellers close to the best one; a
    /// page may also lose or regain its buy box.
    pub(crate) fn rotate_buy_box<R: Rng>(&mut self, rng: &mut R) {
        if rng.random_bool(0.1) {
            self.suppressed = !self.suppressed;
            self.recompute_buy_box();
            return;
        }
        let Some(best) = self.candidates().map(|(_, offer)| offer.score()).min() else {
            return;
        };
        let current = self.buy_box;
        let close: Vec<BuyBox> = self
            .candidates()
            .filter(|&(owner, offer)| {
                owner != current && offer.score() * 100 <= best * ROTATION_MARGIN_PERCENT
            })
            .map(|(owner, _)| owner)
            .collect();
        if !self.suppressed
            && let Some(&owner) = close.choose(rng)
        {
            self.buy_box = owner;
        }
    }

    pub(crate) fn at_war(&self, now: EpochMillis) -> bool {
        now < self.war_until
    }

    /// One competitor moves its price: a small drift pulled back towards the base price, or
    /// during a price war an undercut of the cheapest offer on the page.
    pub(crate) fn reprice_competitor<R: Rng>(&mut self, rng: &mut R, now: EpochMillis) {
        if self.competitors.is_empty() {
            self.add_competitor(rng);
            self.recompute_buy_box();
            return;
        }
        let index = rng.random_range(0..self.competitors.len());
        let current = self.competitors[index].1.listing;
        let target = if self.at_war(now) {
            let cheapest = self
                .candidates()
                .map(|(_, offer)| offer.listing)
                .min()
                .unwrap_or(current);
            round_cents(cheapest as f64 * (0.985 + 0.014 * rng.random::<f64>()))
        } else {
            let ratio = current as f64 / self.base as f64;
            let pull = if ratio > 1.1 {
                -0.02
            } else if ratio < 0.9 {
                0.02
            } else {
                0.0
            };
            round_cents(current as f64 * (1.0 + pull + 0.06 * (rng.random::<f64>() - 0.5)))
        };
        self.competitors[index].1.listing = self.clamp(target);
        self.recompute_buy_box();
    }

    /// Our repricer: follow the featured price a cent below, within 85%..115% of the base
    /// price; start selling when we had no offer; now and then withdraw it.
    pub(crate) fn reprice_ours<R: Rng>(&mut self, rng: &mut R) {
        match self.ours {
            None => self.ours = Some(self.our_new_offer(rng)),
            Some(_) if !self.competitors.is_empty() && rng.random_bool(0.05) => self.ours = None,
            Some(mut offer) => {
                let featured = self
                    .offer_of(self.buy_box)
                    .or(self.lowest())
                    .map_or(offer.landed(), Offer::landed);
                let wanted = featured - 1 - offer.shipping;
                let bounded = wanted.clamp(self.base * 85 / 100, self.base * 115 / 100);
                offer.listing = self.clamp(bounded);
                self.ours = Some(offer);
            }
        }
        self.recompute_buy_box();
    }

    /// A seller lists or withdraws an offer; the page always keeps at least one offer.
    pub(crate) fn competitor_enters_or_leaves<R: Rng>(&mut self, rng: &mut R) {
        let can_leave =
            self.competitors.len() > 1 || (self.competitors.len() == 1 && self.ours.is_some());
        if can_leave && (self.competitors.len() >= 15 || rng.random_bool(0.5)) {
            let index = rng.random_range(0..self.competitors.len());
            self.competitors.remove(index);
        } else {
            self.add_competitor(rng);
        }
        self.recompute_buy_box();
    }

    pub(crate) fn drift_sales_rank<R: Rng>(&mut self, rng: &mut R) {
        if let Some(rank) = self.sales_rank {
            let moved = round_cents(rank as f64 * (0.8 + 0.45 * rng.random::<f64>()));
            self.sales_rank = Some(moved.clamp(1, 3_000_000));
        }
    }

    /// The page as the channel's API reports it, in euros including VAT.
    pub(crate) fn signal(
        &self,
        gtin: &str,
        source: &str,
        request_id: String,
        observed_at: EpochMillis,
    ) -> OfferSignal {
        let lowest = self.lowest();
        let offer_count = self.competitors.len() + usize::from(self.ours.is_some());
        OfferSignal {
            gtin: gtin.to_owned(),
            channel: self.channel.key().to_owned(),
            currency: "EUR".to_owned(),
            our_price_incl_vat: self.ours.map(|offer| decimal(offer.listing)),
            our_shipping_incl_vat: self.ours.map(|offer| decimal(offer.shipping)),
            buy_box_price_incl_vat: self
                .offer_of(self.buy_box)
                .map(|offer| decimal(offer.landed())),
            we_own_buy_box: Some(self.buy_box == BuyBox::Us),
            lowest_listing_price_incl_vat: lowest.map(|offer| decimal(offer.listing)),
            lowest_shipping_incl_vat: lowest.map(|offer| decimal(offer.shipping)),
            lowest_landed_price_incl_vat: lowest.map(|offer| decimal(offer.landed())),
            offer_count: Some(i32::try_from(offer_count).expect("a page has few offers")),
            sales_rank: self.sales_rank,
            marketplace_category: Some(self.marketplace_category.to_owned()),
            source: source.to_owned(),
            request_id: Some(request_id),
            observed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn market(rng: &mut ChaCha8Rng, we_sell: bool) -> ChannelMarket {
        ChannelMarket::open(
            rng,
            Channel::Amazon,
            "High-Tech",
            49_999,
            900,
            we_sell,
            false,
        )
    }

    #[test]
    fn a_page_without_our_offer_has_a_competitor() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let page = market(&mut rng, false);
            assert!(!page.competitors.is_empty());
            assert!(page.ours.is_none());
        }
    }

    #[test]
    fn buy_box_owner_is_the_best_scored_offer() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut page = market(&mut rng, true);
        page.suppressed = false;
        page.ours = Some(Offer {
            listing: 40_000,
            shipping: 0,
            fba: false,
        });
        page.competitors = vec![
            (
                1,
                Offer {
                    listing: 40_500,
                    shipping: 0,
                    fba: true,
                },
            ),
            (
                2,
                Offer {
                    listing: 39_000,
                    shipping: 2_000,
                    fba: false,
                },
            ),
        ];
        page.recompute_buy_box();
        // 40,500 x 0.98 = 39,690 beats our 40,000 and seller 2's landed 41,000.
        assert_eq!(page.buy_box, BuyBox::Competitor(1));
        let signal = page.signal("4006381333931", "amazon.getItemOffers", "id".to_owned(), 0);
        assert_eq!(signal.buy_box_price_incl_vat, Some(decimal(40_500)));
        assert_eq!(signal.lowest_landed_price_incl_vat, Some(decimal(40_500)));
        assert_eq!(signal.offer_count, Some(3));
        assert_eq!(signal.we_own_buy_box, Some(false));
    }

    #[test]
    fn prices_stay_within_bounds_through_long_price_wars() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut page = market(&mut rng, true);
        page.war_until = EpochMillis::MAX;
        for _ in 0..5_000 {
            page.reprice_competitor(&mut rng, 0);
            page.reprice_ours(&mut rng);
            page.competitor_enters_or_leaves(&mut rng);
            for (_, offer) in page.candidates() {
                assert!(offer.listing >= page.base * FLOOR_PERCENT / 100);
                assert!(offer.listing <= page.base * CEILING_PERCENT / 100);
            }
            assert!(!page.competitors.is_empty() || page.ours.is_some());
        }
    }
}

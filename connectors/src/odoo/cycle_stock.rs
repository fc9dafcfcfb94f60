//! The stock levels one poll cycle has handed over, so that a level the cycle reads again
//! unchanged is not handed over again.
//!
//! A cycle reads a product's stock once with its product row (when the row was written) and
//! once more for each quant or move page that names it. From empty cursors every pass names
//! every product with a quant or a move, and in steady state one stock change writes both a
//! quant and a move: without this memory the first cycle hands each product's level over
//! two or three times, identical but for the request that read it, and every copy makes the
//! hub score the reference again on every channel. A level that differs from the last one
//! the cycle handed over for its line is a change, and goes out.
//!
//! Only what the sink accepted is remembered, and only in the process: a restart or a
//! refused page forgets, so the level is handed over again rather than lost, and the
//! cursors keep their meaning. The memory is emptied when a cycle begins: within a cycle a
//! level read again is minutes newer at most, but one the next cycle reads again is handed
//! over with its new observation time.

use std::collections::BTreeMap;

use hub_schemas::records::{StockSignal, StockSource};

use crate::sourced::{SignalRecord, Sourced};

/// Where a stock signal counts: the hub keeps one level per line.
type StockLine = (String, StockSource, Option<String>);

/// What a stock signal says of its line, without the request that read it or when.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StockLevel {
    quantity: i64,
    incoming_quantity: Option<i64>,
    lead_time_days: Option<i32>,
}

fn line_and_level(stock: &StockSignal) -> (StockLine, StockLevel) {
    (
        (
            stock.gtin.clone(),
            stock.stock_source,
            stock.location.clone(),
        ),
        StockLevel {
            quantity: stock.quantity,
            incoming_quantity: stock.incoming_quantity,
            lead_time_days: stock.lead_time_days,
        },
    )
}

/// The levels a page hands over, to [`CycleStock::remember`] once the sink accepted it, and
/// how many stock signals it did not hand over as repeats.
#[derive(Debug, Default)]
#[must_use = "remember the levels once the page is handed over, or they go out again"]
pub(super) struct PageStock {
    levels: Vec<(StockLine, StockLevel)>,
    repeats: usize,
}

impl PageStock {
    /// The stock signals left out of the page because they repeat a level handed over.
    pub(super) fn repeats(&self) -> usize {
        self.repeats
    }
}

/// The last level the current cycle handed over for each stock line.
#[derive(Debug, Default)]
pub(super) struct CycleStock {
    handed_over: BTreeMap<StockLine, StockLevel>,
}

impl CycleStock {
    /// A new cycle: every level read is handed over again.
    pub(super) fn begin_cycle(&mut self) {
        self.handed_over.clear();
    }

    /// The page without the stock signals that repeat the last level handed over for their
    /// line (this cycle, or earlier in the page), and the levels it does hand over. Every
    /// other record, rejections included, is kept.
    pub(super) fn without_repeats(&self, page: Vec<Sourced>) -> (Vec<Sourced>, PageStock) {
        let mut in_page: BTreeMap<StockLine, StockLevel> = BTreeMap::new();
        let mut kept = Vec::with_capacity(page.len());
        let mut repeats = 0;
        for record in page {
            if let Sourced::Signal {
                record: SignalRecord::Stock(stock),
                ..
            } = &record
            {
                let (line, level) = line_and_level(stock);
                let last = in_page.get(&line).or_else(|| self.handed_over.get(&line));
                if last == Some(&level) {
                    repeats += 1;
                    continue;
                }
                in_page.insert(line, level);
            }
            kept.push(record);
        }
        let levels = in_page.into_iter().collect();
        (kept, PageStock { levels, repeats })
    }

    /// Records the levels of a page the sink accepted.
    pub(super) fn remember(&mut self, page: PageStock) {
        self.handed_over.extend(page.levels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sourced::Origin;
    use hub_core::reason::ReasonCode;

    fn stock(gtin: &str, quantity: i64, incoming: i64, request_id: &str) -> Sourced {
        let origin = Origin {
            source: "odoo.product.product".to_owned(),
            request_id: Some(request_id.to_owned()),
            observed_at: 1_741_586_407_000,
        };
        Sourced::Signal {
            record: SignalRecord::Stock(StockSignal {
                gtin: gtin.to_owned(),
                stock_source: StockSource::Erp,
                location: Some("WH/Stock".to_owned()),
                quantity,
                incoming_quantity: Some(incoming),
                lead_time_days: None,
                source: origin.source.clone(),
                request_id: origin.request_id.clone(),
                observed_at: origin.observed_at,
            }),
            origin,
        }
    }

    fn rejected() -> Sourced {
        Sourced::Rejected {
            reason: ReasonCode::MappingFailed,
            detail: "stock.quant row does not have Odoo's shape".to_owned(),
            raw: b"{}".to_vec(),
            origin: Origin {
                source: "odoo.stock.quant".to_owned(),
                request_id: None,
                observed_at: 1_741_586_407_000,
            },
        }
    }

    const A: &str = "3760123450018";
    const B: &str = "4006381333931";

    #[test]
    fn a_level_handed_over_is_not_handed_over_again_in_the_cycle_a_changed_one_is() {
        let mut cycle = CycleStock::default();
        let (kept, levels) =
            cycle.without_repeats(vec![stock(A, 5, 0, "r1"), stock(B, 2, 4, "r1")]);
        assert_eq!(kept.len(), 2);
        cycle.remember(levels);

        let page = vec![stock(A, 5, 0, "r2"), stock(B, 2, 6, "r2"), rejected()];
        let (kept, levels) = cycle.without_repeats(page);
        assert_eq!(kept, vec![stock(B, 2, 6, "r2"), rejected()]);
        assert_eq!(levels.repeats(), 1);
        cycle.remember(levels);

        // Back to the level handed over first: a change from the last one, so it goes out.
        let (kept, _) = cycle.without_repeats(vec![stock(B, 2, 4, "r3"), stock(A, 5, 0, "r3")]);
        assert_eq!(kept, vec![stock(B, 2, 4, "r3")]);
    }

    #[test]
    fn levels_not_remembered_go_out_again_and_a_new_cycle_forgets() {
        let mut cycle = CycleStock::default();
        // A page the sink refused: nothing remembered.
        let (_, refused) = cycle.without_repeats(vec![stock(A, 5, 0, "r1")]);
        drop(refused);
        let (kept, levels) = cycle.without_repeats(vec![stock(A, 5, 0, "r2")]);
        assert_eq!(kept, vec![stock(A, 5, 0, "r2")]);
        cycle.remember(levels);

        cycle.begin_cycle();
        let (kept, _) = cycle.without_repeats(vec![stock(A, 5, 0, "r3")]);
        assert_eq!(kept, vec![stock(A, 5, 0, "r3")]);
    }

    #[test]
    fn a_page_repeating_a_level_keeps_its_first() {
        let cycle = CycleStock::default();
        let (kept, PageStock { levels, repeats }) = cycle.without_repeats(vec![
            stock(A, 5, 0, "r1"),
            stock(A, 5, 0, "r1"),
            stock(A, 3, 0, "r1"),
        ]);
        assert_eq!(kept, vec![stock(A, 5, 0, "r1"), stock(A, 3, 0, "r1")]);
        assert_eq!(repeats, 1);
        assert_eq!(levels.len(), 1, "the line's last level: {levels:?}");
        assert_eq!(levels[0].1.quantity, 3);
    }
}

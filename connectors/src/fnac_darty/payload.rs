//! Fnac Darty back-office XML API payloads (namespace `http://www.fnac.com/schemas/mp-dialog.xsd`),
//! as the API writes them.
//!
//! Sources (the API's 2.x documentation as recorded by the `fnapy` client's test assets and
//! quickstart, read 2026-11-28): every service is a `POST <base>/<service>` of a `text/xml`
//! document; `auth` takes `partner_id`, `shop_id` and `key` elements and answers `token`,
//! `validity` and `version`; the other services carry `partner_id`, `shop_id` and `token`
//! as attributes of their root. `offers_query` pages with `results_count` (attribute) and
//! `<paging>` and filters on `<date type="Created|Modified"><min/><max/></date>`; its answer
//! carries `page`, `total_paging`, `nb_total_per_page`, `nb_total_result` and `offer`
//! elements (`offer_fnac_id`, `offer_seller_id` = our SKU, `product_fnac_id`,
//! `product_state`, `price`, `quantity`; no EAN). `pricing_query` takes up to 10
//! `<product_reference type="Ean">` (more is refused with ERR_105) and answers one
//! `pricing_product` per reference with the best `pricing` offers (`price`,
//! `shipping_price`, `offer_status` = product state) or an `error` (ERR_120, not found).
//! A refused call answers `status="ERROR"` (or `FATAL`) with `error` elements.

use quick_xml::escape::escape;
use quick_xml::events::Event;
use serde::Deserialize;

use crate::machinery::Secret;

pub const NAMESPACE: &str = "http://www.fnac.com/schemas/mp-dialog.xsd";
/// `product_state` / `offer_status` of a new item, the only condition the hub compares.
pub const STATE_NEW: &str = "11";
/// The most product references one `pricing_query` accepts.
pub const MAX_PRICING_REFERENCES: usize = 10;
/// Fnac Darty's prices are in euros, VAT included.
pub const CURRENCY: &str = "EUR";

/// The shop's credentials for `auth`; the key prints as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopCredentials {
    pub partner_id: String,
    pub shop_id: String,
    pub key: Secret,
}

/// What every service but `auth` carries on its root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session<'a> {
    pub partner_id: &'a str,
    pub shop_id: &'a str,
    pub token: &'a str,
}

impl Session<'_> {
    fn root_attributes(&self) -> String {
        format!(
            r#"xmlns="{NAMESPACE}" partner_id="{}" shop_id="{}" token="{}""#,
            escape(self.partner_id),
            escape(self.shop_id),
            escape(self.token)
        )
    }
}

pub fn auth_request(credentials: &ShopCredentials) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><auth xmlns="{NAMESPACE}"><partner_id>{}</partner_id><shop_id>{}</shop_id><key>{}</key></auth>"#,
        escape(&credentials.partner_id),
        escape(&credentials.shop_id),
        escape(credentials.key.expose())
    )
}

/// Offers modified in `[min, max]`, RFC 3339 timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifiedBetween {
    pub min: String,
    pub max: String,
}

pub fn offers_query_request(
    session: &Session<'_>,
    results_count: u32,
    paging: u32,
    modified: &ModifiedBetween,
) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><offers_query {} results_count="{results_count}"><paging>{paging}</paging><date type="Modified"><min>{}</min><max>{}</max></date></offers_query>"#,
        session.root_attributes(),
        escape(&modified.min),
        escape(&modified.max)
    )
}

/// A `pricing_query` for at most [`MAX_PRICING_REFERENCES`] EANs.
pub fn pricing_query_request(session: &Session<'_>, eans: &[&str]) -> String {
    let references: String = eans
        .iter()
        .map(|ean| {
            format!(
                r#"<product_reference type="Ean">{}</product_reference>"#,
                escape(*ean)
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><pricing_query {}>{references}</pricing_query>"#,
        session.root_attributes()
    )
}

/// An `error` element of a response.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(rename = "@code", default)]
    pub code: Option<String>,
    #[serde(rename = "@severity", default)]
    pub severity: Option<String>,
    #[serde(rename = "$text", default)]
    pub message: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.code.as_deref().unwrap_or("(no code)"),
            self.message.as_deref().unwrap_or("").trim()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuthResponse {
    #[serde(rename = "@status")]
    pub status: String,
    #[serde(default)]
    pub token: Option<String>,
    /// When the token stops being accepted (RFC 3339).
    #[serde(default)]
    pub validity: Option<String>,
    #[serde(default)]
    pub error: Vec<ApiError>,
}

/// The paging part of an `offers_query_response`; its offers are read one by one with
/// [`top_level_elements`] so each keeps its own bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OffersQueryResponse {
    #[serde(rename = "@status")]
    pub status: String,
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub total_paging: Option<u32>,
    #[serde(default)]
    pub nb_total_per_page: Option<u32>,
    #[serde(default)]
    pub nb_total_result: Option<u32>,
    #[serde(default)]
    pub error: Vec<ApiError>,
}

/// One of our offers. Amounts stay text until mapped, so a bad one is quarantined alone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Offer {
    pub offer_fnac_id: String,
    pub offer_seller_id: String,
    #[serde(default)]
    pub product_fnac_id: Option<String>,
    #[serde(default)]
    pub product_name: Option<String>,
    pub product_state: String,
    pub price: String,
    #[serde(default)]
    pub quantity: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PricingQueryResponse {
    #[serde(rename = "@status")]
    pub status: String,
    #[serde(default)]
    pub error: Vec<ApiError>,
}

/// The best offers on one product page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PricingProduct {
    pub product_reference: ProductReference,
    #[serde(default)]
    pub pricing: Vec<Pricing>,
    #[serde(default)]
    pub error: Option<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ProductReference {
    #[serde(rename = "@type")]
    pub kind: String,
    #[serde(rename = "$text", default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pricing {
    /// `professional` or the seller type Fnac reports.
    #[serde(rename = "@type", default)]
    pub seller_type: Option<String>,
    pub price: String,
    #[serde(default)]
    pub shipping_price: Option<String>,
    #[serde(default)]
    pub offer_status: Option<String>,
}

/// The raw text of every child of the document's root named `name`, in order, each a
/// complete element that can be deserialized or quarantined on its own.
pub fn top_level_elements<'a>(xml: &'a str, name: &str) -> Result<Vec<&'a str>, quick_xml::Error> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut depth = 0usize;
    let mut elements = Vec::new();
    loop {
        let start = position(reader.buffer_position());
        match reader.read_event()? {
            Event::Start(element) => {
                if depth == 1 && element.local_name().as_ref() == name.as_bytes() {
                    reader.read_to_end(element.name())?;
                    elements.push(&xml[start..position(reader.buffer_position())]);
                } else {
                    depth += 1;
                }
            }
            Event::Empty(element)
                if depth == 1 && element.local_name().as_ref() == name.as_bytes() =>
            {
                elements.push(&xml[start..position(reader.buffer_position())]);
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => return Ok(elements),
            _ => {}
        }
    }
}

fn position(offset: u64) -> usize {
    // The reader reads from a `&str` in memory, so every offset fits in `usize`.
    usize::try_from(offset).expect("an in-memory document's offset fits in usize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_of_the_root_are_cut_out_whole() {
        let xml = r#"<?xml version="1.0"?><r xmlns="x"><page>1</page><offer><a><offer>nested</offer></a></offer>
            <offer/><offer><price>2</price></offer></r>"#;
        assert_eq!(
            top_level_elements(xml, "offer").expect("well-formed"),
            vec![
                "<offer><a><offer>nested</offer></a></offer>",
                "<offer/>",
                "<offer><price>2</price></offer>"
            ]
        );
    }

    #[test]
    fn requests_escape_what_they_embed() {
        let session = Session {
            partner_id: "P",
            shop_id: "S",
            token: "a\"<b",
        };
        let xml = pricing_query_request(&session, &["0886971942323"]);
        assert!(xml.contains(r#"token="a&quot;&lt;b""#), "{xml}");
        assert!(xml.contains(r#"<product_reference type="Ean">0886971942323</product_reference>"#));
    }

    #[test]
    fn credentials_never_print_the_key() {
        let credentials = ShopCredentials {
            partner_id: "P".into(),
            shop_id: "S".into(),
            key: Secret::new("secret-key"),
        };
        assert!(!format!("{credentials:?}").contains("secret-key"));
    }
}

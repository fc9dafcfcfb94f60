//! The ANY_OFFER_CHANGED notification, the low-latency path: Amazon pushes it to an SQS queue
//! whenever one of the 20 lowest offers of an item we sell changes, with the same `Summary`
//! and `Offers` as getItemOffers. One message body (the notification JSON) is one element.

use hub_core::reason::{Quarantine, ReasonCode};
use hub_schemas::records::EpochMillis;

use super::catalog::AsinCatalog;
use super::offers::{ProductPage, offer_signal};
use super::payload::Notification;
use super::{Marketplace, parse_iso_millis, rejected, sources, undecodable};
use crate::sourced::{Origin, SignalRecord, Sourced};

const ANY_OFFER_CHANGED: &str = "ANY_OFFER_CHANGED";

/// Reads one message body. A body that is not an ANY_OFFER_CHANGED notification (another
/// type delivered to the same queue, or garbage) is refused with its reason.
pub fn read_notification(message: &[u8]) -> Result<Notification, Quarantine> {
    let notification: Notification = serde_json::from_slice(message)
        .map_err(|error| undecodable("ANY_OFFER_CHANGED message", &error))?;
    if notification.notification_type != ANY_OFFER_CHANGED {
        return Err(Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "notification {} is a {}, not an {ANY_OFFER_CHANGED}: subscribe this queue to \
                 {ANY_OFFER_CHANGED} only",
                notification.metadata.notification_id, notification.notification_type
            ),
        ));
    }
    Ok(notification)
}

/// The origin of a message that could not be read: when we received it.
pub fn unread_origin(received_at: EpochMillis) -> Origin {
    Origin {
        source: sources::ANY_OFFER_CHANGED.to_owned(),
        request_id: None,
        observed_at: received_at,
    }
}

/// Maps a notification read by [`read_notification`] from `message`. It was observed when
/// the offer changed (`TimeOfOfferChange`), not when the queue delivered it; its request id
/// is the `NotificationId`.
pub fn map_notification(
    notification: &Notification,
    message: &[u8],
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    received_at: EpochMillis,
) -> Sourced {
    let change = &notification.payload.any_offer_changed;
    let mut origin = Origin {
        source: sources::ANY_OFFER_CHANGED.to_owned(),
        request_id: Some(notification.metadata.notification_id.clone()),
        observed_at: received_at,
    };
    let observed_at = match parse_iso_millis(
        "OfferChangeTrigger.TimeOfOfferChange",
        &change.trigger.time_of_offer_change,
    ) {
        Ok(observed_at) => observed_at,
        Err(quarantine) => return rejected(quarantine, message, origin),
    };
    origin.observed_at = observed_at;
    if change.trigger.marketplace_id != marketplace.id {
        let quarantine = Quarantine::new(
            ReasonCode::MappingFailed,
            format!(
                "notification {} is for marketplace {}, not {}",
                notification.metadata.notification_id,
                change.trigger.marketplace_id,
                marketplace.id
            ),
        );
        return rejected(quarantine, message, origin);
    }
    let page = ProductPage {
        asin: &change.trigger.asin,
        item_condition: &change.trigger.item_condition,
        summary: &change.summary,
        offers: &change.offers,
        our_seller_id: Some(&change.seller_id),
    };
    match offer_signal(&page, catalog, marketplace, &origin) {
        Ok(offer) => Sourced::Signal {
            record: SignalRecord::Offer(offer),
            origin,
        },
        Err(quarantine) => rejected(quarantine, message, origin),
    }
}

/// Reads and maps one message body.
pub fn map_message(
    message: &[u8],
    catalog: &AsinCatalog,
    marketplace: &Marketplace,
    received_at: EpochMillis,
) -> Sourced {
    match read_notification(message) {
        Ok(notification) => {
            map_notification(&notification, message, catalog, marketplace, received_at)
        }
        Err(quarantine) => rejected(quarantine, message, unread_origin(received_at)),
    }
}

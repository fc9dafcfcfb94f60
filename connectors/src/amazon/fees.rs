//! Fee estimates (getMyFeesEstimateForSKU): what Amazon says it would charge to sell one SKU
//! at a price, fee by fee. The hub keeps them beside the fees actually charged, which differ
//! (a known complaint): there is no signal contract for them yet, so they are read into
//! [`FeeEstimate`] for the caller.

use rust_decimal::Decimal;

use super::payload::{FeeDetail, GetMyFeesEstimateResponse};

/// One fee of an estimate, VAT on the fee separate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeLine {
    /// `ReferralFee`, `FBAFees`, `VariableClosingFee`, `DigitalServicesFee`...
    pub fee_type: String,
    /// The fee after promotions (`FinalFee`).
    pub final_fee: Decimal,
    /// VAT charged on the fee, when Amazon states it.
    pub tax: Option<Decimal>,
}

/// An estimate, all amounts in `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeEstimate {
    /// The SKU or ASIN estimated (`FeesEstimateIdentifier.IdValue`).
    pub id_value: Option<String>,
    pub is_amazon_fulfilled: Option<bool>,
    pub currency: String,
    pub total: Decimal,
    pub lines: Vec<FeeLine>,
    /// `TimeOfFeesEstimation` as Amazon writes it (not ISO 8601: `Mon Oct 28 18:49:32 UTC 2019`).
    pub estimated_at: String,
}

/// Why an answer is not an estimate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeesEstimateError {
    #[error(
        "getMyFeesEstimateForSKU answer is not the documented shape: {0}; report it, the \
         estimate cannot be read"
    )]
    Undecodable(String),
    #[error("getMyFeesEstimateForSKU answered without an estimate: {0}")]
    NoEstimate(String),
    #[error(
        "getMyFeesEstimateForSKU estimate {status}: {error_type} {code} {message} (a \
         ClientError needs the request fixed; a ServiceError can be retried later)"
    )]
    Refused {
        status: String,
        error_type: String,
        code: String,
        message: String,
    },
    #[error("getMyFeesEstimateForSKU estimate mixes currencies: {0}")]
    MixedCurrencies(String),
}

/// Reads a getMyFeesEstimateForSKU answer (HTTP 200).
pub fn read_fees_estimate(body: &[u8]) -> Result<FeeEstimate, FeesEstimateError> {
    let response: GetMyFeesEstimateResponse = serde_json::from_slice(body)
        .map_err(|error| FeesEstimateError::Undecodable(error.to_string()))?;
    let result = response
        .payload
        .ok_or_else(|| {
            let errors: Vec<String> = response
                .errors
                .iter()
                .map(|error| format!("{} {}", error.code, error.message))
                .collect();
            FeesEstimateError::NoEstimate(format!("no payload (errors: {})", errors.join("; ")))
        })?
        .fees_estimate_result;
    if result.status != "Success" {
        let (error_type, code, message) = match result.error {
            Some(error) => (error.error_type, error.code, error.message),
            None => Default::default(),
        };
        return Err(FeesEstimateError::Refused {
            status: result.status,
            error_type,
            code,
            message,
        });
    }
    let estimate = result.fees_estimate.ok_or_else(|| {
        FeesEstimateError::NoEstimate("status Success without FeesEstimate".to_owned())
    })?;
    let total = estimate.total_fees_estimate.ok_or_else(|| {
        FeesEstimateError::NoEstimate("FeesEstimate without TotalFeesEstimate".to_owned())
    })?;
    if let Some(other) = estimate
        .fee_detail_list
        .iter()
        .find(|fee| fee.final_fee.currency_code != total.currency_code)
    {
        return Err(FeesEstimateError::MixedCurrencies(format!(
            "total in {}, {} in {}",
            total.currency_code, other.fee_type, other.final_fee.currency_code
        )));
    }
    let identifier = result.identifier;
    Ok(FeeEstimate {
        id_value: identifier.as_ref().and_then(|id| id.id_value.clone()),
        is_amazon_fulfilled: identifier.as_ref().and_then(|id| id.is_amazon_fulfilled),
        currency: total.currency_code,
        total: total.amount,
        lines: estimate.fee_detail_list.iter().map(fee_line).collect(),
        estimated_at: estimate.time_of_fees_estimation,
    })
}

fn fee_line(fee: &FeeDetail) -> FeeLine {
    FeeLine {
        fee_type: fee.fee_type.clone(),
        final_fee: fee.final_fee.amount,
        tax: fee.tax_amount.as_ref().map(|tax| tax.amount),
    }
}

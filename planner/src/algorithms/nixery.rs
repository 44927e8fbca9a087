//! Placeholder: being written.
use super::{Context, Layers};
use crate::error::PlanError;

/// Nixery's grouping.
pub fn plan(_ctx: &Context<'_>) -> Result<Layers, PlanError> {
    Err(PlanError::MissingInput {
        algorithm: "nixery".into(),
        what: "an implementation".into(),
    })
}

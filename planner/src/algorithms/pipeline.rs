//! Placeholder: being written.
use super::{Context, Layers};
use crate::error::PlanError;

/// nixpkgs layeringPipeline.
pub fn plan(_ctx: &Context<'_>) -> Result<Layers, PlanError> {
    Err(PlanError::MissingInput {
        algorithm: "pipeline".into(),
        what: "an implementation".into(),
    })
}

//! The HTTP side of `strata serve`: the JSON API (`api`).

pub mod api;
mod api_error;

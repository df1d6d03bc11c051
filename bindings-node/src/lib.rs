//! Node bindings for oddsight: an N-API addon built with napi-rs.
//!
//! Thin by design: every function converts its arguments, calls the Rust library, and converts
//! back; errors become thrown `Error`s whose `code` is the Rust error's `code()` (the names of
//! the Python exception classes). The JavaScript package around it (`index.js`, `index.mjs`,
//! the generated `index.d.ts`) is in this folder; see its README.

pub mod detector;
pub mod error;
pub mod evaluate;
mod input;
pub mod investigate;
mod json;
pub mod monitor;
pub mod timestamps;
pub mod verdict;

use napi_derive::napi;

/// Every `code` an oddsight error can carry (the names of the Python exception classes); the
/// package also exports it as the constant `ERROR_CODES`.
#[napi(ts_return_type = "ErrorCode[]")]
pub fn error_codes() -> Vec<&'static str> {
    error::CODES.to_vec()
}

/// The version of the oddsight library inside this addon.
#[napi]
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

//! Python bindings for oddsight: the native half (`oddsight._oddsight`) of the `oddsight`
//! package. No algorithm lives here: each function converts its inputs (numpy arrays read in
//! place), calls the Rust library, converts back and maps errors to the exception hierarchy
//! of `oddsight._errors`. Batch work runs with the GIL released, and every object guards its
//! state with a lock, so one object can be shared between threads.
//!
//! The Python package, its stubs and its tests live beside this crate (`python/`, `tests/`);
//! build it with maturin (see the README).

mod convert;
mod detector;
mod errors;
#[cfg(test)]
mod fixtures;
mod investigate;
mod monitor;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _oddsight(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_SPEC", oddsight_detectors::DEFAULT_SPEC)?;
    m.add("ERROR_CODES", errors::CODES.to_vec())?;
    m.add_class::<detector::PyDetector>()?;
    m.add_class::<detector::PyVerdict>()?;
    m.add_class::<monitor::PyMonitor>()?;
    m.add_function(wrap_pyfunction!(detector::score, m)?)?;
    m.add_function(wrap_pyfunction!(detector::parse_timestamps, m)?)?;
    m.add_function(wrap_pyfunction!(detector::parse_timestamp, m)?)?;
    m.add_function(wrap_pyfunction!(monitor::analyze_batch, m)?)?;
    m.add_class::<investigate::PyInvestigation>()?;
    m.add_function(wrap_pyfunction!(investigate::investigate, m)?)?;
    m.add_function(wrap_pyfunction!(investigate::load_case, m)?)?;
    Ok(())
}

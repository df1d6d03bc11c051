//! python bindings for oddsight (being written).

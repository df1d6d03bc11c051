//! Evaluation: NAB-style scoring and the synthetic efficacy suite (being written).

//! mirror-model

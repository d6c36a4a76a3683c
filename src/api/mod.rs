//! The LocustTest API: versions, conversion, validation and the CRD.
pub mod conversion;
pub mod crd;
pub mod defaults;
pub mod names;
pub mod quantity;
pub mod status;
pub mod thresholds;
pub mod v1;
pub mod v2;
pub mod validation;

//! The LocustTest API: versions, conversion, validation and the CRD.
pub mod crd;
pub mod names;
pub mod v1;
pub mod v2;

//! The LocustTest API: versions, conversion, validation and the CRD; the LocustTestSchedule
//! API and its cron patterns.
pub mod conversion;
pub mod crd;
pub mod cron;
pub mod defaults;
pub mod names;
pub mod quantity;
pub mod schedule;
pub mod schedule_crd;
pub mod status;
pub mod text;
pub mod thresholds;
pub mod v1;
pub mod v2;
pub mod validation;

//! Offline validation of LocustTest manifests with the rules the API server enforces.

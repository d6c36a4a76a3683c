//! Conversion between locust.io/v1 and locust.io/v2 (the hub). Pure functions.

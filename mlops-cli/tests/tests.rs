//! The `mlops` command-line tool, run as a user runs it: one test binary (one link) for
//! every command group. Tests that need services are in `service.rs`.

mod util;

mod basics;
mod contract;
mod damage;
mod data_steps;
mod datasets;
mod drift;
mod lifecycle;
mod migration;
mod models;
mod monitor;
mod runs;
mod serve;
mod stale;
mod taxi_fare;

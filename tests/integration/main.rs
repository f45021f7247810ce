//! One test binary that drives the real `signpostd` (and peers) over the
//! network on loopback, as `dig` would.

#![allow(unreachable_pub, dead_code)]

mod aliases;
mod basics;
mod common;
mod ctl;
mod differential;
mod dnssec;
mod health;
mod hostile;
mod logs;
mod metrics;
mod package;
mod policies;
mod privileges;
mod querylog;
mod reload;
mod views;
mod zonecheck;

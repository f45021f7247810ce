//! The DNS protocol types every layer shares, and nothing else: names,
//! type/class/rcode/flag codes and mnemonics, record sets in wire form,
//! who asked, presentation encodings, calendar time and operator-facing
//! diagnostics. This layer imports nothing of the crate.

pub mod client;
pub mod codec;
pub mod diag;
pub mod header;
pub mod name;
pub mod rcode;
pub mod rrset;
pub mod rtype;
pub mod time;

pub use client::{canonical, Client, Transport};
pub use diag::{Diagnostic, Position};
pub use name::{read_name, LowerName, Name, NameError};
pub use rrset::Rrset;

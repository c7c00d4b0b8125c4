//! File access of the provisioner (the only place `std::fs` may appear outside the binaries).

pub mod logfiles;
pub mod pki;
pub mod secrets;

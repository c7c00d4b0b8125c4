//! The testbed: what a run needs of both halves at once, which neither half may own (the device
//! and the provisioner never depend on each other). [`SimNetwork`] puts `amt_sim` devices behind
//! the provisioner's `Connector` on a virtual clock; [`site`] builds the provisioning side of a
//! site from an environment.

pub mod sim_network;
pub mod site;

pub use sim_network::SimNetwork;

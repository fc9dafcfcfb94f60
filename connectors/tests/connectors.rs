//! The connectors' tests as one test binary: each file was its own binary that linked the
//! connectors, the simulator and the HTTP stack once more, which made the fresh test build
//! larger and slower to link. nextest still runs every test in its own process.

mod in_memory;
mod simulated;

mod amazon_contract;
mod amazon_simulator;
mod fnac_darty_contract;
mod fnac_darty_simulator;
mod machinery_cursor_lag;
mod machinery_documented_config;
mod machinery_http;
mod mirakl_contract;
mod mirakl_poll;
mod mirakl_simulator;
mod octopia_contract;
mod octopia_simulator;
mod odoo_contract;
mod odoo_simulator;
mod supplier_feed_contract;
mod supplier_feed_poll;

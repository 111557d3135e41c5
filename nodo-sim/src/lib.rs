//! # nodo-sim
//!
//! A simulator of the pagoPA *Nodo dei Pagamenti* as a PSP channel sees it: the `nodeForPsp`
//! SOAP 1.1 interface (verifyPaymentNotice, `activatePaymentNotice[V2]`,
//! `sendPaymentOutcome[V2]`) behaving as the SANP specifies, in front of simulated creditors.
//! No open-source Nodo simulator exists; PSP integrators otherwise need pagoPA's UAT
//! environment to test anything.
//!
//! - [`nodo`]: the state machine, pure (time and token generation injected);
//! - [`catalogue`] and [`demo`]: the creditors' debt positions, from a file or generated for the
//!   121 comuni of the Città metropolitana di Roma Capitale;
//! - [`scenario`]: a test creditor whose notice numbers select its behaviour (unreachable,
//!   timeout, expired, annulled, unknown), like `pagopa/pagopa-mock-ec`;
//! - [`faults`]: latency, lost answers and HTTP 5xx per primitive;
//! - [`server`]: the HTTP server (SOAP endpoint and JSON admin API) and [`Simulator`], the
//!   handle to run one in-process;
//! - [`config`]: the configuration file.
//!
//! SOAP messages are read and written by the `pagopa` crate, so every answer is schema-valid.
//!
//! ```no_run
//! # async fn demo() -> Result<(), nodo_sim::StartError> {
//! let mut config = nodo_sim::Config::default();
//! config.listen = "127.0.0.1:0".parse().expect("address");
//! config.seed = Some(1);
//! let sim = nodo_sim::Simulator::start(config).await?;
//! println!("Nodo at {}", sim.endpoint());
//! sim.advance_clock(31 * 60 * 1000); // every token is now expired
//! sim.shutdown().await.ok();
//! # Ok(())
//! # }
//! ```

pub mod catalogue;
pub mod clock;
pub mod config;
pub mod demo;
pub mod faults;
pub mod ids;
pub mod nodo;
pub mod scenario;
pub mod server;
mod shards;

pub use catalogue::{Catalogue, CatalogueError};
pub use config::{ChannelConfig, Config, ConfigError};
pub use faults::{FaultPlan, PrimitiveFaults, Trigger};
pub use nodo::{Nodo, ReceiptRecord, Reply, Settings};
pub use server::{SOAP_PATH, Simulator, StartError};

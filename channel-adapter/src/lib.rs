//! # channel-adapter
//!
//! The server that is our PSP channel towards the pagoPA Nodo dei Pagamenti. Kiosks and counters
//! call its device API (`/v1`, JSON, contract in `channel-api`); it calls the Nodo (SOAP,
//! `pagopa`), and keeps every payment, every Nodo call and every outcome still owed in SQLite.
//!
//! - [`config`]: the TOML configuration with environment overrides, validated at start.
//! - [`api`]: routing, device authentication, error answers, handlers.
//! - [`auth`]: device credentials (issued once, stored hashed).
//! - [`store`]: SQLite (WAL, migrations): devices, payments, the Nodo call journal, the outbox.
//! - [`nodo`]: the [`nodo::NodoClient`] transport seam, its HTTPS implementation, and the
//!   journaling [`nodo::Gateway`].
//! - [`calls`]: the Nodo requests for a stored payment (identical on every resend).
//! - [`outbox`]: the worker that delivers outcomes and offline payments to the Nodo.
//! - [`recovery`]: what start-up does about calls the previous run left open.
//! - [`collaudo`]: the pagoPA certification scenarios, with every raw message saved.
//! - [`fees`]: the citizen's fee per kind of station and tender.
//! - [`metrics`]: Prometheus text at `/metrics`.
//! - [`server`]: plain HTTP on loopback or HTTPS (rustls), graceful shutdown.
//! - [`ambient`]: the injected clock and random source.
//! - [`devices`]: the operator commands behind `channel-adapter device …`.
//! - [`enroll`]: one-time enrollment codes and the per-address limiter of failed attempts.
//! - [`fleet`]: managed device settings (validated, overlaid) and each device's status.
//! - [`users`]: administrators and operators of the admin API, scoped to comuni.
//!
//! The binary (`main.rs`) is the composition root: it reads the configuration, opens the store,
//! wires these together and runs until SIGINT/SIGTERM.

pub mod ambient;
pub mod api;
pub mod auth;
pub mod calls;
pub mod collaudo;
pub mod config;
pub mod devices;
pub mod enroll;
pub mod fees;
pub mod fleet;
pub mod metrics;
pub mod nodo;
pub mod outbox;
pub mod recovery;
pub mod server;
pub mod store;
pub mod users;

use std::sync::Arc;

/// Everything the HTTP application needs, wired together.
pub fn app_state(
    config: Arc<config::Config>,
    store: Arc<store::Store>,
    clock: Arc<dyn ambient::Clock>,
    random: Arc<dyn ambient::Random>,
    nodo: Option<Arc<dyn nodo::NodoClient>>,
) -> api::AppState {
    let metrics = Arc::new(metrics::Metrics::default());
    let gateway = nodo.map(|client| {
        nodo::Gateway::new(
            client,
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&metrics),
            nodo::Deadlines {
                verify: config.nodo.verify_timeout,
                activate: config.nodo.activate_timeout,
                outcome: config.nodo.outcome_timeout,
            },
        )
    });
    let enroll_limiter = enroll::Limiter::new(
        config.enrollment.max_failures_per_address,
        std::time::Duration::from_secs(15 * 60),
    );
    Arc::new(api::Shared {
        enroll_limiter,
        config,
        store,
        clock,
        random,
        metrics,
        gateway,
        outbox_wakeup: Arc::new(outbox::Signal::default()),
    })
}

//! The application builder, shared by `healthsync serve` and the end-to-end tests so both run
//! exactly the same routes, middleware and configuration.
//!
//! # Adding a route
//!
//! [`configure`] is the one route list: the server registers it and the OpenAPI document
//! ([`crate::openapi::document`], hence `healthsync openapi`, `/api-docs/openapi.json`, the
//! Swagger UI and the 405/`Allow` table of [`crate::fallback`]) is collected from it, through
//! `utoipa-actix-web`. To add a route:
//!
//! 1. write the handler with its actix attribute, which alone gives the method and path, and
//!    above it a `#[utoipa::path(...)]` with neither (tag, security, params, request body,
//!    responses); its `///` comment is the operation's description:
//!
//!    ```ignore
//!    /// Lists the rooms of a department.
//!    #[utoipa::path(tag = "departments", params(("id" = Uuid, Path, description = "Department id")),
//!        responses((status = 200, description = "The rooms", body = [RoomDto])))]
//!    #[get("/departments/{id}/rooms")]
//!    pub async fn rooms(/* .. */) -> Result<HttpResponse, ApiError> { /* .. */ }
//!    ```
//!
//! 2. add one line, `.service(departments::rooms)`, to [`configure`], before any `{id}` route
//!    that would also match its path (`/patients/me` before `/patients/{id}`);
//! 3. run `make openapi` and commit `openapi/openapi.json`.
//!
//! The schemas the operation names (`body = RoomDto`, and those a DTO contains) are collected
//! with it: there is no schema list to update. A new tag gets its description in `ApiDoc`'s
//! `tags(..)`.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpResponse, HttpServer};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::errors::extractor_errors;
use crate::request_id;
use crate::routes;
use crate::state::{AppState, Ports};
use domain::clock::Clock;
use domain::medical_records::FileStore;

/// A bound, not yet running, HTTP server.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The background jobs (`jobs`), stopped with the application.
    jobs: Vec<AbortOnDrop>,
}

/// Stops a background job when the application that started it goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Builds an [`Application`] with some ports injected (tests: a manual clock, another file
/// store); what is not injected is built from the configuration, as in `serve`.
pub struct ApplicationBuilder {
    config: Config,
    ports: Ports,
}

impl ApplicationBuilder {
    /// The clock of every use case (and so of the background jobs' steps).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.ports.clock = Some(clock);
        self
    }

    /// The medical records' file store, instead of the one `FILE_STORE` names.
    pub fn file_store(mut self, files: Arc<dyn FileStore>) -> Self {
        self.ports.file_store = Some(files);
        self
    }

    /// Builds the state and binds `config.http_addr` (port 0 picks a free port).
    pub async fn build(self) -> anyhow::Result<Application> {
        Application::build_with(self.config, self.ports).await
    }
}

impl Application {
    /// Builds the state and binds `config.http_addr` (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::builder(config).build().await
    }

    /// An application with some ports injected: `Application::builder(config).clock(c).build()`.
    pub fn builder(config: Config) -> ApplicationBuilder {
        ApplicationBuilder {
            config,
            ports: Ports::default(),
        }
    }

    async fn build_with(config: Config, ports: Ports) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.http_addr)
            .map_err(|e| anyhow::anyhow!("cannot bind {}: {e}", config.http_addr))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState::build_with(config, ports).await?);
        let server = serve(listener, state.clone())?;
        let jobs = vec![
            AbortOnDrop(crate::jobs::spawn_audit_relay(state.clone())),
            AbortOnDrop(crate::jobs::spawn_slot_generation(state.clone())),
            AbortOnDrop(crate::jobs::spawn_reminders(state.clone())),
            AbortOnDrop(crate::jobs::spawn_overdue_bills(state.clone())),
            AbortOnDrop(crate::jobs::spawn_live_notifications(state.clone())),
            AbortOnDrop(crate::jobs::spawn_analytics_fold(state.clone())),
            AbortOnDrop(crate::jobs::spawn_waitlist(state.clone())),
            AbortOnDrop(crate::jobs::spawn_webhook_relay(state.clone())),
            AbortOnDrop(crate::jobs::spawn_email_relay(state.clone())),
        ];
        Ok(Self {
            port,
            server,
            state,
            jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The server future and a handle that stops it (tests spawn the one and keep the other).
    pub fn into_parts(
        self,
    ) -> (
        impl std::future::Future<Output = std::io::Result<()>>,
        actix_web::dev::ServerHandle,
    ) {
        let handle = self.server.handle();
        let jobs = self.jobs;
        let server = self.server;
        (
            async move {
                let _jobs = jobs;
                server.await
            },
            handle,
        )
    }

    /// Runs until the server is stopped (SIGINT/SIGTERM in `serve`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let _jobs = self.jobs;
        self.server.await
    }
}

/// The one route list: every route of the API, registered with actix and documented in the
/// OpenAPI document by the same line. Literal paths (`/patients/me`) come before `{id}` ones.
pub fn configure(cfg: &mut ServiceConfig) {
    use routes::{
        analytics, appointments, audit, auth, billing, calendar, chat, departments, doctors,
        email_preferences, fhir, health, medical_records, notifications, password_reset, patients,
        prescriptions, schedules, series, time_off, users, waitlist, webhooks,
    };
    cfg.service(analytics::dashboard)
        .service(analytics::dashboard_csv)
        .service(chat::unread)
        .service(chat::socket)
        .service(chat::send)
        .service(chat::history)
        .service(chat::mark_read)
        .service(chat::send_attachment)
        .service(chat::download_attachment)
        .service(health::health)
        .service(health::ready)
        .service(auth::register)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::logout_all)
        .service(auth::sessions)
        .service(auth::end_session)
        .service(auth::me)
        .service(auth::change_password)
        .service(password_reset::forgot_password)
        .service(password_reset::reset_password)
        .service(email_preferences::get)
        .service(email_preferences::update)
        .service(users::create_staff)
        .service(users::get_user)
        .service(users::set_status)
        .service(password_reset::send_password_reset)
        .service(patients::me)
        .service(patients::create)
        .service(patients::list)
        .service(patients::get)
        .service(patients::no_shows)
        .service(patients::update)
        .service(doctors::list)
        .service(doctors::get)
        .service(doctors::update)
        .service(doctors::set_departments)
        .service(calendar::issue)
        .service(calendar::get)
        .service(calendar::revoke)
        .service(calendar::read_feed)
        .service(departments::list)
        .service(departments::get)
        .service(departments::create)
        .service(departments::update)
        .service(schedules::list)
        .service(schedules::create)
        .service(schedules::update)
        .service(schedules::available)
        .service(schedules::booking_window)
        .service(schedules::set_booking_window)
        .service(time_off::create)
        .service(time_off::list)
        .service(time_off::remove)
        .service(waitlist::join)
        .service(waitlist::list)
        .service(waitlist::get)
        .service(waitlist::leave)
        .service(waitlist::accept)
        .service(waitlist::decline)
        .service(appointments::book)
        .service(appointments::list)
        .service(appointments::get)
        .service(appointments::confirm)
        .service(appointments::start)
        .service(appointments::complete)
        .service(appointments::cancel)
        .service(appointments::no_show)
        .service(appointments::reschedule)
        .service(appointments::walk_in)
        .service(series::book)
        .service(series::cancel_following)
        .service(notifications::stream_ticket)
        .service(notifications::stream)
        .service(notifications::list)
        .service(notifications::unread_count)
        .service(notifications::mark_all_read)
        .service(notifications::broadcast)
        .service(notifications::mark_read)
        .service(prescriptions::write)
        .service(prescriptions::for_appointment)
        .service(prescriptions::list)
        .service(prescriptions::get)
        .service(medical_records::upload)
        .service(medical_records::list)
        .service(medical_records::get)
        .service(medical_records::download)
        .service(billing::list)
        .service(billing::get)
        .service(billing::pay)
        .service(billing::refund)
        .service(audit::search)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::get)
        .service(webhooks::update)
        .service(webhooks::remove)
        .service(webhooks::rotate_secret)
        .service(webhooks::deliveries)
        .service(webhooks::redeliver)
        .service(fhir::metadata)
        .service(fhir::search_appointments)
        .service(fhir::read_appointment)
        .service(fhir::search_schedules)
        .service(fhir::read_schedule)
        .service(fhir::search_slots)
        .service(fhir::read_slot);
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    // The document comes from `configure`, the list each worker registers below: built once
    // here, it feeds the 405/`Allow` table and the Swagger UI.
    let openapi = crate::openapi::document();
    let methods = web::Data::new(crate::fallback::MethodTable::from_openapi(&openapi));
    let origins = state.config.cors_origins();
    let server = HttpServer::new(move || {
        let json_limit = state.config.json_body_limit;
        App::new()
            .wrap(middleware::from_fn(crate::rate_limit::middleware))
            // Outside the rate limiter, so a 429 under /fhir is an OperationOutcome too.
            .wrap(middleware::from_fn(routes::fhir::operation_outcomes))
            .wrap(middleware::from_fn(crate::fallback::head_as_get))
            .wrap(middleware::from_fn(
                crate::hardening::no_store_when_authenticated,
            ))
            .wrap(crate::hardening::default_headers())
            .wrap(middleware::from_fn(request_id::middleware))
            .wrap(middleware::Compress::default())
            .wrap(middleware::Condition::new(
                !origins.is_empty(),
                crate::hardening::cors(&origins),
            ))
            .app_data(state.clone())
            .app_data(methods.clone())
            // JSON bodies are read as bytes (extract.rs): JSON_BODY_LIMIT is their limit.
            .app_data(web::PayloadConfig::new(json_limit))
            .app_data(web::PathConfig::default().error_handler(extractor_errors::path))
            .into_utoipa_app()
            .configure(configure)
            .into_app()
            .route(
                "/swagger-ui",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/swagger-ui/"))
                        .finish()
                }),
            )
            .service(
                SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", openapi.clone()),
            )
            .default_service(web::to(crate::fallback::no_route))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

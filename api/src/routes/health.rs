//! `/healthz`: the process is up. `/readyz`: the store answers.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

/// The store answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Ready {
    #[schema(example = "ready")]
    status: &'static str,
    /// Each read model's checkpoint (a log position), by name.
    #[schema(example = json!({"catalog": 42, "bookings": 42, "availability": 42}))]
    projections: BTreeMap<String, i64>,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    responses((status = 200, description = "The process is up", body = Health)),
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The event store answers; with each read model's checkpoint.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    responses(
        (status = 200, description = "The store answers", body = Ready),
        (status = 503, response = crate::openapi::Unavailable),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Ready>, Problem> {
    if state.bus.store().ping().await {
        let projections = state
            .projections
            .checkpoints()
            .into_iter()
            .map(|(p, at)| (p.name().to_string(), at.position))
            .collect();
        Ok(Json(Ready {
            status: "ready",
            projections,
        }))
    } else {
        Err(Problem::unavailable("The event store does not answer."))
    }
}

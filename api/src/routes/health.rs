//! `/healthz`: the process is up. `/readyz`: the store answers.

use crate::problem::Problem;
use crate::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, Problem> {
    if state.bus.store().ping().await {
        let projections: serde_json::Map<String, Value> = state
            .projections
            .checkpoints()
            .into_iter()
            .map(|(p, at)| (p.name().to_string(), json!(at.position)))
            .collect();
        Ok(Json(json!({"status": "ready", "projections": projections})))
    } else {
        Err(Problem::unavailable("The event store does not answer."))
    }
}

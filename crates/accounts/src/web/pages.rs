//! Pages (filled in next).

use axum::Router;
use tram_platform::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}

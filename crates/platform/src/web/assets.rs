//! Static files compiled into the binary, served under `/static/`.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// (name under /static/, content type, bytes).
macro_rules! static_files {
    ($(($name:literal, $mime:expr, $path:literal)),* $(,)?) => {
        &[$(($name, $mime, include_bytes!(concat!("../../static/", $path)))),*]
    };
}

#[rustfmt::skip]
const FILES: &[(&str, &str, &[u8])] = static_files![
    ("app.css", CSS, "app.css"),
    ("app.js", JS, "app.js"),
    ("assistant.js", JS, "assistant.js"),
    ("chat.js", JS, "chat.js"),
    ("chat-find.js", JS, "chat-find.js"),
    ("live.js", JS, "live.js"),
    ("quiet-hours.js", JS, "quiet-hours.js"),
    ("qr-login.js", JS, "qr-login.js"),
    ("approvals.js", JS, "approvals.js"),
    ("approvals-designer.js", JS, "approvals-designer.js"),
    ("approvals-files.js", JS, "approvals-files.js"),
    ("robots.js", JS, "robots.js"),
    ("robots-schedule.js", JS, "robots-schedule.js"),
    ("swagger-init.js", JS, "swagger-init.js"),
    ("htmx.min.js", JS, "vendor/htmx.min.js"),
    ("swagger-ui-bundle.js", JS, "vendor/swagger-ui-bundle.js"),
    ("swagger-ui.css", CSS, "vendor/swagger-ui.css"),
];

pub async fn serve(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, bytes)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

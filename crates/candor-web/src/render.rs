//! The page templates (`templates/`, compiled into the binary) and how a
//! page is rendered: HTML with auto-escaping on, every page extending
//! `base.html`.

use std::sync::LazyLock;

use axum::response::{Html, IntoResponse, Response};
use http::StatusCode;
use minijinja::Environment;

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("fields.html", include_str!("../templates/fields.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("message.html", include_str!("../templates/message.html")),
    (
        "reset_request.html",
        include_str!("../templates/reset_request.html"),
    ),
    (
        "reset_confirm.html",
        include_str!("../templates/reset_confirm.html"),
    ),
    ("sign_in.html", include_str!("../templates/sign_in.html")),
    (
        "change_password.html",
        include_str!("../templates/change_password.html"),
    ),
    (
        "deactivate.html",
        include_str!("../templates/deactivate.html"),
    ),
    (
        "deactivate_confirm.html",
        include_str!("../templates/deactivate_confirm.html"),
    ),
    ("notices.html", include_str!("../templates/notices.html")),
    ("forum.html", include_str!("../templates/forum.html")),
    ("thread.html", include_str!("../templates/thread.html")),
];

static TEMPLATE_ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut environment = Environment::new();
    environment.set_loader(|name| {
        Ok(TEMPLATES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, source)| (*source).to_owned()))
    });
    environment
});

/// Renders `template` with `context`, answering `status`. A template error
/// is logged and becomes a bare 500 page (it is a bug, never the visitor's).
pub fn page(status: StatusCode, template: &str, context: minijinja::Value) -> Response {
    let rendered = TEMPLATE_ENVIRONMENT
        .get_template(template)
        .and_then(|template| template.render(context));
    match rendered {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(template, error = %format!("{error:#}"), "cannot render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><html lang=\"en\"><title>Error</title><h1>Something went wrong</h1></html>"),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for (name, _) in TEMPLATES {
            TEMPLATE_ENVIRONMENT
                .get_template(name)
                .unwrap_or_else(|error| panic!("{name}: {error:#}"));
        }
    }
}

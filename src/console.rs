//! What the web console needs to know about this deployment that no other route says:
//! `GET /api/console/config` (the sign-in buttons to show, the plans for sale, the rate).
//! The console itself is static assets (`build/console`, wrangler.toml `[assets]`).

use serde_json::json;
use worker::Response;

use crate::app::App;
use crate::db::Db;
use crate::error::ApiResult;
use crate::http;

/// Public: OAuth client ids are public by design (they appear in every sign-in redirect).
pub async fn config(app: &App) -> ApiResult<Response> {
    let db = Db::from_env(&app.env)?;
    let plans = db.plans().await?;
    let payments = &app.config.payments;
    http::json(
        200,
        &json!({
            "google_client_id": app.config.google_client_id,
            "yandex_client_id": app.config.yandex_client_id,
            "payments": payments.shop_id.is_some() && payments.secret_key.is_some(),
            "usd_rub_rate": payments.usd_rub_rate,
            "plans": plans,
        }),
    )
}

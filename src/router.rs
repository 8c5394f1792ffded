//! The route table: which worker and which handler serve which method and path. Nothing else
//! lives here.

use worker::{Method, Request, Response};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::workers::{self, Worker};
use crate::{auth, http, limits, pipeline};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    Health,
    StoneModels,
    OpenAiModels,
    OpenAiModel(&'a str),
    Register,
    Login,
    GoogleSignIn,
    YandexSignIn,
    ChangePassword,
    LogoutAll,
    SendCode,
    VerifyEmail,
    CompleteRegistration,
    Me,
    ListKeys,
    CreateKey,
    RevokeKey(&'a str),
    ChatCompletions,
    Messages,
    CountTokens,
    StoneChat,
    AdminCredit(&'a str),
    AdminPlan(&'a str),
    AdminPlanPrice(&'a str),
    AdminUsers,
    AdminCodes,
    AdminUsage,
    /// `GET`/`POST /admin/models`.
    AdminModels,
    /// `PUT`/`DELETE /admin/models/{id}`.
    AdminModel(&'a str),
    /// `POST /admin/models/{id}/aliases`.
    AdminModelAliases(&'a str),
    /// `DELETE /admin/models/{id}/aliases/{alias}`.
    AdminModelAlias(&'a str, &'a str),
    /// `GET /admin/keys`: the health of every provider's key pool.
    AdminKeys,
    Redeem,
    Usage,
    ImageGenerations,
    Upload,
    ListFiles,
    GetFile(&'a str),
    DeleteFile(&'a str),
    Topup,
    YooKassaWebhook,
    BillingHistory,
    PaymentStatus(&'a str),
    StartSession,
    ConsoleConfig,
    EndSession,
    CreateResponse,
    Response(&'a str),
    ResponseInputItems(&'a str),
    Embeddings,
}

/// The routes a path serves, with their methods. An empty list means the path is unknown.
fn routes_for(path: &str) -> Vec<(Method, Route<'_>)> {
    let trimmed = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let segments: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["health"] => vec![(Method::Get, Route::Health)],
        ["api", "models"] => vec![(Method::Get, Route::StoneModels)],
        ["api", "auth", "register"] => vec![(Method::Post, Route::Register)],
        ["api", "auth", "login"] => vec![(Method::Post, Route::Login)],
        ["api", "auth", "google"] => vec![(Method::Post, Route::GoogleSignIn)],
        ["api", "auth", "yandex"] => vec![(Method::Post, Route::YandexSignIn)],
        ["api", "auth", "password"] => vec![(Method::Post, Route::ChangePassword)],
        ["api", "auth", "logout-all"] => vec![(Method::Post, Route::LogoutAll)],
        ["auth", "send-code"] => vec![(Method::Post, Route::SendCode)],
        ["auth", "verify-email"] => vec![(Method::Post, Route::VerifyEmail)],
        ["auth", "complete-registration"] => vec![(Method::Post, Route::CompleteRegistration)],
        ["auth", "me"] => vec![(Method::Get, Route::Me)],
        ["v1", "chat", "completions"] | ["ai", "v1", "chat", "completions"] => {
            vec![(Method::Post, Route::ChatCompletions)]
        }
        ["v1", "messages"] => vec![(Method::Post, Route::Messages)],
        ["v1", "messages", "count_tokens"] => vec![(Method::Post, Route::CountTokens)],
        ["api", "chat"] => vec![(Method::Post, Route::StoneChat)],
        ["api", "chat", "upload"] => vec![(Method::Post, Route::Upload)],
        ["api", "files"] => vec![(Method::Get, Route::ListFiles)],
        ["api", "files", id] if !id.is_empty() => {
            vec![
                (Method::Get, Route::GetFile(id)),
                (Method::Delete, Route::DeleteFile(id)),
            ]
        }
        ["v1", "images", "generations"] | ["ai", "v1", "images", "generations"] => {
            vec![(Method::Post, Route::ImageGenerations)]
        }
        ["api", "billing", "topup"] => vec![(Method::Post, Route::Topup)],
        ["api", "billing", "webhook", "yookassa"] => vec![(Method::Post, Route::YooKassaWebhook)],
        ["api", "billing", "history"] => vec![(Method::Get, Route::BillingHistory)],
        ["api", "billing", "redeem"] => vec![(Method::Post, Route::Redeem)],
        ["api", "usage"] => vec![(Method::Get, Route::Usage)],
        ["admin", "usage"] => vec![(Method::Get, Route::AdminUsage)],
        ["admin", "codes"] => vec![
            (Method::Get, Route::AdminCodes),
            (Method::Post, Route::AdminCodes),
        ],
        ["api", "billing", "payments", id] if !id.is_empty() => vec![(Method::Get, Route::PaymentStatus(id))],
        ["api", "console", "config"] => vec![(Method::Get, Route::ConsoleConfig)],
        ["api", "auth", "session"] => vec![
            (Method::Post, Route::StartSession),
            (Method::Delete, Route::EndSession),
        ],
        ["admin", "users"] => vec![(Method::Get, Route::AdminUsers)],
        ["admin", "keys"] => vec![(Method::Get, Route::AdminKeys)],
        ["admin", "models"] => vec![
            (Method::Get, Route::AdminModels),
            (Method::Post, Route::AdminModels),
        ],
        // Model ids may contain '/': the aliases' parts are found from the end.
        ["admin", "models", _, ..] => {
            let rest = trimmed.trim_start_matches("/admin/models/");
            if let Some((id, alias)) = rest
                .rsplit_once("/aliases/")
                .filter(|(id, a)| !id.is_empty() && !a.is_empty())
            {
                vec![(Method::Delete, Route::AdminModelAlias(id, alias))]
            } else if let Some(id) = rest.strip_suffix("/aliases").filter(|id| !id.is_empty()) {
                vec![(Method::Post, Route::AdminModelAliases(id))]
            } else {
                vec![
                    (Method::Put, Route::AdminModel(rest)),
                    (Method::Delete, Route::AdminModel(rest)),
                ]
            }
        }
        ["admin", "users", id, "credit"] => vec![(Method::Post, Route::AdminCredit(id))],
        ["admin", "users", id, "plan"] => vec![(Method::Put, Route::AdminPlan(id))],
        ["admin", "plans", id] if !id.is_empty() => vec![(Method::Put, Route::AdminPlanPrice(id))],
        ["api", "keys"] => vec![(Method::Get, Route::ListKeys), (Method::Post, Route::CreateKey)],
        ["api", "keys", id] if !id.is_empty() => vec![(Method::Delete, Route::RevokeKey(id))],
        ["v1", "responses"] => vec![(Method::Post, Route::CreateResponse)],
        ["v1", "embeddings"] | ["ai", "v1", "embeddings"] => vec![(Method::Post, Route::Embeddings)],
        ["v1", "responses", id] if !id.is_empty() => vec![
            (Method::Get, Route::Response(id)),
            (Method::Delete, Route::Response(id)),
        ],
        ["v1", "responses", id, "input_items"] if !id.is_empty() => {
            vec![(Method::Get, Route::ResponseInputItems(id))]
        }
        ["v1", "models"] | ["ai", "v1", "models"] => vec![(Method::Get, Route::OpenAiModels)],
        // Ids may contain '/' (`openai/gpt-oss-120b`): the id is the rest of the path.
        ["v1", "models", _, ..] | ["ai", "v1", "models", _, ..] => {
            let id = trimmed
                .trim_start_matches("/ai")
                .trim_start_matches("/v1/models/");
            vec![(Method::Get, Route::OpenAiModel(id))]
        }
        _ => Vec::new(),
    }
}

fn allowed_methods(routes: &[(Method, Route<'_>)]) -> String {
    routes
        .iter()
        .map(|(m, _)| m.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The route for `method` on `path`, or the 404 / 405 that says why there is none.
pub fn resolve<'a>(method: &Method, path: &'a str) -> ApiResult<Route<'a>> {
    let routes = routes_for(path);
    if routes.is_empty() {
        return Err(ApiError::route_not_found(method.as_ref(), path));
    }
    let wanted = if *method == Method::Head {
        Method::Get
    } else {
        method.clone()
    };
    routes
        .iter()
        .find(|(m, _)| *m == wanted)
        .map(|(_, route)| *route)
        .ok_or_else(|| ApiError::method_not_allowed(method.as_ref(), path, &allowed_methods(&routes)))
}

/// Who serves a route: which worker (src/workers.rs), and whether the router authenticates a
/// caller for it (and then adds the rate-limit headers to its answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serving {
    pub worker: Worker,
    pub needs_caller: bool,
}

impl Serving {
    const fn open(worker: Worker) -> Serving {
        Serving {
            worker,
            needs_caller: false,
        }
    }

    const fn authenticated(worker: Worker) -> Serving {
        Serving {
            worker,
            needs_caller: true,
        }
    }
}

impl Route<'_> {
    /// One table, grouped as the handler tables below are. `/health` is answered where it
    /// arrives: the gateway for clients, the account worker for the gateway's deep health check.
    pub fn serving(&self) -> Serving {
        use Worker::{Account, Gateway};
        match self {
            Route::Health => Serving::open(Worker::THIS),
            Route::StoneModels => Serving::open(Gateway),
            Route::OpenAiModels
            | Route::OpenAiModel(_)
            | Route::ChatCompletions
            | Route::StoneChat
            | Route::Messages
            | Route::CountTokens
            | Route::ImageGenerations
            | Route::CreateResponse
            | Route::Response(_)
            | Route::ResponseInputItems(_)
            | Route::Embeddings => Serving::authenticated(Gateway),
            Route::Register
            | Route::Login
            | Route::GoogleSignIn
            | Route::YandexSignIn
            | Route::SendCode
            | Route::VerifyEmail
            | Route::CompleteRegistration
            | Route::AdminCredit(_)
            | Route::AdminPlan(_)
            | Route::AdminPlanPrice(_)
            | Route::AdminUsers
            | Route::AdminCodes
            | Route::AdminUsage
            | Route::AdminModels
            | Route::AdminModel(_)
            | Route::AdminModelAliases(_)
            | Route::AdminModelAlias(..)
            | Route::AdminKeys
            | Route::YooKassaWebhook
            | Route::EndSession
            | Route::ConsoleConfig => Serving::open(Account),
            Route::ChangePassword
            | Route::LogoutAll
            | Route::Me
            | Route::ListKeys
            | Route::CreateKey
            | Route::RevokeKey(_)
            | Route::Upload
            | Route::ListFiles
            | Route::GetFile(_)
            | Route::DeleteFile(_)
            | Route::Topup
            | Route::BillingHistory
            | Route::Redeem
            | Route::Usage
            | Route::PaymentStatus(_)
            | Route::StartSession => Serving::authenticated(Account),
        }
    }

    pub fn needs_caller(&self) -> bool {
        self.serving().needs_caller
    }
}

/// What `handle` gives back: an answer of this worker's own (the entry stamps its request id and
/// CORS headers), or the account worker's, which it has stamped already.
pub enum Answer {
    Own(Response),
    Forwarded(Response),
}

pub async fn handle(req: Request, app: &App) -> ApiResult<Answer> {
    let path = req.path();
    let method = req.method();
    if method == Method::Options {
        let routes = routes_for(&path);
        if routes.is_empty() {
            return Err(ApiError::route_not_found("OPTIONS", &path));
        }
        return Ok(Answer::Own(http::preflight(&allowed_methods(&routes))));
    }
    let route = resolve(&method, &path)?;
    let serving = route.serving();
    match (Worker::THIS, serving.worker) {
        (Worker::Gateway, Worker::Account) => {
            return workers::to_account(req, app).await.map(Answer::Forwarded)
        }
        (Worker::Account, Worker::Gateway) => {
            return Err(ApiError::internal(format!(
                "{method} {path} reached the account worker: only the gateway serves it"
            )))
        }
        _ => {}
    }
    // /health reports configuration problems itself; everything else refuses to run on them.
    if route != Route::Health {
        app.config.check()?;
    }
    if !serving.needs_caller {
        return this_worker::open(route, req, app).await.map(Answer::Own);
    }
    let auth_started = crate::time::now_ms();
    let caller = auth::authenticate(&req, app).await?;
    let caller = &caller;
    let auth_step = format!("auth;dur={}", crate::time::now_ms().saturating_sub(auth_started));
    let answered = this_worker::with_caller(route, req, app, caller).await;
    let mut response = match answered {
        Ok(response) => response,
        Err(mut error) => {
            let existing = error
                .headers
                .iter()
                .position(|(name, _)| *name == "Server-Timing")
                .map(|i| error.headers.remove(i).1);
            let timing = pipeline::timing::prepend(existing, &auth_step);
            return Err(error.with_header("Server-Timing", timing));
        }
    };
    let existing = response.headers().get("Server-Timing").ok().flatten();
    response
        .headers_mut()
        .set("Server-Timing", &pipeline::timing::prepend(existing, &auth_step))?;
    // A metered answer carries the headers of its own admission; any other authenticated answer
    // gets them from a look at the caller's limiter. Errors never wait for one.
    let stamped = response.headers().has("X-RateLimit-Limit").unwrap_or(false);
    if !stamped {
        for (name, value) in limits::headers::peeked(app, caller).await {
            let _ = response.headers_mut().set(name, &value);
        }
    }
    Ok(Answer::Own(response))
}

fn misrouted(route: Route<'_>) -> ApiError {
    ApiError::internal(format!(
        "route table: {route:?} has no handler in the {:?} worker",
        Worker::THIS
    ))
}

// Each build links only its own worker's handlers: `#[cfg]`, not `cfg!`, because a handler that is
// merely named in a dead branch is still compiled in.
#[cfg(feature = "account")]
use account_routes as this_worker;
#[cfg(not(feature = "account"))]
use gateway_routes as this_worker;

#[cfg(not(feature = "account"))]
mod gateway_routes {
    use worker::{Method, Request, Response};

    use super::{misrouted, Route};
    use crate::app::App;
    use crate::auth::Principal;
    use crate::error::ApiResult;
    use crate::surfaces::responses::handlers as responses;
    use crate::{catalog, chat, health, images, surfaces};

    pub async fn open(route: Route<'_>, req: Request, app: &App) -> ApiResult<Response> {
        match route {
            Route::Health => health::check(&req, app).await,
            Route::StoneModels => catalog::routes::handle_stone_list(&req, app).await,
            _ => Err(misrouted(route)),
        }
    }

    pub async fn with_caller(
        route: Route<'_>,
        req: Request,
        app: &App,
        caller: &Principal,
    ) -> ApiResult<Response> {
        match route {
            Route::OpenAiModels => catalog::routes::handle_openai_list(req, app, caller).await,
            Route::OpenAiModel(id) => catalog::routes::handle_openai_get(req, app, caller, id).await,
            Route::ChatCompletions => chat::completions(req, app, caller).await,
            Route::StoneChat => chat::stone_chat(req, app, caller).await,
            Route::Messages => surfaces::messages::handler::messages(req, app, caller).await,
            Route::CountTokens => surfaces::messages::handler::count_tokens(req, app, caller).await,
            Route::ImageGenerations => images::generate(req, app, caller).await,
            Route::CreateResponse => responses::create(req, app, caller).await,
            Route::Response(id) if req.method() == Method::Delete => responses::delete(app, caller, id).await,
            Route::Response(id) => responses::retrieve(app, caller, id).await,
            Route::ResponseInputItems(id) => responses::input_items(req, app, caller, id).await,
            Route::Embeddings => surfaces::embeddings::create(req, app, caller).await,
            _ => Err(misrouted(route)),
        }
    }
}

#[cfg(feature = "account")]
mod account_routes {
    use worker::{Method, Request, Response};

    use super::{misrouted, Route};
    use crate::app::App;
    use crate::auth::Principal;
    use crate::error::ApiResult;
    use crate::{admin, auth, billing, catalog, console, health, payments, uploads};

    pub async fn open(route: Route<'_>, req: Request, app: &App) -> ApiResult<Response> {
        match route {
            Route::Health => health::check(&req, app).await,
            Route::Register => auth::routes::register(req, app).await,
            Route::Login => auth::routes::login(req, app).await,
            Route::GoogleSignIn => auth::oauth::google(req, app).await,
            Route::YandexSignIn => auth::oauth::yandex(req, app).await,
            Route::SendCode => auth::email_code::send_code(req, app).await,
            Route::VerifyEmail => auth::email_code::verify_email(req, app).await,
            Route::CompleteRegistration => auth::email_code::complete_registration(req, app).await,
            Route::AdminCredit(id) => admin::credit(req, app, id).await,
            Route::AdminPlan(id) => admin::set_plan(req, app, id).await,
            Route::AdminPlanPrice(id) => admin::set_plan_price(req, app, id).await,
            Route::AdminUsers => admin::find_users(req, app).await,
            Route::AdminCodes if req.method() == Method::Post => billing::codes::create_batch(req, app).await,
            Route::AdminCodes => billing::codes::list_batches(req, app).await,
            Route::AdminUsage => billing::analytics::everyone(req, app).await,
            Route::AdminModels if req.method() == Method::Post => catalog::admin::add(req, app).await,
            Route::AdminModels => catalog::admin::list(req, app).await,
            Route::AdminModel(id) if req.method() == Method::Delete => {
                catalog::admin::drop_edit(req, app, id).await
            }
            Route::AdminModel(id) => catalog::admin::edit(req, app, id).await,
            Route::AdminModelAliases(id) => catalog::admin::add_alias(req, app, id).await,
            Route::AdminModelAlias(id, alias) => catalog::admin::remove_alias(req, app, id, alias).await,
            Route::AdminKeys => catalog::admin::key_health(req, app).await,
            Route::YooKassaWebhook => payments::webhook(req, app).await,
            Route::EndSession => auth::routes::end_session(&req).await,
            Route::ConsoleConfig => console::config(app).await,
            _ => Err(misrouted(route)),
        }
    }

    pub async fn with_caller(
        route: Route<'_>,
        req: Request,
        app: &App,
        caller: &Principal,
    ) -> ApiResult<Response> {
        match route {
            Route::ChangePassword => auth::routes::change_password(req, app, caller).await,
            Route::LogoutAll => auth::routes::logout_all(app, caller).await,
            Route::Me => auth::routes::me(app, caller).await,
            Route::ListKeys => auth::apikeys::list(app, caller).await,
            Route::CreateKey => auth::apikeys::create(req, app, caller).await,
            Route::RevokeKey(id) => auth::apikeys::revoke(app, caller, id).await,
            Route::Upload => uploads::upload(req, app, caller).await,
            Route::ListFiles => uploads::list(req, app, caller).await,
            Route::GetFile(id) => uploads::get(app, caller, id).await,
            Route::DeleteFile(id) => uploads::delete(app, caller, id).await,
            Route::Topup => payments::topup(req, app, caller).await,
            Route::BillingHistory => billing::ledger::history(req, app, caller).await,
            Route::Redeem => billing::codes::redeem(req, app, caller).await,
            Route::Usage => billing::analytics::mine(req, app, caller).await,
            Route::PaymentStatus(id) => payments::payment_status(app, caller, id).await,
            Route::StartSession => auth::routes::start_session(&req, app, caller).await,
            _ => Err(misrouted(route)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_resolve_with_or_without_a_trailing_slash() {
        assert_eq!(resolve(&Method::Get, "/health").unwrap(), Route::Health);
        assert_eq!(resolve(&Method::Get, "/v1/models/").unwrap(), Route::OpenAiModels);
        assert_eq!(
            resolve(&Method::Get, "/v1/models/gpt-4o").unwrap(),
            Route::OpenAiModel("gpt-4o")
        );
        assert_eq!(
            resolve(&Method::Get, "/ai/v1/models/claude-haiku-4.5").unwrap(),
            Route::OpenAiModel("claude-haiku-4.5")
        );
        assert_eq!(resolve(&Method::Head, "/api/models").unwrap(), Route::StoneModels);
        assert_eq!(
            resolve(&Method::Post, "/api/billing/redeem").unwrap(),
            Route::Redeem
        );
        assert_eq!(resolve(&Method::Get, "/admin/codes").unwrap(), Route::AdminCodes);
        assert_eq!(resolve(&Method::Post, "/admin/codes").unwrap(), Route::AdminCodes);
        assert!(Route::Redeem.needs_caller() && !Route::AdminCodes.needs_caller());
        assert_eq!(resolve(&Method::Get, "/api/usage").unwrap(), Route::Usage);
        assert_eq!(resolve(&Method::Get, "/admin/usage").unwrap(), Route::AdminUsage);
        assert_eq!(
            resolve(&Method::Post, "/admin/models").unwrap(),
            Route::AdminModels
        );
        assert_eq!(
            resolve(&Method::Put, "/admin/models/openai/gpt-oss-120b").unwrap(),
            Route::AdminModel("openai/gpt-oss-120b")
        );
        assert_eq!(
            resolve(&Method::Post, "/admin/models/gpt-4o/aliases").unwrap(),
            Route::AdminModelAliases("gpt-4o")
        );
        assert_eq!(
            resolve(&Method::Delete, "/admin/models/a/b/aliases/fast").unwrap(),
            Route::AdminModelAlias("a/b", "fast")
        );
        assert_eq!(resolve(&Method::Get, "/admin/keys").unwrap(), Route::AdminKeys);
        assert!(Route::Usage.needs_caller() && !Route::AdminUsage.needs_caller());
        assert_eq!(
            resolve(&Method::Put, "/admin/plans/pro").unwrap(),
            Route::AdminPlanPrice("pro")
        );
        assert_eq!(
            resolve(&Method::Post, "/v1/embeddings").unwrap(),
            Route::Embeddings
        );
        assert_eq!(
            resolve(&Method::Post, "/ai/v1/embeddings/").unwrap(),
            Route::Embeddings
        );
    }

    #[test]
    fn embeddings_are_a_post_for_an_authenticated_caller() {
        let error = resolve(&Method::Get, "/v1/embeddings").unwrap_err();
        assert_eq!(error.status(), 405);
        assert_eq!(error.headers, vec![("Allow", "POST".to_owned())]);
        assert!(Route::Embeddings.needs_caller());
    }

    #[test]
    fn the_console_routes_resolve() {
        assert_eq!(resolve(&Method::Get, "/api/usage").unwrap(), Route::Usage);
        assert_eq!(resolve(&Method::Post, "/api/usage").unwrap_err().status(), 405);
        assert_eq!(
            resolve(&Method::Get, "/api/billing/payments/2c5f-1").unwrap(),
            Route::PaymentStatus("2c5f-1")
        );
        assert_eq!(
            resolve(&Method::Post, "/api/auth/session").unwrap(),
            Route::StartSession
        );
        assert_eq!(
            resolve(&Method::Delete, "/api/auth/session").unwrap(),
            Route::EndSession
        );
        assert!(Route::StartSession.needs_caller());
        assert!(!Route::EndSession.needs_caller());
        assert_eq!(
            resolve(&Method::Get, "/api/console/config").unwrap(),
            Route::ConsoleConfig
        );
        assert!(!Route::ConsoleConfig.needs_caller());
        // The console is static assets: the worker serves no `/`.
        assert_eq!(resolve(&Method::Get, "/").unwrap_err().status(), 404);
    }

    #[test]
    fn an_unknown_path_is_404_and_a_wrong_method_is_405_with_allow() {
        let error = resolve(&Method::Get, "/nope").unwrap_err();
        assert_eq!(error.status(), 404);
        let error = resolve(&Method::Post, "/api/models").unwrap_err();
        assert_eq!(error.status(), 405);
        assert_eq!(error.headers, vec![("Allow", "GET".to_owned())]);
        assert_eq!(
            resolve(&Method::Get, "/v1/models/openai/gpt-oss-120b").unwrap(),
            Route::OpenAiModel("openai/gpt-oss-120b")
        );
    }
}

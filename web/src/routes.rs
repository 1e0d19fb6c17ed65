//! The route table: every route of the console and the API is declared once, here (pages
//! and assets) or in `ops::routes` (node operations), with who may call it.
//!
//! An API route is declared by its handler: the handler's `#[utoipa::path(...)]` attribute
//! names the method, path, parameters, request body and answers, and
//! `Table::api` takes `routes!(handler)` (from `utoipa-axum`) with the route's [`Access`].
//! From that one declaration the table derives
//!
//! - the axum route, behind `auth::guard::require_user` unless [`Access::Public`], which
//!   also holds API tokens to the route's [`TokenAccess`] (`api`: read for GET, operate
//!   otherwise; `admin_api`: admin; `session_api`: no token; pages: no token);
//! - the [`RouteInfo`] a test walks to check that every non-public route refuses an
//!   anonymous caller;
//! - the route's operation in the OpenAPI document ([`crate::openapi`]), with the schemas of
//!   its request and answer types derived from the Rust types (`#[derive(ToSchema)]`); a
//!   public operation drops the document's bearer requirement (`security: []`).
//!
//! Pages and static assets (`Table::page`) are routed and walked but not documented.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodFilter, MethodRouter, on};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

use crate::auth::{self, Auth, forms, json};
use crate::state::AppState;
use crate::{
    alert_pages, alert_rules, alerts, alerts_page, api, assets, channels, channels_page, data,
    data_page, detail, gateways, live, manage, openapi, pages, project_pages, projects, prometheus,
    records, tokens, tokens_page,
};
use model::token::Scope;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: login, registration, health, static assets, and the deploy webhook (which
    /// the master authenticates by its signature).
    Public,
    /// A signed-in user (cookie or Bearer token).
    User,
}

/// What an API token needs to call an API route (a console session may call every
/// [`Access::User`] route). API tokens are refused on pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAccess {
    /// `read` for GET and HEAD, `operate` for anything else: node, container, image and
    /// task operations.
    ByMethod,
    /// `admin`: data management and API tokens.
    Admin,
    /// No token may: account steps that act on the person (logout, password, language)
    /// need a console session.
    Never,
}

impl TokenAccess {
    /// The scope a token needs for `method`, `None` when no token may call it.
    pub fn needs(self, method: &Method) -> Option<Scope> {
        match self {
            TokenAccess::ByMethod if matches!(*method, Method::GET | Method::HEAD) => {
                Some(Scope::Read)
            }
            TokenAccess::ByMethod => Some(Scope::Operate),
            TokenAccess::Admin => Some(Scope::Admin),
            TokenAccess::Never => None,
        }
    }
}

/// One entry of the route table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path, with `{name}` parameters as in the router.
    pub path: String,
    /// Who may call it.
    pub access: Access,
    /// The scope an API token needs to call it; `None`: no token may (pages, public
    /// routes, account steps).
    pub token_scope: Option<Scope>,
}

/// The routes declared so far: the router, the table and the OpenAPI document.
pub(crate) struct Table {
    router: Router<AppState>,
    routes: Vec<RouteInfo>,
    openapi: OpenApi,
    /// Guards the [`Access::User`] routes; `None` builds the table and the document only
    /// (the router is then not for serving).
    auth: Option<Arc<Auth>>,
}

impl Table {
    /// An empty table whose user routes pass `auth`'s guard.
    pub(crate) fn new(auth: Option<Arc<Auth>>) -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
            openapi: openapi::base(),
            auth,
        }
    }

    fn guarded(
        &self,
        route: MethodRouter<AppState>,
        access: Access,
        token_scope: Option<Scope>,
    ) -> MethodRouter<AppState> {
        match (&self.auth, access) {
            (Some(auth), Access::User) => route.route_layer(middleware::from_fn_with_state(
                auth::guard::Guard {
                    auth: Arc::clone(auth),
                    token_scope,
                },
                auth::guard::require_user,
            )),
            _ => route,
        }
    }

    /// A page or a static asset: routed and walked, not in the API document.
    pub(crate) fn page<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let Ok(filter) = MethodFilter::try_from(method.clone()) else {
            panic!("{method} {path}: axum cannot route this method");
        };
        let route = self.guarded(on(filter, handler), access, None);
        self.router = self.router.route(path, route);
        self.routes.push(RouteInfo {
            method,
            path: path.to_owned(),
            access,
            token_scope: None,
        });
        self
    }

    /// An API route: `routes!(handler)` of a handler with a `#[utoipa::path]` attribute.
    /// API tokens need `read` for GET and `operate` for other methods
    /// ([`TokenAccess::ByMethod`]).
    pub(crate) fn api(self, access: Access, route: UtoipaMethodRouter<AppState>) -> Self {
        self.api_for(access, TokenAccess::ByMethod, route)
    }

    /// An API route of a signed-in user that API tokens may call only with the `admin`
    /// scope.
    pub(crate) fn admin_api(self, route: UtoipaMethodRouter<AppState>) -> Self {
        self.api_for(Access::User, TokenAccess::Admin, route)
    }

    /// An API route of a signed-in user that needs a console session (no API token).
    pub(crate) fn session_api(self, route: UtoipaMethodRouter<AppState>) -> Self {
        self.api_for(Access::User, TokenAccess::Never, route)
    }

    fn api_for(
        mut self,
        access: Access,
        tokens: TokenAccess,
        (schemas, mut paths, route): UtoipaMethodRouter<AppState>,
    ) -> Self {
        let scope_of = |method: &Method| match access {
            Access::Public => None,
            Access::User => tokens.needs(method),
        };
        // The route's guard asks for the highest scope any of its methods needs.
        let mut guard_scope = Some(Scope::Read);
        for item in paths.paths.values_mut() {
            for (method, _) in operations(item) {
                guard_scope = guard_scope.zip(scope_of(&method)).map(|(a, b)| a.max(b));
            }
        }
        let route = self.guarded(route, access, guard_scope);
        for (path, item) in &mut paths.paths {
            for (method, operation) in operations(item) {
                let token_scope = scope_of(&method);
                if access == Access::Public {
                    operation.security = Some(Vec::new());
                } else {
                    document_scope(operation, token_scope);
                }
                self.routes.push(RouteInfo {
                    method,
                    path: path.clone(),
                    access,
                    token_scope,
                });
            }
            self.router = self.router.route(path, route.clone());
        }
        self.openapi.paths.merge(paths);
        self.openapi
            .components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        self
    }

    /// The router, the route table and the OpenAPI document.
    pub(crate) fn into_parts(self) -> (Router<AppState>, Vec<RouteInfo>, OpenApi) {
        (self.router, self.routes, self.openapi)
    }
}

/// Says in an operation's description what an API token needs to call it.
fn document_scope(operation: &mut Operation, scope: Option<Scope>) {
    let note = match scope {
        Some(scope) => format!("API tokens need the `{scope}` scope."),
        None => "Needs a console session: API tokens cannot call this.".to_owned(),
    };
    operation.description = Some(match operation.description.take() {
        Some(text) if !text.is_empty() => format!("{text}\n\n{note}"),
        _ => note,
    });
}

/// The operations of a path item with their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::POST, &mut item.post),
        (Method::PUT, &mut item.put),
        (Method::DELETE, &mut item.delete),
        (Method::PATCH, &mut item.patch),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|op| (method, op)))
}

/// The body limit of the unauthenticated auth routes ([`auth::AUTH_BODY_LIMIT`]).
fn auth_body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(auth::AUTH_BODY_LIMIT)
}

/// `route` with the auth routes' body limit.
fn body_limited(
    (schemas, paths, route): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, route.layer(auth_body_limit()))
}

/// `route` with the deploy webhook's body limit.
fn webhook_limited(
    (schemas, paths, route): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, route.layer(projects::webhook::body_limit()))
}

/// Every route: pages, the API, the node operations and the static assets.
pub(crate) fn declare(t: Table) -> Table {
    use Access::{Public, User};
    let t = t
        .page(Method::GET, "/login", Public, forms::login_page)
        .page(
            Method::POST,
            "/login",
            Public,
            forms::login_submit.layer(auth_body_limit()),
        )
        .page(Method::GET, "/register", Public, forms::register_page)
        .page(
            Method::POST,
            "/register",
            Public,
            forms::register_submit.layer(auth_body_limit()),
        )
        .api(Public, body_limited(routes!(json::register)))
        .api(Public, body_limited(routes!(json::login)))
        .api(Public, routes!(api::health))
        .api(User, routes!(prometheus::metrics))
        .page(Method::GET, "/", User, pages::index)
        .page(Method::GET, "/slaves", User, pages::slaves)
        .page(Method::GET, "/slaves/{node}", User, detail::page)
        .page(Method::GET, "/docker", User, pages::docker)
        .page(
            Method::GET,
            "/slaves/{node}/processes",
            User,
            manage::processes,
        )
        .page(Method::GET, "/slaves/{node}/ports", User, manage::ports)
        .page(Method::GET, "/slaves/{node}/env", User, manage::env)
        .page(Method::GET, "/slaves/{node}/hosts", User, manage::hosts)
        .page(Method::GET, "/docker/{node}", User, manage::docker)
        .page(Method::GET, "/docker/{node}/images", User, manage::images)
        .page(
            Method::GET,
            "/docker/{node}/networks",
            User,
            manage::networks,
        )
        .page(Method::GET, "/docker/{node}/volumes", User, manage::volumes)
        .page(
            Method::GET,
            "/docker/{node}/containers/{id}",
            User,
            manage::container,
        )
        .page(Method::GET, "/records/tasks", User, manage::tasks)
        .page(Method::GET, "/projects", User, project_pages::list::page)
        .page(
            Method::GET,
            "/projects/new",
            User,
            project_pages::form_page::new,
        )
        .page(
            Method::POST,
            "/projects/new",
            User,
            project_pages::form_page::create,
        )
        .page(
            Method::GET,
            "/projects/{name}",
            User,
            project_pages::detail::page,
        )
        .page(
            Method::GET,
            "/projects/{name}/edit",
            User,
            project_pages::form_page::edit,
        )
        .page(
            Method::POST,
            "/projects/{name}/edit",
            User,
            project_pages::form_page::save,
        )
        .page(
            Method::POST,
            "/projects/{name}/scale",
            User,
            project_pages::actions::scale,
        )
        .page(
            Method::POST,
            "/projects/{name}/pause",
            User,
            project_pages::actions::pause,
        )
        .page(
            Method::POST,
            "/projects/{name}/resume",
            User,
            project_pages::actions::resume,
        )
        .page(
            Method::POST,
            "/projects/{name}/promote",
            User,
            project_pages::actions::promote,
        )
        .page(
            Method::POST,
            "/projects/{name}/rollback",
            User,
            project_pages::actions::rollback,
        )
        .page(
            Method::POST,
            "/projects/{name}/delete",
            User,
            project_pages::actions::delete,
        )
        .page(
            Method::GET,
            "/gateways",
            User,
            project_pages::gateway_pages::list,
        )
        .page(
            Method::GET,
            "/gateways/new",
            User,
            project_pages::gateway_pages::new,
        )
        .page(
            Method::POST,
            "/gateways/new",
            User,
            project_pages::gateway_pages::create,
        )
        .page(
            Method::GET,
            "/gateways/{name}",
            User,
            project_pages::gateway_pages::page,
        )
        .page(
            Method::GET,
            "/gateways/{name}/edit",
            User,
            project_pages::gateway_pages::edit,
        )
        .page(
            Method::POST,
            "/gateways/{name}/edit",
            User,
            project_pages::gateway_pages::save,
        )
        .page(
            Method::POST,
            "/gateways/{name}/delete",
            User,
            project_pages::gateway_pages::delete,
        )
        .page(Method::GET, "/tokens", User, tokens_page::page)
        .page(Method::POST, "/tokens", User, tokens_page::create)
        .page(
            Method::POST,
            "/tokens/{id}/revoke",
            User,
            tokens_page::revoke,
        )
        .page(Method::GET, "/data", User, data_page::page)
        .page(Method::POST, "/data/compact", User, data_page::compact)
        .page(
            Method::POST,
            "/data/compact/cancel",
            User,
            data_page::cancel_compaction,
        )
        .page(Method::GET, "/data/backup", User, data_page::backup)
        .page(Method::POST, "/data/reset", User, data_page::reset)
        .page(Method::GET, "/records", User, records::page)
        .page(Method::GET, "/alerts", User, alerts_page::page)
        .page(Method::GET, "/alerts/channels", User, channels_page::list)
        .page(
            Method::GET,
            "/alerts/channels/new",
            User,
            channels_page::new,
        )
        .page(
            Method::POST,
            "/alerts/channels/new",
            User,
            channels_page::create,
        )
        .page(
            Method::GET,
            "/alerts/channels/{name}/edit",
            User,
            channels_page::edit,
        )
        .page(
            Method::POST,
            "/alerts/channels/{name}/edit",
            User,
            channels_page::save,
        )
        .page(
            Method::POST,
            "/alerts/channels/{name}/delete",
            User,
            channels_page::delete,
        )
        .page(
            Method::POST,
            "/alerts/channels/{name}/test",
            User,
            channels_page::test,
        )
        .page(Method::GET, "/alerts/rules", User, alert_pages::rules::list)
        .page(
            Method::GET,
            "/alerts/rules/new",
            User,
            alert_pages::rules::new,
        )
        .page(
            Method::POST,
            "/alerts/rules/new",
            User,
            alert_pages::rules::create,
        )
        .page(
            Method::GET,
            "/alerts/rules/{id}",
            User,
            alert_pages::rules::edit,
        )
        .page(
            Method::POST,
            "/alerts/rules/{id}",
            User,
            alert_pages::rules::save,
        )
        .page(
            Method::POST,
            "/alerts/rules/{id}/delete",
            User,
            alert_pages::rules::delete,
        )
        .page(
            Method::GET,
            "/alerts/silences",
            User,
            alert_pages::silences::page,
        )
        .page(
            Method::POST,
            "/alerts/silences",
            User,
            alert_pages::silences::create,
        )
        .page(
            Method::POST,
            "/alerts/silences/{id}/delete",
            User,
            alert_pages::silences::delete,
        )
        .page(Method::GET, "/account", User, forms::account_page)
        .page(
            Method::POST,
            "/account/password",
            User,
            forms::password_submit,
        )
        .page(
            Method::POST,
            "/account/language",
            User,
            forms::language_submit,
        )
        .page(Method::POST, "/logout", User, forms::logout_submit)
        .api(User, routes!(api::nodes))
        .api(User, routes!(api::storage))
        .api(User, routes!(api::node))
        .api(User, routes!(live::history))
        .api(User, routes!(live::stream))
        .admin_api(routes!(data::api_compact))
        .admin_api(routes!(data::api_compaction_status))
        .admin_api(routes!(data::api_cancel_compaction))
        .admin_api(routes!(data::api_backup))
        .admin_api(routes!(data::api_reset))
        .admin_api(body_limited(routes!(tokens::create)))
        .admin_api(routes!(tokens::list))
        .admin_api(routes!(tokens::revoke))
        .api(User, routes!(openapi::document))
        .api(User, routes!(records::api))
        .api(User, routes!(alerts::list))
        .api(User, routes!(alerts::events))
        .api(User, routes!(channels::list))
        .api(User, routes!(channels::create))
        .api(User, routes!(channels::get))
        .api(User, routes!(channels::update))
        .api(User, routes!(channels::delete))
        .api(User, routes!(channels::test))
        .api(User, routes!(channels::deliveries))
        .api(User, routes!(alert_rules::list))
        .api(User, routes!(alert_rules::create))
        .api(User, routes!(alert_rules::get))
        .api(User, routes!(alert_rules::update))
        .api(User, routes!(alert_rules::delete))
        .api(User, routes!(alert_rules::silences))
        .api(User, routes!(alert_rules::create_silence))
        .api(User, routes!(alert_rules::delete_silence))
        .api(User, routes!(projects::create))
        .api(User, routes!(projects::list))
        .api(User, routes!(projects::get))
        .api(User, routes!(projects::update))
        .api(User, routes!(projects::delete))
        .api(User, routes!(projects::scale))
        .api(User, routes!(projects::rollback))
        .api(User, routes!(projects::pause))
        .api(User, routes!(projects::resume))
        .api(User, routes!(projects::promote))
        .api(User, routes!(projects::revisions::list))
        .api(User, routes!(projects::events::events))
        .api(Public, webhook_limited(routes!(projects::webhook::deploy)))
        .api(User, routes!(gateways::list))
        .api(User, routes!(gateways::create))
        .api(User, routes!(gateways::update))
        .api(User, routes!(gateways::delete))
        .api(User, routes!(json::me))
        .session_api(routes!(json::logout))
        .session_api(routes!(json::change_password))
        .session_api(routes!(json::set_language));
    let t = crate::ops::routes(t);
    assets::ASSETS.iter().fold(t, |t, (path, _, _)| {
        t.page(Method::GET, path, Public, assets::serve)
    })
}

//! The service traits the console calls, implemented by [`AccountService`]: each method
//! hands over to the service's own method of the same name.

use std::net::IpAddr;
use std::time::Duration;

use model::StoreFailure;
use model::account::{AuthFailure, Authenticated, Issued, Lang, Rejected, UserRecord};
use model::audit::{AuditEntry, AuditPage, AuditQuery, AuditWriteHealth};
use model::ops::BoxFuture;
use model::token::{ApiToken, CreatedApiToken, NewApiToken, TokenFailure};

use super::AccountService;

impl model::service::Accounts for AccountService {
    fn registration_open(&self) -> BoxFuture<'_, Result<bool, StoreFailure>> {
        Box::pin(AccountService::registration_open(self))
    }

    fn register<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<UserRecord, AuthFailure>> {
        Box::pin(AccountService::register(self, username, password, client))
    }

    fn login<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>> {
        Box::pin(AccountService::login(self, username, password, client))
    }

    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Authenticated, Rejected>> {
        Box::pin(AccountService::authenticate(self, token))
    }

    fn session_valid<'a>(
        &'a self,
        auth: &'a Authenticated,
    ) -> BoxFuture<'a, Result<bool, StoreFailure>> {
        Box::pin(AccountService::session_valid(self, auth))
    }

    fn logout<'a>(&'a self, auth: &'a Authenticated, client: IpAddr) -> BoxFuture<'a, ()> {
        Box::pin(AccountService::logout(self, auth, client))
    }

    fn change_password<'a>(
        &'a self,
        auth: &'a Authenticated,
        current: &'a str,
        new: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<Issued, AuthFailure>> {
        Box::pin(AccountService::change_password(
            self, auth, current, new, client,
        ))
    }

    fn set_language<'a>(
        &'a self,
        auth: &'a Authenticated,
        lang: Lang,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<(), AuthFailure>> {
        Box::pin(AccountService::set_language(self, auth, lang, client))
    }

    fn session_ttl(&self) -> Duration {
        self.settings().session_ttl
    }

    fn create_api_token<'a>(
        &'a self,
        auth: &'a Authenticated,
        new: NewApiToken,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<CreatedApiToken, TokenFailure>> {
        Box::pin(AccountService::create_api_token(self, auth, new, client))
    }

    fn api_tokens<'a>(
        &'a self,
        auth: &'a Authenticated,
    ) -> BoxFuture<'a, Result<Vec<ApiToken>, TokenFailure>> {
        Box::pin(AccountService::list_api_tokens(self, auth))
    }

    fn revoke_api_token<'a>(
        &'a self,
        auth: &'a Authenticated,
        id: &'a str,
        client: IpAddr,
    ) -> BoxFuture<'a, Result<ApiToken, TokenFailure>> {
        Box::pin(AccountService::revoke_api_token(self, auth, id, client))
    }
}

impl model::service::AuditLog for AccountService {
    fn record(&self, entry: AuditEntry) -> BoxFuture<'_, ()> {
        Box::pin(AccountService::record(self, entry))
    }

    fn query(&self, query: AuditQuery) -> BoxFuture<'_, Result<AuditPage, StoreFailure>> {
        Box::pin(AccountService::query_audit(self, query))
    }

    fn write_health(&self) -> AuditWriteHealth {
        self.audit_write_health()
    }
}

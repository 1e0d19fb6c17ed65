//! The login lockout through the router: five failures lock the client address, the lock
//! expires, and `X-Forwarded-For` counts only from a trusted proxy.

use crate::console::common::*;
use axum::http::{StatusCode, header};
use std::time::Duration;

#[tokio::test]
async fn five_failures_lock_the_address_until_the_lock_expires() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    app.register().await;
    let (a, b) = ("198.51.100.7:1000", "198.51.100.8:1000");
    for _ in 0..5 {
        assert_eq!(
            try_login(&app, a, "Wrong horse 99").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked: even the right password is refused, from any port of that address.
    let locked = try_login(&app, "198.51.100.7:2000", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.header(header::RETRY_AFTER), "900");
    assert!(locked.json()["error"].as_str().unwrap().contains("15 min"));
    // The page login is locked too, with the message in the page.
    let page = app.get("/login").await; // (from CLIENT, not locked)
    let csrf = page.form_csrf();
    let form = app
        .send(
            Req::post("/login")
                .from(a)
                .header("cookie", &format!("commander_login_csrf={csrf}"))
                .form(&[("username", USER), ("password", PASSWORD), ("csrf", &csrf)]),
        )
        .await;
    assert_eq!(form.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        form.body.contains("Too many failed logins"),
        "{}",
        form.body
    );
    // Another address is not affected.
    assert_eq!(try_login(&app, b, PASSWORD).await.status, StatusCode::OK);

    app.clock.advance(Duration::from_secs(899));
    assert_eq!(
        try_login(&app, a, PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(Duration::from_secs(1));
    assert_eq!(try_login(&app, a, PASSWORD).await.status, StatusCode::OK);

    // Failures spread wider than the window never lock.
    for _ in 0..8 {
        assert_eq!(
            try_login(&app, a, "Wrong horse 99").await.status,
            StatusCode::UNAUTHORIZED
        );
        app.clock.advance(Duration::from_secs(200));
    }
    assert_eq!(try_login(&app, a, PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_is_trusted_only_from_a_configured_proxy() {
    let proxy = "10.0.0.1";
    let app = TestApp::with(Fake::Nodes(Vec::new()), |s| {
        s.trusted_proxies = vec![proxy.parse().unwrap()];
    });
    app.register().await;
    let login = |from: &'static str, xff: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.send(
                Req::post("/api/v1/auth/login")
                    .from(from)
                    .header("x-forwarded-for", xff)
                    .json(&credentials(USER, password)),
            )
            .await
            .status
        }
    };
    // A direct client cannot dodge the lockout by inventing addresses.
    for i in 0..5 {
        let xff = ["1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4", "1.1.1.5"][i];
        assert_eq!(
            login("203.0.113.5:1", xff, "Wrong horse 99").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("203.0.113.5:1", "1.1.1.9", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Behind the proxy, clients are told apart by the header.
    for _ in 0..5 {
        assert_eq!(
            login("10.0.0.1:5", "192.0.2.50", "Wrong horse 99").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login("10.0.0.1:5", "192.0.2.50", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login("10.0.0.1:5", "192.0.2.51", PASSWORD).await,
        StatusCode::OK
    );
    // ... and what a client prepends itself is ignored.
    assert_eq!(
        login("10.0.0.1:5", "192.0.2.51, 192.0.2.50", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Issue 11, finding 2: 40 wrong passwords and the right one sent at once gave 40 × 401 and
/// a token. Now one login per address is in flight (the rest 429 at once, without hashing),
/// at most five passwords are ever checked, and the right password never gets a token once
/// the address is locked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_burst_does_not_beat_the_lockout() {
    let app = std::sync::Arc::new(TestApp::new(Fake::Nodes(Vec::new())));
    app.register().await;
    let from = "198.51.100.9:1000";
    let mut unauthorized = 0;
    let mut locked = false;
    for _burst in 0..50 {
        let mut tasks = Vec::new();
        for i in 0..40 {
            let app = std::sync::Arc::clone(&app);
            let password = format!("Wrong horse {i}");
            tasks.push(tokio::spawn(async move {
                try_login(&app, from, &password).await
            }));
        }
        for t in tasks {
            let r = t.await.unwrap();
            match r.status {
                StatusCode::UNAUTHORIZED => unauthorized += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(!r.header(header::RETRY_AFTER).is_empty());
                }
                other => panic!("{other}: {}", r.body),
            }
        }
        assert!(unauthorized <= 5, "{unauthorized} passwords checked");
        if unauthorized == 5 {
            locked = true;
            break;
        }
    }
    assert!(locked);
    // The right password, alone or in a burst, is refused while locked.
    let mut tasks = Vec::new();
    for i in 0..41 {
        let app = std::sync::Arc::clone(&app);
        let password = if i == 40 {
            PASSWORD.to_owned()
        } else {
            format!("Wrong horse {i}")
        };
        tasks.push(tokio::spawn(async move {
            try_login(&app, from, &password).await.status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(app.accounts.refused_counts().locked >= 41);
}

#[tokio::test]
async fn cookies_are_secure_behind_a_trusted_tls_proxy_only() {
    let proxy = "10.0.0.1";
    let app = TestApp::with(Fake::Nodes(Vec::new()), |s| {
        s.trusted_proxies = vec![proxy.parse().unwrap()];
    });
    app.register().await;
    let cookies = |from: &'static str, proto: Option<&'static str>| {
        let app = &app;
        async move {
            let mut req = Req::get("/login").from(from);
            if let Some(p) = proto {
                req = req.header("x-forwarded-proto", p);
            }
            let r = app.send(req).await;
            assert_eq!(r.status, StatusCode::OK);
            let set = r.set_cookies();
            assert!(!set.is_empty(), "the login form sets its CSRF cookie");
            set
        }
    };
    // Through the trusted proxy over HTTPS: every cookie is Secure.
    for c in cookies("10.0.0.1:4000", Some("https")).await {
        assert!(c.ends_with("; Secure"), "{c}");
    }
    // Through the proxy over plain HTTP, or a client claiming HTTPS itself: not Secure.
    for (from, proto) in [
        ("10.0.0.1:4000", Some("http")),
        ("10.0.0.1:4000", None),
        ("203.0.113.5:1", Some("https")),
    ] {
        for c in cookies(from, proto).await {
            assert!(!c.contains("Secure"), "{from} {proto:?}: {c}");
        }
    }
}

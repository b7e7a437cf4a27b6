//! Accounts and sessions against the real stores: registration, login, logout, password
//! change, deactivation, brute-force limiting, and what happens when Redis is down.

use e2e::api::PASSWORD;
use e2e::servers::{Kind, ThrowawayServer};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn register_login_me_logout_and_the_token_dies_with_the_session() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;

    let (status, me) = app
        .json(Method::GET, "/me", Some(&patient.token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["email"], patient.email.as_str());
    assert_eq!(me["role"], "PATIENT");
    assert!(me.get("passwordHash").is_none() && me.get("password_hash").is_none());

    let (status, mine) = app
        .json(Method::GET, "/patients/me", Some(&patient.token), None)
        .await;
    assert_eq!(
        status, 200,
        "registration created the patient profile: {mine}"
    );

    let (status, _) = app
        .json(Method::POST, "/auth/logout", Some(&patient.token), None)
        .await;
    assert_eq!(status, 204);
    let (status, body) = app
        .json(Method::GET, "/me", Some(&patient.token), None)
        .await;
    assert_eq!(
        status, 401,
        "a logged-out token is refused on the very next request"
    );
    assert_eq!(body["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn emails_are_case_insensitive_and_unique() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let (status, body) = app.login(&patient.email.to_uppercase(), PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .json(Method::POST, "/auth/register", None, Some(json!({ "email": patient.email.to_uppercase(), "password": PASSWORD, "name": "Twin" })))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "EMAIL_TAKEN");
}

#[tokio::test]
async fn login_failures_do_not_reveal_which_accounts_exist() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let (s1, wrong_password) = app.login(&patient.email, "wrong-password-1").await;
    let (s2, unknown_email) = app.login("nobody@nowhere.test", "wrong-password-1").await;
    assert_eq!((s1, s2), (401, 401));
    assert_eq!(wrong_password, unknown_email, "same body for both failures");
    assert_eq!(wrong_password["code"], "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_deactivated_user_is_refused_at_once_and_cannot_log_in_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let (status, _) = app
        .json(Method::GET, "/me", Some(&receptionist.token), None)
        .await;
    assert_eq!(status, 200);

    let path = format!("/users/{}/status", receptionist.user_id);
    let (status, body) = app
        .json(
            Method::PATCH,
            &path,
            Some(&admin.token),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["isActive"], false);

    let (status, _) = app
        .json(Method::GET, "/me", Some(&receptionist.token), None)
        .await;
    assert_eq!(status, 401, "the very next request is refused");
    let (status, body) = app.login(&receptionist.email, PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "INVALID_CREDENTIALS");

    let (status, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(&admin.token),
            Some(json!({ "isActive": true })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.login(&receptionist.email, PASSWORD).await.0,
        200,
        "reactivated"
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_session() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let change =
        |current: &str, new: &str| json!({ "currentPassword": current, "newPassword": new });

    let (status, body) = app
        .json(
            Method::PUT,
            "/me/password",
            Some(&patient.token),
            Some(change("not-it-123", "brand-new-pass-9")),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "currentPassword");
    let (status, body) = app
        .json(
            Method::PUT,
            "/me/password",
            Some(&patient.token),
            Some(change(PASSWORD, "weak")),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "newPassword");

    let (status, _) = app
        .json(
            Method::PUT,
            "/me/password",
            Some(&patient.token),
            Some(change(PASSWORD, "brand-new-pass-9")),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.json(Method::GET, "/me", Some(&patient.token), None)
            .await
            .0,
        401
    );
    assert_eq!(app.login(&patient.email, PASSWORD).await.0, 401);
    assert_eq!(app.login(&patient.email, "brand-new-pass-9").await.0, 200);
}

#[tokio::test]
async fn each_device_keeps_its_session_lists_them_ends_one_or_all_and_the_cap_ends_the_oldest() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let other = app.patient().await;
    let (_, tablet) = app.login(&patient.email, PASSWORD).await;
    let tablet = tablet["accessToken"].as_str().unwrap().to_owned();
    let me = |token: String| {
        let app = &app;
        async move { app.json(Method::GET, "/me", Some(&token), None).await.0 }
    };
    // A second login leaves the first device signed in.
    assert_eq!(me(patient.token.clone()).await, 200);
    assert_eq!(me(tablet.clone()).await, 200);
    let (status, list) = app
        .json(Method::GET, "/auth/sessions", Some(&tablet), None)
        .await;
    assert_eq!(status, 200);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0]["current"], true,
        "newest first, and this one is mine"
    );
    let first_device = list[1]["id"].as_str().unwrap().to_owned();

    // Another user cannot end my session: 404, and it keeps working.
    let path = format!("/auth/sessions/{first_device}");
    let (status, _) = app
        .json(Method::DELETE, &path, Some(&other.token), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(me(patient.token.clone()).await, 200);
    // The tablet ends the first device's session: only that one stops working.
    let (status, _) = app.json(Method::DELETE, &path, Some(&tablet), None).await;
    assert_eq!(status, 204);
    assert_eq!(me(patient.token.clone()).await, 401);
    assert_eq!(me(tablet.clone()).await, 200);

    // Logging out on one device leaves the others.
    let (_, phone) = app.login(&patient.email, PASSWORD).await;
    let phone = phone["accessToken"].as_str().unwrap().to_owned();
    let (status, _) = app
        .json(Method::POST, "/auth/logout", Some(&phone), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!((me(phone).await, me(tablet.clone()).await), (401, 200));

    // The cap: the eleventh login ends the oldest session (the tablet's).
    let mut tokens = Vec::new();
    for _ in 0..domain::identity::MAX_SESSIONS_PER_USER {
        let (_, login) = app.login(&patient.email, PASSWORD).await;
        tokens.push(login["accessToken"].as_str().unwrap().to_owned());
    }
    assert_eq!(me(tablet).await, 401, "the oldest gave way");
    let (_, list) = app
        .json(Method::GET, "/auth/sessions", Some(&tokens[0]), None)
        .await;
    assert_eq!(
        list.as_array().unwrap().len(),
        domain::identity::MAX_SESSIONS_PER_USER
    );

    // Log out everywhere: one call ends them all, and is audited.
    let (status, _) = app
        .json(Method::POST, "/auth/logout-all", Some(&tokens[3]), None)
        .await;
    assert_eq!(status, 204);
    for token in tokens {
        assert_eq!(me(token).await, 401);
    }

    // Every ending is audited as LOGOUT, naming the sessions it ended: the other device's
    // (DELETE), the phone's (logout) and all of them (logout-all).
    app.wait_for_audit_shipped().await;
    let (_, logouts) = app
        .json(
            Method::GET,
            &format!("/audit-logs?action=LOGOUT&userId={}", patient.user_id),
            Some(&app.admin().await.token),
            None,
        )
        .await;
    assert_eq!(logouts["total"], 3, "{logouts}");
    let ended: Vec<Value> = logouts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["changes"]["after"]["sessions"].clone())
        .collect();
    assert!(ended.contains(&Value::String("all".into())), "{ended:?}");
    assert!(
        ended.contains(&serde_json::json!([first_device])),
        "{ended:?}"
    );
}

#[tokio::test]
async fn tokens_that_are_forged_or_malformed_are_401() {
    let app = TestApp::spawn().await;
    for header in [
        "Bearer not-a-jwt",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
    ] {
        let response = app
            .client
            .get(app.url("/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{header}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }
    let forged = {
        let other =
            api_http::auth::tokens::TokenService::new("someone-elses-secret-0123456789abcdef");
        let now = chrono::Utc::now();
        other.issue(
            uuid::Uuid::new_v4(),
            uuid::Uuid::new_v4(),
            now,
            now + chrono::Duration::hours(1),
        )
    };
    assert_eq!(
        app.json(Method::GET, "/me", Some(&forged), None).await.0,
        401
    );
}

#[tokio::test]
async fn brute_force_logins_from_one_ip_are_limited_after_five() {
    let app = TestApp::spawn_with(|c| c.login_rate_limit_per_minute = 5).await;
    let patient = app.patient().await; // its login is attempt 1
    for attempt in 2..=5 {
        let (status, _) = app.login(&patient.email, "wrong-password-1").await;
        assert_eq!(status, 401, "attempt {attempt}");
    }
    for attempt in 6..=9 {
        let response = app
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({ "email": patient.email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(
            response.status(),
            429,
            "attempt {attempt} is limited even with the right password"
        );
        let retry: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], "RATE_LIMITED");
    }
    // Other routes keep their own (larger) budget.
    assert_eq!(
        app.json(Method::GET, "/me", Some(&patient.token), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn the_request_budget_is_shared_by_two_api_processes_through_redis() {
    let first = TestApp::spawn_with(|c| c.rate_limit_per_minute = 6).await;
    let prefix = first.config.redis_key_prefix.clone();
    let database = first.config.database_url.clone();
    // A second instance on the same Redis prefix and database, as two `serve` processes would be.
    let second = TestApp::spawn_with(|c| {
        c.rate_limit_per_minute = 6;
        c.redis_key_prefix = prefix;
        c.database_url = database;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { &first } else { &second };
        statuses.push(app.json(Method::GET, "/departments", None, None).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429, 429]);
}

#[tokio::test]
async fn with_redis_down_protected_routes_answer_503_and_public_ones_still_work() {
    let mut redis = ThrowawayServer::start(Kind::Redis);
    let url = redis.url();
    let app = TestApp::spawn_with(|c| c.redis_url = url).await;
    let patient = app.patient().await;

    redis.stop();
    let (status, body) = app
        .json(Method::GET, "/me", Some(&patient.token), None)
        .await;
    assert_eq!(
        status, 503,
        "nobody is let in without a session check: {body}"
    );
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    let (status, _) = app.login(&patient.email, PASSWORD).await;
    assert_eq!(status, 503);
    let (status, _) = app.json(Method::GET, "/doctors", None, None).await;
    assert_eq!(
        status, 200,
        "public routes keep working; rate limiting fails open"
    );

    redis.restart();
    // The sessions were in the stopped Redis: log in again, without restarting the API, as
    // soon as the circuit breaker's probe (every STORE_BREAKER_PROBE_MS) has seen Redis back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (status, body) = loop {
        let (status, body) = app.login(&patient.email, PASSWORD).await;
        if status != 503 || std::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.json(Method::GET, "/me", body["accessToken"].as_str(), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn the_first_admin_comes_from_create_admin_and_creates_staff() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    assert!(
        doctor.profile_id.is_some(),
        "a DOCTOR account comes with its doctor profile"
    );
    let (status, me) = app
        .json(Method::GET, "/me", Some(&doctor.token), None)
        .await;
    assert_eq!((status, me["role"].as_str()), (200, Some("DOCTOR")));
    let second_admin = app.staff(&admin, "ADMIN").await;
    assert_eq!(
        app.json(Method::GET, "/me", Some(&second_admin.token), None)
            .await
            .1["role"],
        "ADMIN"
    );
}

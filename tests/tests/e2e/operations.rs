//! Operating the service: liveness, readiness (and its recovery), Swagger UI, the error model
//! for unknown routes, request ids.

use std::time::{Duration, Instant};

use e2e::servers::{Kind, ThrowawayServer};
use e2e::TestApp;
use serde_json::Value;

#[tokio::test]
async fn health_and_ready_report_every_store() {
    let app = TestApp::spawn().await;

    let health = app.get("/health").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.unwrap()["status"], "ok");

    let ready = app.get("/ready").await;
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let names: Vec<&str> = body["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["postgres", "redis", "mongodb"]);
    assert!(body["stores"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "up"));
}

async fn wait_for_ready_status(app: &TestApp, expected: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let response = app.get("/ready").await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        if status == expected {
            return body;
        }
        assert!(Instant::now() < deadline, "/ready stayed {status}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn store<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["stores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[tokio::test]
async fn ready_names_a_stopped_store_and_recovers_when_it_returns() {
    let mut redis = ThrowawayServer::start(Kind::Redis);
    let mut mongo = ThrowawayServer::start(Kind::Mongo);
    let (redis_url, mongo_url) = (redis.url(), mongo.url());
    let app = TestApp::spawn_with(|c| {
        c.redis_url = redis_url;
        c.mongodb_uri = mongo_url;
        // A stopped store is reported after this long: short, as the outages are certain here.
        c.store_timeout_ms = 1500;
    })
    .await;
    wait_for_ready_status(&app, 200).await;

    redis.stop();
    let body = wait_for_ready_status(&app, 503).await;
    assert_eq!(body["status"], "unavailable");
    assert_eq!(store(&body, "redis")["status"], "down");
    assert_eq!(store(&body, "postgres")["status"], "up");
    assert_eq!(store(&body, "mongodb")["status"], "up");
    assert_eq!(
        store(&body, "redis")["error"],
        "unreachable",
        "the driver's words (addresses, topology) stay in the log: /ready is public"
    );

    redis.restart();
    wait_for_ready_status(&app, 200).await;

    mongo.stop();
    let body = wait_for_ready_status(&app, 503).await;
    assert_eq!(store(&body, "mongodb")["status"], "down");
    assert_eq!(store(&body, "redis")["status"], "up");

    mongo.restart();
    let body = wait_for_ready_status(&app, 200).await;
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn swagger_ui_is_served_offline_with_its_assets() {
    let app = TestApp::spawn().await;

    let redirect = app.get("/swagger-ui").await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/swagger-ui/");

    let page = app.get("/swagger-ui/").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<div id=\"swagger-ui\"></div>"), "{html}");
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        assert!(html.contains(asset), "page references {asset}");
        let response = app.get(&format!("/swagger-ui/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.unwrap().len() > 100,
            "{asset} has content"
        );
    }
    let initializer = app
        .get("/swagger-ui/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/api-docs/openapi.json"));

    let spec: Value = app
        .get("/api-docs/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(spec["info"]["title"], "HealthSync API");
    assert!(spec["paths"]["/ready"].is_object());
}

#[tokio::test]
async fn unknown_routes_answer_the_error_model_and_every_answer_has_a_request_id() {
    let app = TestApp::spawn().await;

    let response = app.get("/no/such/route").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "ROUTE_NOT_FOUND");
    assert!(body["message"].is_string());
    assert!(body.get("field").is_some());

    let echoed = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-abc-123");

    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id with spaces");
}

#[tokio::test]
async fn with_postgres_down_requests_get_503_with_a_retry_hint_and_the_pool_recovers() {
    use e2e::proxy::CuttableProxy;
    // The test's own database, reached through a proxy the test can cut.
    let db = e2e::TestDatabase::create().await;
    let url = db.url.clone();
    let (host_port, rest) = {
        let after_at = url.split_once('@').map_or(url.as_str(), |(_, r)| r);
        after_at.split_once('/').unwrap()
    };
    let target: std::net::SocketAddr = host_port.parse().expect("host:port");
    let mut proxy = CuttableProxy::start(target).await;
    let proxied = url.replace(host_port, &format!("127.0.0.1:{}", proxy.port));
    assert!(proxied.ends_with(rest));
    let app = TestApp::spawn_with(|c| c.database_url = proxied).await;
    assert_eq!(app.get("/departments").await.status(), 200);

    proxy.cut().await;
    let response = app.get("/departments").await;
    assert_eq!(response.status(), 503, "a database outage is not a 500");
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    assert!(!body["message"].as_str().unwrap().contains("postgres://"));
    let ready = wait_for_ready_status(&app, 503).await;
    assert_eq!(store(&ready, "postgres")["status"], "down");

    proxy.restore().await;
    wait_for_ready_status(&app, 200).await;
    assert_eq!(
        app.get("/departments").await.status(),
        200,
        "the pool recovered without a restart"
    );
    drop(app);
    db.drop_now().await;
}

//! What a browser relies on: CORS for the configured origins only, nosniff and no framing on
//! every response, no caching of authenticated answers, and a public doctor view without the
//! doctor's contact details.

use e2e::TestApp;
use reqwest::Method;
use serde_json::Value;

const APP: &str = "http://app.clinic.example";

#[tokio::test]
async fn cors_answers_preflight_and_exposes_headers_for_configured_origins_only() {
    let app = TestApp::spawn_with(|c| {
        c.cors_allowed_origins = format!("{APP}, http://localhost:5173");
    })
    .await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/appointments"))
        .header("origin", APP)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let actual = app
        .client
        .get(app.url("/departments"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(actual.status(), 200);
    assert_eq!(actual.headers()["access-control-allow-origin"], APP);
    let exposed = actual.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["x-request-id", "retry-after", "content-disposition"] {
        assert!(exposed.contains(header), "{exposed}");
    }

    // Another origin gets no CORS headers (the browser withholds the answer), but the request
    // is not refused: same-origin pages such as Swagger UI send an Origin too.
    let foreign = app
        .client
        .get(app.url("/departments"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn without_configured_origins_nothing_is_shared_cross_origin() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/departments"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn responses_are_not_sniffed_framed_or_cached_when_personal() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let public = app.get("/departments").await;
    assert_eq!(public.headers()["x-content-type-options"], "nosniff");
    assert_eq!(public.headers()["x-frame-options"], "DENY");
    assert!(public.headers().get("cache-control").is_none());
    let swagger = app.get("/swagger-ui/").await;
    assert_eq!(swagger.headers()["x-frame-options"], "DENY");
    assert!(swagger.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let mine = app
        .call(Method::GET, "/patients/me", Some(&patient.token), None)
        .await;
    assert_eq!(mine.status(), 200);
    assert_eq!(mine.headers()["cache-control"], "no-store");
    assert_eq!(mine.headers()["x-content-type-options"], "nosniff");
    // Errors too.
    let missing = app
        .call(Method::GET, "/nowhere", Some(&patient.token), None)
        .await;
    assert_eq!(missing.headers()["cache-control"], "no-store");
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn the_public_doctor_view_leaves_out_email_and_user_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let path = format!("/doctors/{}", doctor.profile_id.as_deref().unwrap());
    let view = |token: Option<String>| {
        let (app, path) = (&app, path.clone());
        async move {
            let (status, body) = app.json(Method::GET, &path, token.as_deref(), None).await;
            assert_eq!(status, 200, "{body}");
            body
        }
    };
    for body in [
        view(None).await,
        view(Some(patient.token.clone())).await,
        view(Some(other_doctor.token.clone())).await,
    ] {
        assert!(
            body.get("email").is_none() && body.get("userId").is_none(),
            "{body}"
        );
        assert!(
            body["licenseNumber"].is_string(),
            "the licence number stays public"
        );
    }
    for body in [
        view(Some(admin.token.clone())).await,
        view(Some(doctor.token.clone())).await,
    ] {
        assert_eq!(body["email"], Value::String(doctor.email.clone()));
        assert_eq!(body["userId"], Value::String(doctor.user_id.clone()));
    }
    let (status, list) = app.json(Method::GET, "/doctors", None, None).await;
    assert_eq!(status, 200, "{list}");
    for d in list["items"].as_array().unwrap() {
        assert!(d.get("email").is_none(), "{d}");
    }
}

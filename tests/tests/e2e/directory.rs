//! The directory: departments, doctors (public browsing with filters) and patients.

use e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn departments_are_public_while_active_and_run_by_admins() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (status, cardio) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Cardiology", "description": "Heart" })),
        )
        .await;
    assert_eq!(status, 201);
    let (_, _) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Neurology" })),
        )
        .await;
    let id = cardio["id"].as_str().unwrap();

    let (_, page) = app.json(Method::GET, "/departments", None, None).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][0]["name"], "Cardiology", "sorted by name");

    let (status, _) = app
        .json(
            Method::PUT,
            &format!("/departments/{id}"),
            Some(&admin.token),
            Some(json!({ "name": "Cardiology", "isActive": false })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, page) = app.json(Method::GET, "/departments", None, None).await;
    assert_eq!(
        page["total"], 1,
        "deactivated departments are hidden from the public"
    );
    assert_eq!(
        app.json(Method::GET, &format!("/departments/{id}"), None, None)
            .await
            .0,
        404
    );
    let (_, page) = app
        .json(Method::GET, "/departments?includeInactive=true", None, None)
        .await;
    assert_eq!(page["total"], 1, "only admins may include inactive ones");
    let (_, page) = app
        .json(
            Method::GET,
            "/departments?includeInactive=true",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(page["total"], 2);
}

#[tokio::test]
async fn doctors_are_browsed_by_specialization_department_and_availability() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = app.staff(&admin, "DOCTOR").await;
    let second = app.staff(&admin, "DOCTOR").await;
    let (first_id, second_id) = (
        first.profile_id.clone().unwrap(),
        second.profile_id.clone().unwrap(),
    );
    let (_, dept) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Cardiology" })),
        )
        .await;
    let dept_id = dept["id"].as_str().unwrap();
    let (status, linked) = app
        .json(
            Method::PUT,
            &format!("/doctors/{first_id}/departments"),
            Some(&admin.token),
            Some(json!({ "departmentIds": [dept_id, dept_id] })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        linked["departmentIds"],
        json!([dept_id]),
        "duplicates collapse"
    );
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("/doctors/{second_id}"),
            Some(&admin.token),
            Some(json!({ "specialization": "Dermatology", "isAvailable": false })),
        )
        .await;
    assert_eq!(status, 200);

    let ids = |page: &serde_json::Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all) = app.json(Method::GET, "/doctors", None, None).await;
    assert_eq!(all["total"], 2);
    assert_eq!(
        all["items"][0]["consultationFee"], "80.50",
        "money is an exact decimal string"
    );
    let (_, cardio) = app
        .json(
            Method::GET,
            "/doctors?specialization=cardiology",
            None,
            None,
        )
        .await;
    assert_eq!(ids(&cardio), std::slice::from_ref(&first_id));
    let (_, in_dept) = app
        .json(
            Method::GET,
            &format!("/doctors?departmentId={dept_id}"),
            None,
            None,
        )
        .await;
    assert_eq!(ids(&in_dept), std::slice::from_ref(&first_id));
    let (_, available) = app
        .json(Method::GET, "/doctors?available=false", None, None)
        .await;
    assert_eq!(ids(&available), std::slice::from_ref(&second_id));

    // A deactivated doctor disappears from public browsing.
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("/users/{}/status", second.user_id),
            Some(&admin.token),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, all) = app.json(Method::GET, "/doctors", None, None).await;
    assert_eq!(ids(&all), [first_id]);
    assert_eq!(
        app.json(Method::GET, &format!("/doctors/{second_id}"), None, None)
            .await
            .0,
        404
    );
    assert_eq!(
        app.json(
            Method::GET,
            &format!("/doctors/{second_id}"),
            Some(&admin.token),
            None
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn the_front_desk_registers_and_finds_patients_who_edit_their_own_profile() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let (status, created) = app
        .json(
            Method::POST,
            "/patients",
            Some(&receptionist.token),
            Some(json!({
                "email": "walk.in@mail.test", "password": "password-123", "name": "Walk In",
                "profile": { "dateOfBirth": "1980-02-29", "gender": "OTHER", "bloodGroup": "ab-" }
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let patient = app.patient().await;

    let (_, found) = app
        .json(
            Method::GET,
            "/patients?search=walk",
            Some(&receptionist.token),
            None,
        )
        .await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["profile"]["bloodGroup"], "AB-");
    assert_eq!(found["items"][0]["profile"]["dateOfBirth"], "1980-02-29");
    let (_, none) = app
        .json(
            Method::GET,
            "/patients?search=%25",
            Some(&receptionist.token),
            None,
        )
        .await;
    assert_eq!(none["total"], 0, "% in a search matches literally");

    let path = format!("/patients/{}", patient.profile_id.as_deref().unwrap());
    let (status, updated) = app
        .json(Method::PUT, &path, Some(&patient.token), Some(json!({ "address": " 1 High St ", "emergencyContactName": "Kin", "emergencyContactPhone": "+44 20 7946 0958" })))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["profile"]["address"], "1 High St");
    assert_eq!(
        updated["profile"]["emergencyContactPhone"],
        "+44 20 7946 0958"
    );
}

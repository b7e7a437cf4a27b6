//! FHIR R4 (`/fhir/R4`): a doctor with a schedule, visits in several statuses and time off,
//! read and searched as every kind of caller; the mapping asserted; and every resource the
//! server answered (bundles, resources, OperationOutcomes, the CapabilityStatement) validated
//! against HL7's official R4 JSON schema by `scripts/fhir-validate.mjs`. The test fails, never
//! skips, when the validator is not installed (`make fhir-deps`) or rejects a resource.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use e2e::api::{day_ahead, Account};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// Every FHIR body the test got, to be validated at the end.
#[derive(Default)]
struct Seen(Vec<(String, Value)>);

impl Seen {
    fn keep(&mut self, what: &str, body: &Value) {
        self.0.push((what.to_owned(), body.clone()));
    }
}

/// `GET path` with an optional token: (status, body); asserts FHIR's media type.
async fn fhir(app: &TestApp, seen: &mut Seen, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let media = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null);
    assert!(
        media.starts_with("application/fhir+json"),
        "GET {path}: {status} in {media}: {body}"
    );
    if status >= 400 {
        assert_eq!(
            body["resourceType"], "OperationOutcome",
            "GET {path}: {body}"
        );
    }
    seen.keep(path, &body);
    (status, body)
}

/// The resources of a searchset bundle.
fn entries(bundle: &Value) -> Vec<Value> {
    assert_eq!(bundle["resourceType"], "Bundle", "{bundle}");
    assert_eq!(bundle["type"], "searchset", "{bundle}");
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|entry| {
                    let resource = entry["resource"].clone();
                    let full = entry["fullUrl"].as_str().unwrap();
                    let tail = format!(
                        "/fhir/R4/{}/{}",
                        resource["resourceType"].as_str().unwrap(),
                        resource["id"].as_str().unwrap()
                    );
                    assert!(full.starts_with("http") && full.ends_with(&tail), "{full}");
                    assert_eq!(entry["search"]["mode"], "match");
                    resource
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ids(bundle: &Value) -> BTreeSet<String> {
    entries(bundle)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn link<'a>(bundle: &'a Value, relation: &str) -> Option<&'a str> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .and_then(|l| l["url"].as_str())
}

/// The path (and query) of an absolute link of this server.
fn path_of(url: &str) -> String {
    let at = url.find("/fhir/R4/").expect("a link to this endpoint");
    url[at..].to_owned()
}

fn outcome_names(body: &Value, param: &str) -> bool {
    body["issue"][0]["expression"][0] == param
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the validator on `files`: (exit code, stdout + stderr). Panics when Node cannot run.
fn validate(files: &[PathBuf]) -> (i32, String) {
    let output = std::process::Command::new("node")
        .arg(repo_root().join("scripts/fhir-validate.mjs"))
        .args(files)
        .output()
        .expect("node runs (Node 20+; `make fhir-deps` installs the validator)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

/// Writes each body to a file of its own in a fresh directory.
fn write_all(bodies: &[(String, Value)]) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("fhir-{}", e2e::unique_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = bodies
        .iter()
        .enumerate()
        .map(|(i, (_, body))| {
            let file = dir.join(format!("{i:03}.json"));
            std::fs::write(&file, serde_json::to_vec_pretty(body).unwrap()).unwrap();
            file
        })
        .collect();
    (dir, files)
}

struct Clinic {
    admin: Account,
    desk: Account,
    doctor: Account,
    other_doctor: Account,
    patient: Account,
    outsider: Account,
    doctor_id: String,
    schedule_id: String,
    date: chrono::NaiveDate,
    slots: Vec<String>,
    /// booked, arrived, in progress, completed, cancelled (the patient's), then the outsider's.
    visits: Vec<String>,
}

async fn clinic(app: &TestApp) -> Clinic {
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let outsider = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    let schedule_id = app
        .schedule(&admin, &doctor_id, day, "09:00", "13:00", 30)
        .await;
    let slots = app.free_slots(&doctor_id, date).await;
    assert_eq!(slots.len(), 8);
    let mut visits = Vec::new();
    for slot in &slots[..5] {
        let (status, body) = app.book(&patient.token, slot, None).await;
        assert_eq!(status, 201, "{body}");
        visits.push(body["id"].as_str().unwrap().to_owned());
    }
    let outsider_id = outsider.profile_id.clone().unwrap();
    let (status, body) = app.book(&desk.token, &slots[5], Some(&outsider_id)).await;
    assert_eq!(status, 201, "{body}");
    visits.push(body["id"].as_str().unwrap().to_owned());
    for (i, moves) in [
        (1, &["confirm"][..]),
        (2, &["confirm", "start"][..]),
        (3, &["confirm", "start", "complete"][..]),
    ] {
        for action in moves {
            let who = if *action == "confirm" { &desk } else { &doctor };
            app.step(who, &visits[i], action, 200).await;
        }
    }
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{}/cancel", visits[4]),
            Some(&desk.token),
            Some(json!({ "reason": "Patient called" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Time off over the cancelled visit's slot (11:00): kept for its history, now unbookable.
    let (status, body) = app
        .json(
            Method::POST,
            "/time-off",
            Some(&admin.token),
            Some(json!({ "doctorId": doctor_id, "from": date, "to": date, "startTime": "11:00", "endTime": "11:30", "reason": "Training" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // A patient waiting for the doctor that day is offered the earliest free slot (12:00),
    // which the offer holds; 12:30 stays free.
    let waiter = app.patient().await;
    let (status, body) = app
        .json(
            Method::POST,
            "/waitlist",
            Some(&waiter.token),
            Some(json!({ "doctorId": doctor_id, "from": date, "to": date })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    api_http::jobs::match_waitlist_once(&app.app).await.unwrap();
    Clinic {
        admin,
        desk,
        doctor,
        other_doctor,
        patient,
        outsider,
        doctor_id,
        schedule_id,
        date,
        slots,
        visits,
    }
}

#[tokio::test]
async fn fhir_schedules_slots_and_appointments_map_ours_obey_access_and_validate_as_r4() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let mut seen = Seen::default();
    let (date, next_day) = (c.date, c.date + chrono::Duration::days(1));
    let doctor_ref = format!("Practitioner/{}", c.doctor_id);
    let patient_ref = format!("Patient/{}", c.patient.profile_id.as_deref().unwrap());

    // The CapabilityStatement is public.
    let (status, statement) = fhir(&app, &mut seen, "/fhir/R4/metadata", None).await;
    assert_eq!(status, 200, "{statement}");
    assert_eq!(statement["resourceType"], "CapabilityStatement");
    assert_eq!(statement["fhirVersion"], "4.0.1");
    assert_eq!(statement["kind"], "instance");
    let resources: Vec<&str> = statement["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert_eq!(resources, ["Appointment", "Schedule", "Slot"]);

    // Appointments as the patient: its own five, statuses mapped, participants, the reason.
    let (status, mine) = fhir(
        &app,
        &mut seen,
        "/fhir/R4/Appointment",
        Some(&c.patient.token),
    )
    .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["total"], 5);
    assert_eq!(ids(&mine), c.visits[..5].iter().cloned().collect());
    let by_id = |bundle: &Value, id: &str| {
        entries(bundle)
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {bundle}"))
    };
    for (visit, status) in
        c.visits[..5]
            .iter()
            .zip(["booked", "arrived", "fulfilled", "fulfilled", "cancelled"])
    {
        let a = by_id(&mine, visit);
        assert_eq!(a["status"], status, "{a}");
        assert_eq!(
            a["participant"][0]["actor"]["reference"],
            doctor_ref.as_str()
        );
        assert_eq!(
            a["participant"][1]["actor"]["reference"],
            patient_ref.as_str()
        );
        assert!(a["participant"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "accepted"));
        assert_eq!(a["reasonCode"][0]["text"], "Check-up");
        assert_eq!(a["appointmentType"]["coding"][0]["code"], "ROUTINE");
        assert_eq!(a["minutesDuration"], 30);
        assert!(a.get("notes").is_none());
    }
    let cancelled = by_id(&mine, &c.visits[4]);
    assert_eq!(cancelled["cancelationReason"]["text"], "Patient called");
    let first = by_id(&mine, &c.visits[0]);
    assert_eq!(
        first["slot"][0]["reference"],
        format!("Slot/{}", c.slots[0])
    );
    assert!(first["start"]
        .as_str()
        .unwrap()
        .starts_with(&date.to_string()));

    // ... reads one, but not the outsider's (404), and naming another patient finds nothing.
    let (status, one) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment/{}", c.visits[0]),
        Some(&c.patient.token),
    )
    .await;
    assert_eq!(
        (status, one["status"].as_str()),
        (200, Some("booked")),
        "{one}"
    );
    let (status, body) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment/{}", c.visits[5]),
        Some(&c.patient.token),
    )
    .await;
    assert_eq!(
        (status, body["issue"][0]["code"].as_str()),
        (404, Some("not-found")),
        "{body}"
    );
    let outsider_ref = format!("Patient/{}", c.outsider.profile_id.as_deref().unwrap());
    let (status, body) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?patient={outsider_ref}"),
        Some(&c.patient.token),
    )
    .await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(0)), "{body}");

    // The outsider sees only its own visit; the patient's are 404 to it.
    let (_, theirs) = fhir(
        &app,
        &mut seen,
        "/fhir/R4/Appointment",
        Some(&c.outsider.token),
    )
    .await;
    assert_eq!(ids(&theirs), BTreeSet::from([c.visits[5].clone()]));
    let (status, _) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment/{}", c.visits[0]),
        Some(&c.outsider.token),
    )
    .await;
    assert_eq!(status, 404);
    let (_, none) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?actor={patient_ref}"),
        Some(&c.outsider.token),
    )
    .await;
    assert_eq!(none["total"], 0, "{none}");

    // The doctor sees its six; another doctor none of them.
    let (_, day) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?practitioner={doctor_ref}"),
        Some(&c.doctor.token),
    )
    .await;
    assert_eq!(ids(&day), c.visits.iter().cloned().collect());
    let (_, day) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?actor={doctor_ref}"),
        Some(&c.other_doctor.token),
    )
    .await;
    assert_eq!(day["total"], 0, "{day}");
    let (status, _) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment/{}", c.visits[0]),
        Some(&c.other_doctor.token),
    )
    .await;
    assert_eq!(status, 404);

    // The desk searches by status (fulfilled is IN_PROGRESS and COMPLETED) and by date.
    let (_, fulfilled) = fhir(
        &app,
        &mut seen,
        "/fhir/R4/Appointment?status=fulfilled",
        Some(&c.desk.token),
    )
    .await;
    assert_eq!(
        ids(&fulfilled),
        BTreeSet::from([c.visits[2].clone(), c.visits[3].clone()])
    );
    let (_, early) = fhir(
        &app,
        &mut seen,
        &format!(
            "/fhir/R4/Appointment?status=booked,arrived&practitioner={}",
            c.doctor_id
        ),
        Some(&c.desk.token),
    )
    .await;
    assert_eq!(
        ids(&early),
        BTreeSet::from([
            c.visits[0].clone(),
            c.visits[1].clone(),
            c.visits[5].clone()
        ])
    );
    let (_, that_day) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?date=ge{date}&date=lt{next_day}"),
        Some(&c.admin.token),
    )
    .await;
    assert_eq!(that_day["total"], 6, "{that_day}");
    let (_, before) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?date=lt{date}"),
        Some(&c.admin.token),
    )
    .await;
    assert_eq!(before["total"], 0, "{before}");
    let (_, at_ten) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Appointment?date={date}T10:00:00Z"),
        Some(&c.admin.token),
    )
    .await;
    assert_eq!(
        ids(&at_ten),
        BTreeSet::from([c.visits[2].clone()]),
        "{at_ten}"
    );

    // Paging: _count 2 gives three pages through next links, every visit once, soonest first.
    let mut path = "/fhir/R4/Appointment?_count=2".to_owned();
    let mut walked = Vec::new();
    loop {
        let (status, page) = fhir(&app, &mut seen, &path, Some(&c.admin.token)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["total"], 6);
        assert!(link(&page, "self").is_some());
        walked.extend(
            entries(&page)
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned()),
        );
        match link(&page, "next") {
            Some(next) => path = path_of(next),
            None => break,
        }
    }
    assert_eq!(walked, c.visits, "soonest first, each once");

    // Schedules: public, one per weekly rule.
    let (_, rules) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Schedule?actor={doctor_ref}"),
        None,
    )
    .await;
    assert_eq!(ids(&rules), BTreeSet::from([c.schedule_id.clone()]));
    let (status, rule) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Schedule/{}", c.schedule_id),
        None,
    )
    .await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["active"], true);
    assert_eq!(rule["actor"][0]["reference"], doctor_ref.as_str());
    let (_, inactive) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Schedule?actor={}&active=false", c.doctor_id),
        None,
    )
    .await;
    assert_eq!(inactive["total"], 0);

    // Slots that day: four booked and the outsider's busy, the 11:00 (cancelled, then time off)
    // busy-unavailable and the 12:00 (held by a waitlist offer) busy-tentative for staff, both
    // busy for everyone else; the 12:30 free.
    let slot_search =
        format!("/fhir/R4/Slot?schedule.actor={doctor_ref}&start=ge{date}&start=lt{next_day}");
    let expected_staff = [
        "busy",
        "busy",
        "busy",
        "busy",
        "busy-unavailable",
        "busy",
        "busy-tentative",
        "free",
    ];
    for (who, token) in [
        ("anonymous", None),
        ("patient", Some(c.patient.token.as_str())),
        ("other doctor", Some(c.other_doctor.token.as_str())),
        ("doctor", Some(c.doctor.token.as_str())),
        ("desk", Some(c.desk.token.as_str())),
    ] {
        let staff = matches!(who, "doctor" | "desk");
        let (status, bundle) = fhir(&app, &mut seen, &slot_search, token).await;
        assert_eq!(status, 200, "{bundle}");
        let found = entries(&bundle);
        let got: Vec<&str> = found
            .iter()
            .map(|s| s["status"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = expected_staff
            .iter()
            .map(|s| {
                if !staff && s.starts_with("busy") {
                    "busy"
                } else {
                    s
                }
            })
            .collect();
        assert_eq!(got, want, "as {who}");
        let found_ids: Vec<String> = found
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(found_ids, c.slots, "as {who}");
        assert!(found
            .iter()
            .all(|s| s["schedule"]["reference"] == format!("Schedule/{}", c.schedule_id)));
    }
    let (_, free) = fhir(&app, &mut seen, &format!("{slot_search}&status=free"), None).await;
    assert_eq!(ids(&free), BTreeSet::from([c.slots[7].clone()]));
    let (_, held) = fhir(
        &app,
        &mut seen,
        &format!("{slot_search}&status=busy-tentative,busy-unavailable"),
        Some(&c.desk.token),
    )
    .await;
    assert_eq!(
        ids(&held),
        BTreeSet::from([c.slots[4].clone(), c.slots[6].clone()])
    );
    let (_, held) = fhir(
        &app,
        &mut seen,
        &format!("{slot_search}&status=busy-tentative"),
        Some(&c.patient.token),
    )
    .await;
    assert_eq!(held["total"], 0, "patients see no holds: {held}");
    let (_, by_rule) = fhir(
        &app,
        &mut seen,
        &format!(
            "/fhir/R4/Slot?schedule=Schedule/{}&start={date}&_count=3",
            c.schedule_id
        ),
        None,
    )
    .await;
    assert_eq!(
        (by_rule["total"].as_u64(), entries(&by_rule).len()),
        (Some(8), 3),
        "{by_rule}"
    );
    let next = path_of(link(&by_rule, "next").expect("a next page"));
    assert!(next.contains("_page=2"), "{next}");
    let (_, page2) = fhir(&app, &mut seen, &next, None).await;
    assert_eq!(entries(&page2)[0]["id"], c.slots[3].as_str());

    // Every reference resolves: the appointment's slot, the slot's schedule.
    let (status, slot) = fhir(
        &app,
        &mut seen,
        &format!(
            "/fhir/R4/{}",
            first["slot"][0]["reference"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, slot["status"].as_str()),
        (200, Some("busy")),
        "{slot}"
    );
    let (status, _) = fhir(
        &app,
        &mut seen,
        &format!(
            "/fhir/R4/{}",
            slot["schedule"]["reference"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, staff_view) = fhir(
        &app,
        &mut seen,
        &format!("/fhir/R4/Slot/{}", c.slots[4]),
        Some(&c.doctor.token),
    )
    .await;
    assert_eq!(staff_view["status"], "busy-unavailable");

    // A doctor taking no appointments has no free slot: busy-unavailable for staff.
    let (status, body) = app
        .json(
            Method::PATCH,
            &format!("/doctors/{}", c.doctor_id),
            Some(&c.admin.token),
            Some(json!({ "isAvailable": false })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let last = format!("/fhir/R4/Slot/{}", c.slots[7]);
    let (_, staff_view) = fhir(&app, &mut seen, &last, Some(&c.desk.token)).await;
    assert_eq!(staff_view["status"], "busy-unavailable");
    let (_, public_view) = fhir(&app, &mut seen, &last, None).await;
    assert_eq!(public_view["status"], "busy");
    let (_, free) = fhir(&app, &mut seen, &format!("{slot_search}&status=free"), None).await;
    assert_eq!(free["total"], 0, "{free}");

    // Errors are OperationOutcomes with the right status, naming the parameter.
    let (status, body) = fhir(&app, &mut seen, "/fhir/R4/Appointment", None).await;
    assert_eq!(
        (status, body["issue"][0]["code"].as_str()),
        (401, Some("login")),
        "{body}"
    );
    for (path, param) in [
        ("/fhir/R4/Appointment?patinet=x".to_owned(), "patinet"),
        ("/fhir/R4/Appointment?date=ne2026-12-01".to_owned(), "date"),
        ("/fhir/R4/Appointment?status=late".to_owned(), "status"),
        ("/fhir/R4/Appointment?_count=101".to_owned(), "_count"),
        ("/fhir/R4/Appointment?_cursor=nope".to_owned(), "_cursor"),
        (
            format!("/fhir/R4/Slot?schedule.actor={doctor_ref}&start=ge2026-13-01"),
            "start",
        ),
        (
            format!("/fhir/R4/Slot?schedule.actor={doctor_ref}&start=ge{date}&start=lt2099-01-01"),
            "start",
        ),
        ("/fhir/R4/Slot?status=free".to_owned(), "schedule"),
        ("/fhir/R4/Schedule".to_owned(), "actor"),
    ] {
        let (status, body) = fhir(&app, &mut seen, &path, Some(&c.admin.token)).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(outcome_names(&body, param), "{path}: {body}");
        assert_eq!(body["issue"][0]["code"], "invalid");
    }
    for path in [
        "/fhir/R4/Slot/not-a-uuid",
        "/fhir/R4/Patient/123",
        &format!("/fhir/R4/Schedule/{}", c.visits[0]),
    ] {
        let (status, body) = fhir(&app, &mut seen, path, Some(&c.admin.token)).await;
        assert_eq!(
            (status, body["issue"][0]["code"].as_str()),
            (404, Some("not-found")),
            "{path}: {body}"
        );
    }

    // HL7's schema accepts every one of them.
    let (dir, files) = write_all(&seen.0);
    let (code, output) = validate(&files);
    assert_eq!(
        code,
        0,
        "the FHIR validator refused (or is not installed: `make fhir-deps`):\n{output}\nfiles: {}",
        dir.display()
    );
    assert_eq!(
        output.matches(": valid FHIR R4").count(),
        seen.0.len(),
        "{output}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The check can fail: the validator refuses resources that break R4 (a Slot without its
/// schedule and with a status of ours, an Appointment status R4 does not have, a bundle
/// holding such a slot), and accepts the well-formed one they were made from.
#[tokio::test]
async fn fhir_validator_refuses_invalid_resources() {
    let slot = json!({
        "resourceType": "Slot", "id": "0b8f3c56-2a51-4c8e-9a39-3f0d1c2b7a10",
        "schedule": { "reference": "Schedule/1c0e8a2e-56a8-4f0e-8f51-2b9f33f5c0aa" },
        "status": "free", "start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z",
    });
    let mut booked = slot.clone();
    booked["status"] = json!("BOOKED");
    booked.as_object_mut().unwrap().remove("schedule");
    let appointment = json!({
        "resourceType": "Appointment", "status": "in-progress",
        "participant": [{ "actor": { "reference": "Patient/x" }, "status": "accepted" }],
    });
    let bundle = json!({
        "resourceType": "Bundle", "type": "searchset", "total": 1,
        "entry": [{ "fullUrl": "http://localhost/fhir/R4/Slot/x", "resource": booked }],
    });
    let (dir, files) = write_all(&[
        ("valid".into(), slot),
        ("slot".into(), booked),
        ("appointment".into(), appointment),
        ("bundle".into(), bundle),
    ]);
    let (code, output) = validate(&files[..1]);
    assert_eq!(code, 0, "{output}");
    for file in &files[1..] {
        let (code, output) = validate(std::slice::from_ref(file));
        assert_eq!(code, 1, "{}: {output}", file.display());
        assert!(output.contains("INVALID"), "{output}");
    }
    let (_, output) = validate(&files[1..2]);
    assert!(
        output.contains("schedule") && output.contains("/status"),
        "{output}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

"""Set-up for the contract test, over HTTP only, as a client would do it.

Run by scripts/contract-test.sh inside scripts/with-server.sh (HS_BASE_URL, HS_ADMIN_EMAIL,
HS_ADMIN_PASSWORD). The admin creates a department, a doctor (account and profile), a
receptionist and the doctor's weekly schedule (slots follow); a patient registers; the patient
books, the desk confirms, the doctor starts, prescribes and completes (so a bill exists); the
patient uploads a record. Each role is logged in. A throwaway patient gets its own token for the
operations that end sessions.

Writes into OUT_DIR:
  tokens.env        shell assignments TOKEN_PATIENT=..., TOKEN_DOCTOR=..., ...
  schemathesis.toml the run's configuration with a dictionary of the ids just created, so
                    fuzzed path and body ids hit real resources part of the time (otherwise
                    nearly every id would be a random UUID and the answer a plain 404)
"""

import datetime
import json
import os
import sys
import uuid

import requests

BASE = os.environ["HS_BASE_URL"]
PASSWORD = "contract-Passw0rd"
OUT_DIR = sys.argv[1]
TEMPLATE = sys.argv[2]
RUN = uuid.uuid4().hex[:8]


def call(method, path, token=None, expect=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = requests.request(method, BASE + path, headers=headers, timeout=30, **kwargs)
    if expect is not None and response.status_code != expect:
        sys.exit(
            f"contract set-up: {method} {path} answered {response.status_code}, "
            f"expected {expect}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def login(email, password=PASSWORD):
    body = call("POST", "/auth/login", expect=200, json={"email": email, "password": password})
    return body["accessToken"], body["user"]["id"]


def staff(admin, role, **extra):
    email = f"{role.lower()}-{RUN}@clinic.test"
    body = {"email": email, "password": PASSWORD, "name": f"{role.title()} Contract", "role": role}
    body.update(extra)
    user = call("POST", "/users", admin, expect=201, json=body)
    token, _ = login(email)
    return token, user["id"]


def register(tag):
    email = f"{tag}-{RUN}@mail.test"
    user = call(
        "POST",
        "/auth/register",
        expect=201,
        json={"email": email, "password": PASSWORD, "name": "Pat Contract"},
    )
    token, _ = login(email)
    patient = call("GET", "/patients/me", token, expect=200)
    return token, user["id"], patient["id"]


def pdf():
    return b"%PDF-1.4\n% contract test\n" + b"glucose 5.1 mmol/L\n" * 20 + b"%%EOF\n"


def main():
    admin, admin_user = login(os.environ["HS_ADMIN_EMAIL"], os.environ["HS_ADMIN_PASSWORD"])

    department = call(
        "POST",
        "/departments",
        admin,
        expect=201,
        json={"name": f"Cardiology {RUN}", "description": "Heart"},
    )["id"]
    doctor, doctor_user = staff(
        admin,
        "DOCTOR",
        doctor={
            "specialization": "Cardiology",
            "qualification": "MD",
            "experienceYears": 7,
            "licenseNumber": f"LIC-{RUN}",
            "consultationFee": "80.50",
        },
    )
    page = call("GET", "/doctors?perPage=100", admin, expect=200)
    doctor_id = next(d["id"] for d in page["items"] if d.get("userId") == doctor_user)
    call("PUT", f"/doctors/{doctor_id}/departments", admin, expect=200,
         json={"departmentIds": [department]})
    desk, desk_user = staff(admin, "RECEPTIONIST")

    # A schedule on every weekday, so that slots exist whatever day the test runs.
    schedules = []
    for day in ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]:
        schedules.append(
            call(
                "POST",
                f"/doctors/{doctor_id}/schedules",
                admin,
                expect=201,
                json={"dayOfWeek": day, "startTime": "09:00", "endTime": "12:00",
                      "slotDurationMinutes": 30},
            )["id"]
        )

    patient, patient_user, patient_id = register("patient")
    date = (datetime.datetime.now(datetime.timezone.utc).date()
            + datetime.timedelta(days=2)).isoformat()
    slots = [s["id"] for s in call("GET", f"/doctors/{doctor_id}/slots?date={date}", expect=200)]
    if len(slots) < 3:
        sys.exit(f"contract set-up: only {len(slots)} free slots on {date}")

    # A whole visit: booked, confirmed, started, prescribed, completed (a bill), plus a record.
    visit = call("POST", "/appointments", patient, expect=201,
                 json={"timeSlotId": slots[0], "type": "CONSULTATION", "reason": "Ear ache"})["id"]
    call("POST", f"/appointments/{visit}/confirm", desk, expect=200)
    call("POST", f"/appointments/{visit}/start", doctor, expect=200)
    prescription = call(
        "POST",
        f"/appointments/{visit}/prescription",
        doctor,
        expect=201,
        json={"diagnosis": "Otitis media", "items": [
            {"medicineName": "Amoxicillin", "dosage": "500 mg", "frequency": "3 times a day",
             "duration": "7 days"}]},
    )["id"]
    call("POST", f"/appointments/{visit}/complete", doctor, expect=200)
    bills = call("GET", "/billings", patient, expect=200)["items"]
    bill = bills[0]["id"]
    # A second appointment left BOOKED, for the transitions the fuzzer tries.
    booked = call("POST", "/appointments", patient, expect=201,
                  json={"timeSlotId": slots[1], "type": "FOLLOW_UP", "reason": "Check"})["id"]
    record = call(
        "POST",
        f"/patients/{patient_id}/medical-records",
        patient,
        expect=201,
        files=[("type", (None, "LAB_REPORT")), ("title", (None, "Blood panel")),
               ("file", ("panel.pdf", pdf(), "application/pdf"))],
    )["id"]
    notifications = call("GET", "/notifications", patient, expect=200)["items"]

    # The operations that end sessions (logout, logout-all, ending a session, a password
    # change) run as this throwaway patient, so that they cannot kill the tokens of the
    # role runs.
    throwaway, throwaway_user, _ = register("throwaway")
    sessions = call("GET", "/auth/sessions", throwaway, expect=200)

    tokens = {
        "TOKEN_PATIENT": patient,
        "TOKEN_DOCTOR": doctor,
        "TOKEN_RECEPTIONIST": desk,
        "TOKEN_ADMIN": admin,
        "TOKEN_THROWAWAY": throwaway,
    }
    with open(os.path.join(OUT_DIR, "tokens.env"), "w") as out:
        for name, value in tokens.items():
            out.write(f"{name}={value}\n")

    # Ids of things that exist. The admin's own user id is left out: the admin run must not
    # deactivate its own account (PATCH /users/{id}/status) half way through.
    ids = [department, doctor_id, doctor_user, desk_user, patient_user, patient_id, visit, booked,
           prescription, bill, record, slots[2], throwaway_user]
    ids += schedules[:2] + [n["id"] for n in notifications[:2]] + [s["id"] for s in sessions]
    with open(TEMPLATE) as f:
        config = f.read()
    config = config.replace("@IDS@", json.dumps(ids)).replace("@DATE@", json.dumps(date))
    with open(os.path.join(OUT_DIR, "schemathesis.toml"), "w") as out:
        out.write(config)
    print(f"contract set-up: {len(ids)} ids, slots on {date}", file=sys.stderr)


main()

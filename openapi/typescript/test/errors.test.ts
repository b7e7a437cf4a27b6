// Typed error bodies: every error answer is an `ErrorBody` {code, message, field}, typed as such
// by the SDK (`expectError` does not compile when an operation's `error` is `never`).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { bookAppointment, createHealthSyncClient, login, TokenStore, type Schemas } from "../src/index.js";
import {
  anonymous,
  BASE_URL,
  expectError,
  freeSlots,
  must,
  PASSWORD,
  registerPatient,
  setUpClinic,
  unique,
} from "./support.js";

test("401: no session, a token that is not one, wrong credentials", async () => {
  expectError(await anonymous().GET("/me"), { status: 401, code: "UNAUTHORIZED" });
  const forged = createHealthSyncClient({ baseUrl: BASE_URL, token: () => "not-a-jwt" });
  expectError(await forged.GET("/appointments"), { status: 401, code: "UNAUTHORIZED" });
  const tokens = new TokenStore();
  const wrong = await login(anonymous(), tokens, { email: `nobody-${unique()}@mail.test`, password: PASSWORD });
  expectError(wrong, { status: 401, code: "INVALID_CREDENTIALS" });
  assert.equal(tokens.token, null, "no token is kept from a refused login");
  // A logged-out session's token is refused at once.
  const patient = await registerPatient();
  const stale = patient.tokens.token;
  assert.equal((await patient.api.POST("/auth/logout")).response.status, 204);
  const old = createHealthSyncClient({ baseUrl: BASE_URL, token: () => stale });
  expectError(await old.GET("/me"), { status: 401, code: "UNAUTHORIZED" });
});

test("403: a role closed out of a route", async () => {
  const patient = await registerPatient();
  expectError(await patient.api.POST("/departments", { body: { name: "Mine" } }), {
    status: 403,
    code: "FORBIDDEN",
  });
  expectError(await patient.api.GET("/audit-logs"), { status: 403, code: "FORBIDDEN" });
});

test("404: an unknown id, and another patient's appointment", async () => {
  const patient = await registerPatient();
  const missing = await patient.api.GET("/appointments/{id}", {
    params: { path: { id: randomUUID() } },
  });
  const error = expectError(missing, { status: 404, code: "NOT_FOUND" });
  assert.equal(error.field ?? null, null);
  expectError(await anonymous().GET("/doctors/{id}", { params: { path: { id: randomUUID() } } }), {
    status: 404,
    code: "NOT_FOUND",
  });
});

test("409 SLOT_TAKEN: a slot booked by one patient is refused to the next; 422 names the field", async () => {
  const clinic = await setUpClinic("80.00");
  const first = await registerPatient();
  const second = await registerPatient();
  const slot = must((await freeSlots(first.api, clinic.doctorProfile.id, clinic.date))[0], "a slot");
  const body: Schemas["BookRequest"] = { timeSlotId: slot.id, type: "CONSULTATION", reason: "Check-up" };
  const won = await bookAppointment(first.api, body);
  assert.equal(won.response.status, 201, JSON.stringify(won.error));
  const lost = await bookAppointment(second.api, body);
  expectError(lost, { status: 409, code: "SLOT_TAKEN" });

  // 422: well-formed but invalid values, each naming its field.
  expectError(await bookAppointment(second.api, { ...body, reason: " " }), {
    status: 422,
    code: "VALIDATION_FAILED",
    field: "reason",
  });
  expectError(
    await anonymous().POST("/auth/register", {
      body: { email: `short-${unique()}@mail.test`, password: "short", name: "Shorty" },
    }),
    { status: 422, code: "VALIDATION_FAILED", field: "password" },
  );
  expectError(await second.api.GET("/appointments", { params: { query: { perPage: 1000 } } }), {
    status: 422,
    code: "VALIDATION_FAILED",
    field: "perPage",
  });
  // The same Idempotency-Key with another body is refused too.
  const keyed = await bookAppointment(second.api, { ...body, timeSlotId: must((await freeSlots(second.api, clinic.doctorProfile.id, clinic.date))[0], "a slot").id });
  assert.equal(keyed.response.status, 201, JSON.stringify(keyed.error));
  const reused = await bookAppointment(second.api, { ...body, reason: "Another" }, { idempotencyKey: keyed.idempotencyKey });
  expectError(reused, { status: 422, code: "VALIDATION_FAILED", field: "Idempotency-Key" });
});

// A whole visit driven through the SDK against the real server, each role doing its step.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bookAppointment,
  downloadMedicalRecordFile,
  newIdempotencyKey,
  uploadMedicalRecord,
  type Schemas,
} from "../src/index.js";
import { anonymous, freeSlots, LiveQueue, must, pdf, registerPatient, setUpClinic } from "./support.js";

test("a whole visit: book with an Idempotency-Key, confirm, start, prescribe, upload, complete, pay, download, live notifications", async (t) => {
  const clinic = await setUpClinic("123.45");
  const patient = await registerPatient("Ann Patient");

  // The patient browses: departments, the doctors of one, and a doctor's free slots.
  const departments = await patient.api.GET("/departments");
  assert.ok(must(departments.data, "departments").items.some((d) => d.id === clinic.department.id));
  const doctors = await patient.api.GET("/doctors", {
    params: { query: { departmentId: clinic.department.id } },
  });
  const listed = must(doctors.data, "doctors").items;
  assert.deepEqual(
    listed.map((d) => d.id),
    [clinic.doctorProfile.id],
  );
  const shown = must(listed[0], "the doctor");
  assert.equal(shown.consultationFee, "123.45");
  assert.equal(shown.email ?? null, null, "the public view leaves out the email");
  assert.equal(shown.userId ?? null, null, "and the user id");
  const slots = await freeSlots(anonymous(), clinic.doctorProfile.id, clinic.date);
  assert.equal(slots.length, 6, "09:00 to 12:00 in 30 minutes");
  const slot = must(slots[0], "a free slot");
  assert.equal(slot.startTime.slice(0, 5), "09:00");

  // The patient keeps the live stream open for the whole visit.
  const live = new LiveQueue(patient.api);
  t.after(() => live.close());
  const ready = await live.next();
  assert.deepEqual(ready, { event: "ready", data: { count: 0 } });

  // Booking with an Idempotency-Key; a replay with the same key gives the same appointment.
  const key = newIdempotencyKey();
  const body: Schemas["BookRequest"] = { timeSlotId: slot.id, type: "CONSULTATION", reason: "Ear ache" };
  const booked = await bookAppointment(patient.api, body, { idempotencyKey: key });
  assert.equal(booked.response.status, 201, JSON.stringify(booked.error));
  assert.equal(booked.idempotencyKey, key);
  const appointment = must(booked.data, "the appointment");
  assert.equal(appointment.status, "SCHEDULED");
  assert.equal(appointment.consultationFee, "123.45");
  assert.equal(appointment.patientId, patient.patientId);
  const replay = await bookAppointment(patient.api, body, { idempotencyKey: key });
  assert.equal(replay.response.status, 201);
  assert.equal(must(replay.data, "the replayed appointment").id, appointment.id, "the same appointment, not a second");
  const mine = await patient.api.GET("/appointments");
  assert.equal(must(mine.data, "my appointments").total, 1);
  const booking = await live.nextNotification();
  assert.equal(booking.type, "BOOKING_CONFIRMATION");
  assert.equal(booking.appointmentId, appointment.id);
  const after = await freeSlots(anonymous(), clinic.doctorProfile.id, clinic.date);
  assert.ok(!after.some((s) => s.id === slot.id), "the slot is no longer free");

  // The desk confirms; the doctor starts the visit.
  const confirmed = await clinic.desk.api.POST("/appointments/{id}/confirm", {
    params: { path: { id: appointment.id } },
  });
  assert.equal(must(confirmed.data, `confirmed (${JSON.stringify(confirmed.error)})`).status, "CONFIRMED");
  const started = await clinic.doctor.api.POST("/appointments/{id}/start", {
    params: { path: { id: appointment.id } },
  });
  assert.equal(must(started.data, `started (${JSON.stringify(started.error)})`).status, "IN_PROGRESS");

  // The doctor prescribes; the patient hears of it at once.
  const prescribed = await clinic.doctor.api.POST("/appointments/{id}/prescription", {
    params: { path: { id: appointment.id } },
    body: {
      diagnosis: "Otitis media",
      items: [
        { medicineName: "Amoxicillin", dosage: "500 mg", frequency: "3 times a day", duration: "7 days" },
        { medicineName: "Ibuprofen", dosage: "200 mg", frequency: "as needed", duration: "3 days", instructions: "with food" },
      ],
    },
  });
  assert.equal(prescribed.response.status, 201, JSON.stringify(prescribed.error));
  const prescriptionNote = await live.nextNotification();
  assert.equal(prescriptionNote.type, "PRESCRIPTION");
  assert.equal(prescriptionNote.appointmentId, appointment.id);

  // The doctor uploads a PDF lab report (typed multipart, larger than one read chunk).
  const report = pdf(300_000);
  const uploaded = await uploadMedicalRecord(clinic.doctor.api, patient.patientId, {
    type: "LAB_REPORT",
    title: "Blood panel",
    description: "CBC, November",
    file: new Blob([report], { type: "application/pdf" }),
    fileName: "cbc 2026-11.pdf",
  });
  assert.equal(uploaded.response.status, 201, JSON.stringify(uploaded.error));
  const record = must(uploaded.data, "the stored record");
  assert.equal(record.contentType, "application/pdf");
  assert.equal(record.sizeBytes, report.byteLength);
  assert.equal(record.fileName, "cbc 2026-11.pdf");
  assert.equal(record.type, "LAB_REPORT");

  // Completing bills the visit.
  const completed = await clinic.doctor.api.POST("/appointments/{id}/complete", {
    params: { path: { id: appointment.id } },
  });
  assert.equal(must(completed.data, `completed (${JSON.stringify(completed.error)})`).status, "COMPLETED");
  const billNote = await live.nextNotification();
  assert.equal(billNote.type, "PAYMENT");

  // The patient pays the bill, the fee quoted at booking to the cent.
  const bills = await patient.api.GET("/billings");
  const bill = must(must(bills.data, "my bills").items[0], "the bill");
  assert.equal(bill.status, "PENDING");
  assert.equal(bill.amount, "123.45");
  assert.equal(bill.appointmentId, appointment.id);
  const paid = await patient.api.POST("/billings/{id}/pay", {
    params: { path: { id: bill.id } },
    body: { paymentMethod: "CARD" },
  });
  const receipt = must(paid.data, `paid (${JSON.stringify(paid.error)})`);
  assert.equal(receipt.status, "PAID");
  assert.equal(receipt.paymentMethod, "CARD");
  const paymentNote = await live.nextNotification();
  assert.equal(paymentNote.title, "Payment received");

  // The patient reads the prescription and downloads the report, byte for byte.
  const prescription = await patient.api.GET("/appointments/{id}/prescription", {
    params: { path: { id: appointment.id } },
  });
  assert.deepEqual(
    must(prescription.data, "the prescription").items.map((i) => i.medicineName),
    ["Amoxicillin", "Ibuprofen"],
  );
  const records = await patient.api.GET("/patients/{id}/medical-records", {
    params: { path: { id: patient.patientId }, query: { type: "LAB_REPORT" } },
  });
  const listedRecord = must(must(records.data, "my records").items[0], "the record");
  assert.equal(listedRecord.id, record.id);
  const download = await downloadMedicalRecordFile(patient.api, listedRecord);
  const file = must(download.data, `the file (${JSON.stringify(download.error)})`);
  assert.equal(file.fileName, "cbc 2026-11.pdf");
  assert.equal(file.contentType, "application/pdf");
  assert.deepEqual(new Uint8Array(await file.blob.arrayBuffer()), report, "the same bytes come back");
  // Without a session the file is not served.
  const refused = await downloadMedicalRecordFile(anonymous(), record.id);
  assert.equal(refused.data, undefined);
  assert.equal(must(refused.error, "a 401 body").code, "UNAUTHORIZED");

  // Everything the stream said is in the list too.
  const notes = await patient.api.GET("/notifications", { params: { query: { perPage: 50 } } });
  assert.deepEqual(
    must(notes.data, "my notifications").items.map((n) => n.type).sort(),
    ["BOOKING_CONFIRMATION", "PAYMENT", "PAYMENT", "PRESCRIPTION"],
  );
  assert.deepEqual(await live.close(), { kind: "closed" });
});

test("the stream gets a new ticket for each connection and stops when the session ends", async (t) => {
  const patient = await registerPatient();
  const live = new LiveQueue(patient.api);
  t.after(() => live.close());
  assert.equal((await live.next()).event, "ready");
  // A second stream of the same session works at once: each connection has its own ticket.
  const second = new LiveQueue(patient.api);
  t.after(() => second.close());
  assert.equal((await second.next()).event, "ready");
  assert.deepEqual(await second.close(), { kind: "closed" });
  // Logging out: at its next keep-alive the server ends the stream; no new ticket is given.
  const out = await patient.api.POST("/auth/logout");
  assert.equal(out.response.status, 204);
  const ended = await live.next(30_000);
  assert.deepEqual(ended, { event: "end", data: { reason: "session ended" } });
  assert.deepEqual(await live.stream.done, { kind: "ended", reason: "session ended" });
});

// A forgotten password, through the SDK: ask for a link, read it from the email the server wrote
// (scripts/with-server.sh points EMAIL_DIR at a directory of its own; without SMTP_URL the server
// writes each email there as an .eml file), set a new password with it. And a patient's email
// choices, typed both ways.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { login, TokenStore, type Schemas } from "../src/index.js";
import { anonymous, expectError, must, PASSWORD, registerPatient, signIn } from "./support.js";

const EMAIL_DIR = must(process.env["EMAIL_DIR"], "EMAIL_DIR (set by scripts/with-server.sh)");

/** The reset token of the newest email to `address`, waiting for the relay to write it. */
async function resetTokenFor(address: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let files: string[] = [];
    try {
      files = readdirSync(EMAIL_DIR).filter((f) => f.endsWith(".eml"));
    } catch {
      // The directory appears with the first email.
    }
    const mine = files
      .sort()
      .reverse()
      .map((f) => readFileSync(join(EMAIL_DIR, f), "utf8"))
      .find((raw) => raw.includes(`<${address}>`) && raw.includes("Subject: Reset your"));
    if (mine !== undefined) {
      // Quoted-printable: soft line breaks removed, the token is plain hex.
      const unfolded = mine.replace(/=\r?\n/g, "");
      return must(/hsrst_[0-9a-f]{64}/.exec(unfolded)?.[0], "a reset token in the email");
    }
    if (Date.now() > deadline) throw new Error(`no reset email to ${address} in ${EMAIL_DIR}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("a forgotten password: the link by email, a new password, the old one gone", async () => {
  const patient = await registerPatient();
  const asked = await anonymous().POST("/auth/forgot-password", { body: { email: patient.email } });
  assert.equal(asked.response.status, 202);
  const unknown = await anonymous().POST("/auth/forgot-password", {
    body: { email: `nobody-${patient.email}` },
  });
  assert.deepEqual(unknown.data, asked.data, "the same answer for an unknown address");
  const token = await resetTokenFor(patient.email);

  expectError(
    await anonymous().POST("/auth/reset-password", { body: { token, newPassword: "short" } }),
    { status: 422, code: "VALIDATION_FAILED", field: "newPassword" },
  );
  const reset = await anonymous().POST("/auth/reset-password", {
    body: { token, newPassword: "brand-new-password-5" },
  });
  assert.equal(reset.response.status, 204);
  // The session the patient had is over; the old password no longer works, the new one does.
  expectError(await patient.api.GET("/me"), { status: 401, code: "UNAUTHORIZED" });
  expectError(await login(anonymous(), new TokenStore(), { email: patient.email, password: PASSWORD }), {
    status: 401,
    code: "INVALID_CREDENTIALS",
  });
  const again = await signIn(patient.email, "brand-new-password-5");
  assert.equal(again.user.id, patient.user.id);
  // The link worked once.
  expectError(
    await anonymous().POST("/auth/reset-password", { body: { token, newPassword: "another-password-6" } }),
    { status: 422, code: "VALIDATION_FAILED", field: "token" },
  );
});

test("a patient's email choices: all on at first, then kind by kind", async () => {
  const patient = await registerPatient();
  const initial = await patient.api.GET("/me/email-preferences");
  const allOn: Schemas["EmailPreferencesDto"] = {
    bookingConfirmations: true,
    reminders: true,
    cancellations: true,
    reschedules: true,
    bills: true,
    paymentReceipts: true,
    waitlistOffers: true,
  };
  assert.deepEqual(initial.data, allOn);
  const changed = await patient.api.PATCH("/me/email-preferences", { body: { reminders: false } });
  assert.deepEqual(changed.data, { ...allOn, reminders: false });
  const again = await patient.api.PATCH("/me/email-preferences", { body: { bills: false } });
  assert.deepEqual(again.data, { ...allOn, reminders: false, bills: false }, "an unnamed kind keeps its choice");
});

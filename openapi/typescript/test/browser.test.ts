// The SDK in a real browser: headless Debian Chromium (driven by playwright-core) loads a page
// from another origin than the API's, which logs in, books and receives live notifications
// through the SDK (EventSource with a single-use ticket). A second origin, not in
// CORS_ALLOWED_ORIGINS, cannot even log in.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { BASE_URL, freeSlots, must, PASSWORD, registerPatient, setUpClinic } from "./support.js";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const PAGE_PORT = Number(must(process.env["HS_PAGE_PORT"], "HS_PAGE_PORT (the allowed page origin's port)"));
const OTHER_PORT = Number(must(process.env["HS_OTHER_PORT"], "HS_OTHER_PORT (a port of an origin not allowed)"));

let browser: Browser;
const servers: Server[] = [];

/** Serves the page and its bundle (the compiled page module and the SDK, bundled by esbuild). */
async function servePage(): Promise<void> {
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL("./browser/page.js", import.meta.url))],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "chrome120",
    logLevel: "silent",
  });
  const script = must(bundled.outputFiles[0], "the page bundle").text;
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>HealthSync SDK</title></head>' +
    '<body><ol id="log"></ol><script type="module" src="/page.js"></script></body></html>';
  for (const port of [PAGE_PORT, OTHER_PORT]) {
    const server = createServer((request, response) => {
      const path = new URL(request.url ?? "/", "http://page").pathname;
      if (path === "/page.js") {
        response.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" });
        response.end(script);
      } else if (path === "/favicon.ico") {
        response.writeHead(204).end();
      } else if (path === "/") {
        response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        response.end(html);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    servers.push(server);
  }
}

/** Waits until `<body data-NAME>` satisfies `ok`; returns it. */
async function reported(page: Page, name: string, ok: (value: string) => boolean, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await page.getAttribute("body", `data-${name}`);
    if (value !== null && ok(value)) return value;
    const failed = await page.getAttribute("body", "data-failed");
    if (failed !== null) throw new Error(`the page failed: ${failed}`);
    if (Date.now() > deadline) {
      const log = await page.locator("#log").textContent();
      throw new Error(`the page never reported ${name} (got ${String(value)}); its log: ${String(log)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/test.sh, which installs Debian's chromium`);
  await servePage();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
});

after(async () => {
  await browser?.close();
  for (const server of servers) server.close();
});

test("a page on another origin logs in, books with an Idempotency-Key and receives live notifications", async () => {
  const clinic = await setUpClinic("95.00");
  const patient = await registerPatient("Browser Patient");
  const slot = must((await freeSlots(patient.api, clinic.doctorProfile.id, clinic.date))[0], "a free slot");

  const context = await browser.newContext();
  const page = await context.newPage();
  const urls: string[] = [];
  const authorizedStreams: string[] = [];
  page.on("request", (request) => {
    urls.push(request.url());
    if (request.url().includes("/notifications/stream?") && request.headers()["authorization"]) {
      authorizedStreams.push(request.url());
    }
  });
  // Script errors of the page (Chromium's own "Failed to load resource" lines for the expected
  // 409 are not script errors).
  const consoleErrors: string[] = [];
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      consoleErrors.push(message.text());
    }
  });
  const query = new URLSearchParams({ api: BASE_URL, email: patient.email, password: PASSWORD, slot: slot.id });
  await page.goto(`http://127.0.0.1:${PAGE_PORT}/?${query.toString()}`);

  assert.equal(await reported(page, "login", () => true), "ok PATIENT");
  assert.equal(await reported(page, "token-in-storage", () => true), "0", "the token is kept in memory only");
  assert.equal(await reported(page, "ready", () => true), "0");
  const appointmentId = await reported(page, "booked", () => true);
  assert.match(appointmentId, /^[0-9a-f-]{36}$/, `booked: ${appointmentId}`);
  assert.equal(await reported(page, "booked-status", () => true), "SCHEDULED");
  assert.equal(await reported(page, "replayed", () => true), appointmentId, "the replay with the same key");
  assert.equal(await reported(page, "again", () => true), "409 SLOT_TAKEN");
  // The page's own booking arrives on its live stream.
  await reported(page, "notifications", (v) => v.includes(`BOOKING_CONFIRMATION:${appointmentId}`));

  // From node, while the page listens: the desk confirms, the admin tells every patient.
  const confirmed = await clinic.desk.api.POST("/appointments/{id}/confirm", {
    params: { path: { id: appointmentId } },
  });
  assert.equal(must(confirmed.data, JSON.stringify(confirmed.error)).status, "CONFIRMED");
  const sent = await clinic.admin.api.POST("/notifications/broadcast", {
    body: { title: "Clinic closed Friday", message: "Staff training.", role: "PATIENT" },
  });
  assert.equal(sent.response.status, 201, JSON.stringify(sent.error));
  await reported(page, "titles", (v) => v.includes('"Clinic closed Friday"'));
  assert.equal(await page.getAttribute("body", "data-notifications"), `BOOKING_CONFIRMATION:${appointmentId} GENERAL:-`);

  // The stream was opened with a ticket, never with the token in the URL or a header.
  const streams = urls.filter((u) => u.includes("/notifications/stream?"));
  assert.equal(streams.length, 1, streams.join("\n"));
  assert.match(must(streams[0], "the stream URL"), /\?ticket=[^&]+$/);
  assert.ok(!urls.some((u) => /eyJ[\w-]+\.[\w-]+/.test(u)), "no JWT in any URL");
  assert.deepEqual(authorizedStreams, []);
  assert.equal(await page.getAttribute("body", "data-stream-errors"), null);
  assert.deepEqual(consoleErrors, []);
  await context.close();
});

test("a page on an origin not in CORS_ALLOWED_ORIGINS cannot read the API", async () => {
  const patient = await registerPatient();
  const context = await browser.newContext();
  const page = await context.newPage();
  const query = new URLSearchParams({ api: BASE_URL, email: patient.email, password: PASSWORD, slot: "x" });
  await page.goto(`http://127.0.0.1:${OTHER_PORT}/?${query.toString()}`);
  const login = await reported(page, "login", () => true);
  assert.match(login, /^network-error: TypeError/);
  await context.close();
});

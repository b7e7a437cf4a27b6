// Shared set-up of the SDK tests: the server that scripts/with-server.sh started, accounts of
// each role, a clinic with a doctor and free slots, and a queue over the live stream. Only the
// SDK is used to talk to the server.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  createHealthSyncClient,
  login,
  openNotificationStream,
  TokenStore,
  type HealthSyncClient,
  type NotificationStream,
  type Schemas,
  type StreamClosed,
  type StreamEvent,
} from "../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through scripts/with-server.sh`);
  return value;
}

export const BASE_URL = env("HS_BASE_URL");
export const PASSWORD = "correct-horse-42";

/** A value that must be there (throws with `what` otherwise): a typed, cast-free narrowing. */
export function must<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new Error(`expected ${what}`);
  return value;
}

/** A unique suffix for emails and licence numbers. */
export function unique(): string {
  return randomUUID().slice(0, 8);
}

/** A logged-in user: its client (bearer token from its own store) and who it is. */
export interface Account {
  api: HealthSyncClient;
  tokens: TokenStore;
  user: Schemas["UserDto"];
  email: string;
}

/** A client without a session. */
export function anonymous(): HealthSyncClient {
  return createHealthSyncClient({ baseUrl: BASE_URL });
}

/** Logs `email` in with the SDK's `login`; its client sends the token from then on. */
export async function signIn(email: string, password: string = PASSWORD): Promise<Account> {
  const tokens = new TokenStore();
  const api = createHealthSyncClient({ baseUrl: BASE_URL, token: tokens.provider });
  const { data, error } = await login(api, tokens, { email, password });
  assert.equal(error, undefined, `login of ${email}`);
  const session = must(data, "a login response");
  assert.equal(tokens.token, session.accessToken);
  return { api, tokens, user: session.user, email };
}

/** The admin account that with-server.sh created. */
export function signInAdmin(): Promise<Account> {
  return signIn(env("HS_ADMIN_EMAIL"), env("HS_ADMIN_PASSWORD"));
}

/** A self-registered patient, logged in, with its patient profile id. */
export async function registerPatient(name = "Pat Ient"): Promise<Account & { patientId: string }> {
  const email = `patient-${unique()}@mail.test`;
  const registered = await anonymous().POST("/auth/register", {
    body: { email, password: PASSWORD, name },
  });
  assert.equal(registered.response.status, 201, JSON.stringify(registered.error));
  const account = await signIn(email);
  const me = await account.api.GET("/patients/me");
  return { ...account, patientId: must(me.data, "my patient profile").id };
}

/** A staff account created by the admin (`POST /users`), logged in. */
export async function createStaff(
  admin: Account,
  role: "RECEPTIONIST" | "DOCTOR",
  doctor?: Schemas["DoctorProfileRequest"],
): Promise<Account> {
  const email = `${role.toLowerCase()}-${unique()}@clinic.test`;
  const created = await admin.api.POST("/users", {
    body: { email, password: PASSWORD, name: `${role} One`, role, doctor: doctor ?? null },
  });
  assert.equal(created.response.status, 201, JSON.stringify(created.error));
  return signIn(email);
}

/** The doctor profile of a doctor's user, as staff see it (the public view hides `userId`). */
export async function doctorProfileOf(staff: Account, userId: string): Promise<Schemas["DoctorDto"]> {
  for (let page = 1; ; page++) {
    const { data } = await staff.api.GET("/doctors", { params: { query: { perPage: 100, page } } });
    const list = must(data, "a page of doctors");
    const found = list.items.find((d) => d.userId === userId);
    if (found) return found;
    if (list.items.length < 100) throw new Error(`no doctor profile for user ${userId}`);
  }
}

/** A date `daysAhead` from today (UTC, the server's default clinic zone) and its weekday. */
export function dayAhead(daysAhead: number): { date: string; day: Schemas["DayOfWeek"] } {
  const d = new Date(Date.now() + daysAhead * 86_400_000);
  const days: Schemas["DayOfWeek"][] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
  return { date: d.toISOString().slice(0, 10), day: must(days[d.getUTCDay()], "a weekday") };
}

/** A clinic ready to book: a department, a doctor in it with a schedule and free slots, a desk. */
export interface Clinic {
  admin: Account;
  doctor: Account;
  doctorProfile: Schemas["DoctorDto"];
  desk: Account;
  department: Schemas["DepartmentDto"];
  date: string;
}

export async function setUpClinic(fee = "123.45"): Promise<Clinic> {
  const admin = await signInAdmin();
  const dept = await admin.api.POST("/departments", {
    body: { name: `Otology ${unique()}`, description: "Ears" },
  });
  const department = must(dept.data, `a department (${JSON.stringify(dept.error)})`);
  const doctor = await createStaff(admin, "DOCTOR", {
    specialization: "Otology",
    qualification: "MD",
    experienceYears: 7,
    licenseNumber: `LIC-${unique()}`,
    consultationFee: fee,
  });
  const profile = await doctorProfileOf(admin, doctor.user.id);
  const placed = await admin.api.PUT("/doctors/{id}/departments", {
    params: { path: { id: profile.id } },
    body: { departmentIds: [department.id] },
  });
  assert.equal(placed.response.status, 200, JSON.stringify(placed.error));
  const desk = await createStaff(admin, "RECEPTIONIST");
  const { date, day } = dayAhead(2);
  const schedule = await admin.api.POST("/doctors/{id}/schedules", {
    params: { path: { id: profile.id } },
    body: { dayOfWeek: day, startTime: "09:00", endTime: "12:00", slotDurationMinutes: 30 },
  });
  assert.equal(schedule.response.status, 201, JSON.stringify(schedule.error));
  return { admin, doctor, doctorProfile: profile, desk, department, date };
}

/** The free slots of a doctor on a date, as anyone sees them. */
export async function freeSlots(api: HealthSyncClient, doctorId: string, date: string) {
  const { data, error } = await api.GET("/doctors/{id}/slots", {
    params: { path: { id: doctorId }, query: { date } },
  });
  assert.equal(error, undefined);
  return must(data, "free slots");
}

/**
 * The live stream of an account (the SDK's `openNotificationStream`), with its events queued
 * so a test can wait for the next one.
 */
export class LiveQueue {
  readonly stream: NotificationStream;
  readonly errors: unknown[] = [];
  #events: StreamEvent[] = [];
  #waiters: Array<() => void> = [];

  constructor(api: HealthSyncClient, transport?: "fetch" | "eventsource") {
    this.stream = openNotificationStream(api, {
      transport: transport ?? "fetch",
      reconnectDelayMs: 100,
      onEvent: (event) => {
        this.#events.push(event);
        for (const wake of this.#waiters.splice(0)) wake();
      },
      onError: (error) => this.errors.push(error),
    });
  }

  /** The next event, or a failure after `ms`. */
  async next(ms = 15_000): Promise<StreamEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const event = this.#events.shift();
      if (event) return event;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no stream event within ${ms} ms (errors: ${this.errors.map(String).join("; ")})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next `notification` event's data (failing on any other event). */
  async nextNotification(ms?: number): Promise<Schemas["NotificationDto"]> {
    const event = await this.next(ms);
    if (event.event !== "notification") throw new Error(`expected a notification, got ${event.event}`);
    return event.data;
  }

  close(): Promise<StreamClosed> {
    this.stream.close();
    return this.stream.done;
  }
}

/** A small but real PDF of about `size` bytes (the server checks the bytes, not the name). */
export function pdf(size: number): Uint8Array<ArrayBuffer> {
  const lines = ["%PDF-1.4\n% lab report\n"];
  let length = lines[0]?.length ?? 0;
  for (let i = 0; length < size - 6; i++) {
    const line = `${String(i).padStart(8, "0")} glucose 5.${i % 10} mmol/L\n`;
    lines.push(line);
    length += line.length;
  }
  lines.push("%%EOF\n");
  return new Uint8Array(new TextEncoder().encode(lines.join("")));
}

/** `[]` when `E` is exactly the document's `ErrorBody`; otherwise a tuple no call can fill. */
type ErrorTypeCheck<E> = [E] extends [never]
  ? ["`error` is typed never: the operation documents no error answer"]
  : [E] extends [Schemas["ErrorBody"]]
    ? [Schemas["ErrorBody"]] extends [E]
      ? []
      : ["`error` is not exactly ErrorBody"]
    : ["`error` is not an ErrorBody"];

/** A runtime check of the `ErrorBody` shape (no cast). */
function isErrorBody(value: unknown): value is Schemas["ErrorBody"] {
  return (
    typeof value === "object" &&
    value !== null &&
    "code" in value &&
    typeof value.code === "string" &&
    "message" in value &&
    typeof value.message === "string"
  );
}

/**
 * Asserts an SDK result is the error answer (`status`, `code`, and `field` when given). Fails
 * to COMPILE when the operation's `error` is not typed as exactly `ErrorBody` (e.g. `never`
 * because the document lacks that error answer).
 */
export function expectError<R extends { error?: unknown; response: Response }>(
  result: R,
  expected: { status: number; code: string; field?: string | null },
  ...typed: ErrorTypeCheck<NonNullable<R["error"]>>
): Schemas["ErrorBody"] {
  void typed;
  const error = result.error;
  assert.ok(isErrorBody(error), `an ErrorBody answer ${expected.status} ${expected.code}, got ${JSON.stringify(error)}`);
  assert.equal(result.response.status, expected.status, JSON.stringify(error));
  assert.equal(error.code, expected.code);
  assert.ok(error.message.length > 0, "a message is given");
  if (expected.field !== undefined) assert.equal(error.field ?? null, expected.field);
  assert.equal(result.response.headers.get("Content-Type"), "application/json");
  return error;
}

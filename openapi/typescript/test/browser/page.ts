// The page of the browser test, bundled by esbuild and served from another origin than the
// API's. It uses only the SDK: log in, open the live stream (EventSource with a ticket), book
// with an Idempotency-Key, try the same slot again (a typed 409), and reports each step in
// `data-*` attributes of <body> for the test to read.
import {
  bookAppointment,
  createHealthSyncClient,
  login,
  openNotificationStream,
  TokenStore,
} from "../../src/index.js";

const params = new URLSearchParams(location.search);
const report = (name: string, value: string): void => {
  document.body.setAttribute(`data-${name}`, value);
  const line = document.createElement("li");
  line.textContent = `${name}: ${value}`;
  document.getElementById("log")?.append(line);
};
const append = (name: string, value: string): void => {
  const before = document.body.getAttribute(`data-${name}`);
  report(name, before ? `${before} ${value}` : value);
};

async function main(): Promise<void> {
  const tokens = new TokenStore();
  const api = createHealthSyncClient({ baseUrl: params.get("api") ?? "", token: tokens.provider });

  let loggedIn;
  try {
    loggedIn = await login(api, tokens, {
      email: params.get("email") ?? "",
      password: params.get("password") ?? "",
    });
  } catch (error) {
    // A page of an origin the API does not allow cannot read any answer.
    report("login", `network-error: ${String(error)}`);
    return;
  }
  if (!loggedIn.data) {
    report("login", `error ${loggedIn.error.code}`);
    return;
  }
  report("login", `ok ${loggedIn.data.user.role}`);
  report("token-in-storage", String(localStorage.length + sessionStorage.length));

  const ready = new Promise<void>((resolve) => {
    const stream = openNotificationStream(api, {
      transport: "eventsource",
      onEvent(event) {
        if (event.event === "ready") {
          report("ready", String(event.data.count));
          resolve();
        } else if (event.event === "notification") {
          append("notifications", `${event.data.type}:${event.data.appointmentId ?? "-"}`);
          append("titles", JSON.stringify(event.data.title));
        }
      },
      onError(error) {
        append("stream-errors", String(error instanceof Event ? error.type : error));
      },
      onClose(why) {
        report("stream-closed", why.kind);
      },
    });
    window.addEventListener("pagehide", () => stream.close());
  });
  await ready;

  const slotId = params.get("slot") ?? "";
  const booked = await bookAppointment(api, {
    timeSlotId: slotId,
    type: "CONSULTATION",
    reason: "Booked from the browser",
  });
  if (!booked.data) {
    report("booked", `error ${booked.error?.code ?? booked.response.status}`);
    return;
  }
  report("booked", booked.data.id);
  report("booked-status", booked.data.status);
  // The same key again: the same appointment, not a second booking.
  const replay = await bookAppointment(
    api,
    { timeSlotId: slotId, type: "CONSULTATION", reason: "Booked from the browser" },
    { idempotencyKey: booked.idempotencyKey },
  );
  report("replayed", replay.data?.id ?? `error ${replay.error?.code ?? "?"}`);
  // Without the key's protection, the slot is taken: a typed ErrorBody, read across origins.
  const again = await bookAppointment(api, {
    timeSlotId: slotId,
    type: "CONSULTATION",
    reason: "Booked from the browser",
  });
  report("again", again.error ? `${again.response.status} ${again.error.code}` : "booked twice");
}

main().catch((error: unknown) => report("failed", String(error)));

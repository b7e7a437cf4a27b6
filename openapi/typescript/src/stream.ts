import type { ErrorBody, HealthSyncClient, Schemas } from "./client.js";
import { SseParser } from "./sse.js";

/**
 * The data of the `end` event (`{"reason": "session ended"}`). The OpenAPI document describes
 * the stream only in prose (`text/event-stream` has no schema there), so this one shape is
 * written here; the other events carry the document's `CountDto` and `NotificationDto`.
 */
export interface StreamEnd {
  reason: string;
}

/** One event of the live notification stream. */
export type StreamEvent =
  /** First on every (re)connection: the unread count. Notifications committed while
   * disconnected are not replayed: re-read `GET /notifications?unreadOnly=true` on it. */
  | { event: "ready"; data: Schemas["CountDto"] }
  /** A notification for me, committed while connected. */
  | { event: "notification"; data: Schemas["NotificationDto"] }
  /** The server skipped `count` notifications (a burst): re-read the list. */
  | { event: "lagged"; data: Schemas["CountDto"] }
  /** My session ended (logout, password change, deactivation): the stream stops. */
  | { event: "end"; data: StreamEnd };

/**
 * Turns an SSE `(event, data)` pair into a typed {@link StreamEvent}; `undefined` for an event
 * this SDK does not know (ignored) or data that is not JSON. Shared by both transports.
 */
export function decodeStreamEvent(event: string, data: string): StreamEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  switch (event) {
    case "ready":
    case "lagged":
      return "count" in parsed && typeof parsed.count === "number"
        ? { event, data: { count: parsed.count } }
        : undefined;
    case "notification":
      return isNotification(parsed) ? { event, data: parsed } : undefined;
    case "end":
      return { event, data: { reason: "reason" in parsed ? String(parsed.reason) : "" } };
    default:
      return undefined;
  }
}

function isNotification(value: object): value is Schemas["NotificationDto"] {
  return (
    "id" in value &&
    typeof value.id === "string" &&
    "type" in value &&
    typeof value.type === "string" &&
    "title" in value &&
    typeof value.title === "string"
  );
}

/** Why a stream stopped for good (it is never reopened after this). */
export type StreamClosed =
  /** {@link NotificationStream.close} was called. */
  | { kind: "closed" }
  /** The server sent `end` (my session ended). */
  | { kind: "ended"; reason: string }
  /** No ticket could be had: the session is gone (401) or the role may not (403). */
  | { kind: "refused"; status: number; error: ErrorBody }
  /** Gave up after `maxReconnects` failed attempts in a row. */
  | { kind: "failed"; error: unknown };

/** Options of {@link openNotificationStream}. */
export interface NotificationStreamOptions {
  /** Each event, in order. */
  onEvent: (event: StreamEvent) => void;
  /** A connection dropped or could not be made; a new ticket and connection follow. */
  onError?: (error: unknown) => void;
  /** The stream stopped for good (also given by {@link NotificationStream.done}). */
  onClose?: (why: StreamClosed) => void;
  /**
   * `eventsource` (the browser's `EventSource`; the default where it exists) or `fetch` (reads
   * the body with the SDK's own SSE parser; the default elsewhere, e.g. Node 20).
   */
  transport?: "eventsource" | "fetch";
  /** First delay before reconnecting, doubled on each failure in a row up to 30 s. Default 1000. */
  reconnectDelayMs?: number;
  /** Failed attempts in a row before giving up. Default: never give up. */
  maxReconnects?: number;
  /**
   * Base URL of the API for the stream. Default: taken from the ticket request's own URL,
   * so it is the client's `baseUrl`.
   */
  baseUrl?: string;
}

/** An open live notification stream. */
export interface NotificationStream {
  /** Stops the stream (no reconnection); `done` then resolves with `{ kind: "closed" }`. */
  close(): void;
  /** Resolves once the stream has stopped for good. */
  readonly done: Promise<StreamClosed>;
}

type Connection = { kind: "ended"; reason: string } | { kind: "dropped"; opened: boolean; error: unknown } | { kind: "closed" };

/**
 * Opens my live notifications, safely from a browser: it gets a single-use ticket
 * (`POST /notifications/stream-ticket`, with the bearer token of the client), then opens
 * `GET /notifications/stream?ticket=...` (an `EventSource` cannot send an `Authorization`
 * header; the access token never goes into a URL). When the connection drops it gets a NEW
 * ticket and reconnects (a ticket works once), with growing delays; it stops for good on the
 * `end` event, when no ticket is given (session gone), or on {@link NotificationStream.close}.
 *
 * @example
 * const live = openNotificationStream(api, {
 *   onEvent(e) {
 *     if (e.event === "ready") refreshUnread(e.data.count);
 *     if (e.event === "notification") toast(e.data.title);
 *   },
 *   onClose(why) { if (why.kind !== "closed") showLoggedOut(); },
 * });
 * // later: live.close();
 */
export function openNotificationStream(
  client: HealthSyncClient,
  options: NotificationStreamOptions,
): NotificationStream {
  const transport =
    options.transport ?? (typeof EventSource === "function" ? "eventsource" : "fetch");
  const firstDelay = options.reconnectDelayMs ?? 1000;
  const maxReconnects = options.maxReconnects ?? Number.POSITIVE_INFINITY;
  const stopper = new AbortController();
  let settle: (why: StreamClosed) => void = () => undefined;
  const done = new Promise<StreamClosed>((resolve) => {
    settle = resolve;
  });

  const finish = (why: StreamClosed): void => {
    stopper.abort();
    options.onClose?.(why);
    settle(why);
  };

  const run = async (): Promise<StreamClosed> => {
    let failures = 0;
    for (;;) {
      if (stopper.signal.aborted) return { kind: "closed" };
      let lastError: unknown;
      try {
        const { data, error, response } = await client.POST("/notifications/stream-ticket", {
          signal: stopper.signal,
        });
        if (data) {
          const url = streamUrl(options.baseUrl ?? response.url, data.ticket);
          const connect = transport === "eventsource" ? viaEventSource : viaFetch;
          const outcome = await connect(url, options.onEvent, stopper.signal);
          if (outcome.kind !== "dropped") return outcome;
          if (outcome.opened) failures = 0;
          lastError = outcome.error;
        } else if (response.status === 401 || response.status === 403) {
          return { kind: "refused", status: response.status, error };
        } else {
          lastError = error;
        }
      } catch (thrown) {
        if (stopper.signal.aborted) return { kind: "closed" };
        lastError = thrown;
      }
      options.onError?.(lastError);
      failures += 1;
      if (failures > maxReconnects) return { kind: "failed", error: lastError };
      await delay(Math.min(firstDelay * 2 ** (failures - 1), 30_000), stopper.signal);
    }
  };
  void run().then(finish, (error: unknown) => finish({ kind: "failed", error }));

  return {
    close: () => stopper.abort(),
    done,
  };
}

/** `.../notifications/stream?ticket=...`, from the base URL or the ticket request's URL. */
function streamUrl(base: string, ticket: string): string {
  const url = new URL(base);
  url.pathname = url.pathname.endsWith("/notifications/stream-ticket")
    ? url.pathname.replace(/stream-ticket$/, "stream")
    : `${url.pathname.replace(/\/$/, "")}/notifications/stream`;
  url.search = `?ticket=${encodeURIComponent(ticket)}`;
  url.hash = "";
  return url.toString();
}

const EVENT_NAMES: ReadonlyArray<StreamEvent["event"]> = ["ready", "notification", "lagged", "end"];

/** One connection through the browser's `EventSource`; its own retries are not used (the
 * ticket is spent), so any error closes it and the caller reconnects with a new ticket. */
function viaEventSource(
  url: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
): Promise<Connection> {
  return new Promise((resolve) => {
    const source = new EventSource(url);
    let opened = false;
    const stop = (outcome: Connection): void => {
      source.close();
      signal.removeEventListener("abort", onAbort);
      resolve(outcome);
    };
    const onAbort = (): void => stop({ kind: "closed" });
    signal.addEventListener("abort", onAbort);
    source.onopen = () => {
      opened = true;
    };
    source.onerror = (error) => stop({ kind: "dropped", opened, error });
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message) => {
        const event = decodeStreamEvent(name, message.data);
        if (!event) return;
        onEvent(event);
        if (event.event === "end") stop({ kind: "ended", reason: event.data.reason });
      });
    }
  });
}

/** One connection through `fetch`, parsed by {@link SseParser}. */
async function viaFetch(
  url: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
): Promise<Connection> {
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: "text/event-stream" }, signal, cache: "no-store" });
  } catch (error) {
    return signal.aborted ? { kind: "closed" } : { kind: "dropped", opened: false, error };
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
    return { kind: "dropped", opened: false, error: new Error(`stream refused: ${response.status} ${text}`) };
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { kind: "dropped", opened: true, error: new Error("the server closed the stream") };
      for (const raw of parser.feed(decoder.decode(value, { stream: true }))) {
        const event = decodeStreamEvent(raw.event, raw.data);
        if (!event) continue;
        onEvent(event);
        if (event.event === "end") {
          await reader.cancel().catch(() => undefined);
          return { kind: "ended", reason: event.data.reason };
        }
      }
    }
  } catch (error) {
    return signal.aborted ? { kind: "closed" } : { kind: "dropped", opened: true, error };
  }
}

/** Waits `ms`, or less when `signal` aborts. Shared by the stream and the chat socket. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

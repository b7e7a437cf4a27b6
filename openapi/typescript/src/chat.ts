import type { HealthSyncClient, Schemas } from "./client.js";
import { delay, type StreamClosed } from "./stream.js";

/** A frame the server sends on the chat socket (the document's `ChatServerFrame`). */
export type ChatServerFrame = Schemas["ChatServerFrame"];
/** A frame the client sends on the chat socket (the document's `ChatClientFrame`). */
export type ChatClientFrame = Schemas["ChatClientFrame"];
/** One message of a conversation. */
export type ChatMessage = Schemas["ChatMessageDto"];

/** The browser's `WebSocket` constructor, or a compatible one (Node 22+, or the `ws` package). */
export type WebSocketConstructor = new (url: string) => WebSocket;

/** Options of {@link openChatSocket}. */
export interface ChatSocketOptions {
  /**
   * Each frame, in order. `message` frames of a conversation followed with
   * {@link ChatSocket.follow} come exactly once each and in `seq` order, across reconnects
   * (a live message that overtakes the backfill of a `resume` is held until the gap fills).
   */
  onFrame: (frame: ChatServerFrame) => void;
  /** A connection dropped or could not be made; a new ticket and connection follow. */
  onError?: (error: unknown) => void;
  /** The socket stopped for good (also given by {@link ChatSocket.done}). */
  onClose?: (why: StreamClosed) => void;
  /** First delay before reconnecting, doubled on each failure in a row up to 30 s. Default 1000. */
  reconnectDelayMs?: number;
  /** Failed attempts in a row before giving up. Default: never give up. */
  maxReconnects?: number;
  /** Base URL of the API. Default: taken from the ticket request's URL (the client's `baseUrl`). */
  baseUrl?: string;
  /** Default: `globalThis.WebSocket` (browsers, Node 22+; Node 20 with `--experimental-websocket`). */
  webSocket?: WebSocketConstructor;
}

/** An open chat socket: all my conversations, live. */
export interface ChatSocket {
  /**
   * Follows a conversation: asks now (and after every reconnect) for every message after the
   * last one seen (`afterSeq`, 0 for the whole conversation by default), so none is missed or
   * delivered twice.
   */
  follow(appointmentId: string, afterSeq?: number): void;
  /**
   * Sends a message; answers its client message id. Until the server acknowledges it (`sent`
   * or `error` with this `ref`), it is sent again after a reconnect: the id makes that safe.
   */
  send(appointmentId: string, message: string, clientMessageId?: string): string;
  /** Marks read the messages sent to me up to `upToSeq`. */
  markRead(appointmentId: string, upToSeq: number): void;
  /** The last message number seen in a conversation. */
  lastSeq(appointmentId: string): number | undefined;
  /** Closes the socket (no reconnection); `done` then resolves with `{ kind: "closed" }`. */
  close(): void;
  /** Resolves once the socket has stopped for good. */
  readonly done: Promise<StreamClosed>;
}

type Connection =
  | { kind: "ended"; reason: string }
  | { kind: "closed" }
  | { kind: "dropped"; opened: boolean; error: unknown };

/**
 * Opens my chat socket, safely from a browser: a single-use ticket
 * (`POST /notifications/stream-ticket`) opens `GET /chat/socket?ticket=...`, so the access
 * token never goes into a URL. When the connection drops it gets a NEW ticket and reconnects
 * with growing delays, then resumes every followed conversation from its last `seq` and sends
 * again the messages not yet acknowledged (same client message ids: never stored twice). It
 * stops for good when my session ends (`end`, close code 4001), when no ticket is given
 * (session gone), or on {@link ChatSocket.close}.
 *
 * @example
 * const chat = openChatSocket(api, {
 *   onFrame(f) {
 *     if (f.type === "message") render(f.message);
 *     if (f.type === "error") showError(f.code, f.message);
 *   },
 * });
 * chat.follow(appointmentId, lastSeqShown);
 * chat.send(appointmentId, "Should I keep taking it with food?");
 */
export function openChatSocket(client: HealthSyncClient, options: ChatSocketOptions): ChatSocket {
  const WebSocketImpl = options.webSocket ?? globalThis.WebSocket;
  const firstDelay = options.reconnectDelayMs ?? 1000;
  const maxReconnects = options.maxReconnects ?? Number.POSITIVE_INFINITY;
  const stopper = new AbortController();
  const followed = new Map<string, number>();
  const unacknowledged = new Map<string, ChatClientFrame>();
  let socket: WebSocket | undefined;
  let settle: (why: StreamClosed) => void = () => undefined;
  const done = new Promise<StreamClosed>((resolve) => {
    settle = resolve;
  });

  const transmit = (frame: ChatClientFrame): void => {
    // 1: OPEN. Frames sent while connecting or reconnecting are covered by `onOpen`.
    if (socket && socket.readyState === 1) socket.send(JSON.stringify(frame));
  };
  const onOpen = (): void => {
    for (const [appointmentId, afterSeq] of followed) {
      transmit({ type: "resume", appointmentId, afterSeq });
    }
    for (const frame of unacknowledged.values()) transmit(frame);
  };
  /** Messages of followed conversations that arrived ahead of a gap, by conversation and seq. */
  const ahead = new Map<string, Map<number, ChatServerFrame>>();
  /** Hands on a followed conversation's message in `seq` order: once, and never past a gap. */
  const deliverInOrder = (frame: ChatServerFrame, appointmentId: string, seq: number, last: number): void => {
    if (seq <= last) return; // already delivered (the seam between two connections)
    const held = ahead.get(appointmentId) ?? new Map<number, ChatServerFrame>();
    ahead.set(appointmentId, held);
    if (seq > last + 1) {
      // A live message ahead of the backfill a `resume` is bringing: hold it until the gap fills.
      held.set(seq, frame);
      return;
    }
    let next = seq;
    let current: ChatServerFrame | undefined = frame;
    while (current) {
      followed.set(appointmentId, next);
      options.onFrame(current);
      held.delete(next);
      next += 1;
      current = held.get(next);
    }
  };
  const onFrame = (frame: ChatServerFrame): void => {
    if (frame.type === "message") {
      const { appointmentId, seq } = frame.message;
      const last = followed.get(appointmentId);
      if (last !== undefined) {
        deliverInOrder(frame, appointmentId, seq, last);
        return;
      }
    } else if (frame.type === "resumed" && !frame.complete) {
      // One resume sends at most 500 messages: ask for the rest.
      transmit({ type: "resume", appointmentId: frame.appointmentId, afterSeq: frame.lastSeq });
    } else if (frame.type === "sent" && frame.clientMessageId) {
      unacknowledged.delete(frame.clientMessageId);
    } else if (frame.type === "error" && frame.ref && frame.code !== "SERVICE_UNAVAILABLE") {
      unacknowledged.delete(frame.ref);
    }
    options.onFrame(frame);
  };

  const connect = (url: string): Promise<Connection> =>
    new Promise((resolve) => {
      const ws = new WebSocketImpl(url);
      socket = ws;
      let opened = false;
      let ended: string | undefined;
      const onAbort = (): void => ws.close(1000);
      stopper.signal.addEventListener("abort", onAbort);
      ws.onopen = () => {
        opened = true;
        onOpen();
      };
      ws.onmessage = (event: MessageEvent) => {
        const frame = decodeChatFrame(event.data);
        if (!frame) return;
        if (frame.type === "end") ended = frame.reason;
        onFrame(frame);
      };
      ws.onclose = (event: CloseEvent) => {
        stopper.signal.removeEventListener("abort", onAbort);
        socket = undefined;
        if (stopper.signal.aborted) resolve({ kind: "closed" });
        else if (event.code === 4001) resolve({ kind: "ended", reason: ended ?? event.reason });
        else resolve({ kind: "dropped", opened, error: new Error(`closed ${event.code} ${event.reason}`) });
      };
    });

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
          const outcome = await connect(socketUrl(options.baseUrl ?? response.url, data.ticket));
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
  void run().then(
    (why) => {
      stopper.abort();
      options.onClose?.(why);
      settle(why);
    },
    (error: unknown) => {
      stopper.abort();
      options.onClose?.({ kind: "failed", error });
      settle({ kind: "failed", error });
    },
  );

  return {
    follow(appointmentId, afterSeq = 0) {
      const known = followed.get(appointmentId);
      followed.set(appointmentId, Math.max(afterSeq, known ?? afterSeq));
      transmit({ type: "resume", appointmentId, afterSeq: followed.get(appointmentId) ?? afterSeq });
    },
    send(appointmentId, message, clientMessageId = crypto.randomUUID()) {
      const frame: ChatClientFrame = { type: "send", appointmentId, message, clientMessageId };
      unacknowledged.set(clientMessageId, frame);
      transmit(frame);
      return clientMessageId;
    },
    markRead(appointmentId, upToSeq) {
      transmit({ type: "read", appointmentId, upToSeq });
    },
    lastSeq: (appointmentId) => followed.get(appointmentId),
    close: () => stopper.abort(),
    done,
  };
}

/** A server frame from a socket message's data; `undefined` for anything else (ignored). */
export function decodeChatFrame(data: unknown): ChatServerFrame | undefined {
  if (typeof data !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  return isServerFrame(parsed) ? parsed : undefined;
}

const SERVER_FRAME_TYPES: ReadonlySet<string> = new Set([
  "ready",
  "message",
  "read",
  "sent",
  "resumed",
  "lagged",
  "error",
  "end",
]);

function isServerFrame(value: unknown): value is ChatServerFrame {
  return (
    typeof value === "object" &&
    value !== null &&
    "type" in value &&
    typeof value.type === "string" &&
    SERVER_FRAME_TYPES.has(value.type)
  );
}

/** `ws(s)://.../chat/socket?ticket=...`, from the base URL or the ticket request's URL. */
function socketUrl(base: string, ticket: string): string {
  const url = new URL(base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = url.pathname.endsWith("/notifications/stream-ticket")
    ? url.pathname.replace(/\/notifications\/stream-ticket$/, "/chat/socket")
    : `${url.pathname.replace(/\/$/, "")}/chat/socket`;
  url.search = `?ticket=${encodeURIComponent(ticket)}`;
  url.hash = "";
  return url.toString();
}

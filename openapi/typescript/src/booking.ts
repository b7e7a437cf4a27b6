import type { HealthSyncClient, Schemas } from "./client.js";

/** Options of {@link bookAppointment}. */
export interface BookOptions {
  /**
   * The `Idempotency-Key` (1 to 200 visible ASCII characters). Give the same key when you
   * retry the same booking (e.g. after a timeout): the server answers with the first result
   * instead of booking twice. A new random key is made when absent.
   */
  idempotencyKey?: string;
  /**
   * How many times to retry, with the same key, when the request fails on the network or the
   * first attempt is still running (409 `IDEMPOTENCY_IN_FLIGHT`, honouring `Retry-After`).
   * Default 2.
   */
  retries?: number;
}

/** A fresh Idempotency-Key: a random UUID (Web Crypto, in browsers and Node 20+). */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Books a slot (`POST /appointments`, operation `bookAppointment`) with an `Idempotency-Key`,
 * retrying safely with the same key.
 *
 * @returns openapi-fetch's result (`data`: the `AppointmentDto`; `error`: an `ErrorBody`, e.g.
 * 409 `SLOT_TAKEN`), plus the `idempotencyKey` used, to retry later with the same one.
 *
 * @example
 * const { data, error, idempotencyKey } = await bookAppointment(api, {
 *   timeSlotId: slot.id, type: "CONSULTATION", reason: "Ear ache",
 * });
 * if (error?.code === "SLOT_TAKEN") showOtherSlots();
 */
export async function bookAppointment(
  client: HealthSyncClient,
  body: Schemas["BookRequest"],
  options: BookOptions = {},
) {
  const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
  const retries = options.retries ?? 2;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await client.POST("/appointments", {
        body,
        params: { header: { "Idempotency-Key": idempotencyKey } },
      });
      if (result.error?.code === "IDEMPOTENCY_IN_FLIGHT" && attempt < retries) {
        await sleep(retryAfterMs(result.response.headers.get("Retry-After")));
        continue;
      }
      return { ...result, idempotencyKey };
    } catch (networkError) {
      if (attempt >= retries) throw networkError;
      await sleep(250 * 2 ** attempt);
    }
  }
}

function retryAfterMs(header: string | null): number {
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 10) * 1000 : 500;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

import createClient from "openapi-fetch";
import type { Client, ClientOptions, Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/schema.js";

/** Every schema of the HealthSync OpenAPI document, by name (`Schemas["AppointmentDto"]`). */
export type Schemas = components["schemas"];

/** The body of every error answer: `{ code, message, field }`. */
export type ErrorBody = Schemas["ErrorBody"];

/** A typed openapi-fetch client of the whole HealthSync API. */
export type HealthSyncClient = Client<paths>;

/**
 * Gives the current access token, or nothing when logged out. Called before every request,
 * so a token that changes (a new login, another tab's logout) is picked up at once.
 */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** Options of {@link createHealthSyncClient}: openapi-fetch's own, plus the token. */
export interface HealthSyncClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** Where the API is served, e.g. `https://api.clinic.example` (no trailing slash needed). */
  baseUrl: string;
  /** Where the bearer token comes from; see {@link TokenStore} for a ready one. */
  token?: TokenProvider;
}

/**
 * Creates the typed client. Every call is typed from the OpenAPI document: path, path and
 * query parameters, body, the `data` of the success answer and the `error` of the error
 * answers (an {@link ErrorBody}).
 *
 * @example
 * const tokens = new TokenStore();
 * const api = createHealthSyncClient({ baseUrl: "http://localhost:8080", token: tokens.provider });
 * const { data, error } = await api.GET("/doctors", { params: { query: { perPage: 20 } } });
 */
export function createHealthSyncClient(options: HealthSyncClientOptions): HealthSyncClient {
  const { token, ...rest } = options;
  const client = createClient<paths>(rest);
  if (token) client.use(bearerAuth(token));
  return client;
}

/**
 * An openapi-fetch middleware that sends `Authorization: Bearer <token>` when `token` gives
 * one. A request that already carries an `Authorization` header keeps it.
 */
export function bearerAuth(token: TokenProvider): Middleware {
  return {
    async onRequest({ request }) {
      if (request.headers.has("Authorization")) return undefined;
      const value = await token();
      if (value) request.headers.set("Authorization", `Bearer ${value}`);
      return request;
    },
  };
}

/**
 * Holds the access token in memory (deliberately not in `localStorage`, where any script of
 * the page could read it). Pass {@link TokenStore.provider} to {@link createHealthSyncClient}.
 */
export class TokenStore {
  #token: string | null = null;

  /** The current token, or `null` when logged out. */
  get token(): string | null {
    return this.#token;
  }

  /** Sets (or, with `null`, clears) the token. */
  set(token: string | null): void {
    this.#token = token;
  }

  /** The {@link TokenProvider} reading this store. */
  readonly provider: TokenProvider = () => this.#token;
}

/**
 * Logs in (`POST /auth/login`) and, on success, keeps the access token in `tokens`, so every
 * later request of a client made with `tokens.provider` is authenticated.
 *
 * @returns openapi-fetch's result: `data` is the `LoginResponse`, `error` an {@link ErrorBody}
 * (401 `INVALID_CREDENTIALS`, 422, 429 ...).
 */
export async function login(
  client: HealthSyncClient,
  tokens: TokenStore,
  credentials: Schemas["LoginRequest"],
) {
  const result = await client.POST("/auth/login", { body: credentials });
  if (result.data) tokens.set(result.data.accessToken);
  return result;
}

/**
 * Logs out this device (`POST /auth/logout`) and forgets the token whatever the answer.
 */
export async function logout(client: HealthSyncClient, tokens: TokenStore) {
  const result = await client.POST("/auth/logout");
  tokens.set(null);
  return result;
}

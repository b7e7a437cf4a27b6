/**
 * `@healthsync/sdk`: the HealthSync API for web clients.
 *
 * - {@link createHealthSyncClient}: an openapi-fetch client typed by the types that
 *   openapi-typescript generates from `openapi/openapi.json` (`./generated/schema.ts`).
 * - Helpers: bearer token ({@link TokenStore}, {@link bearerAuth}, {@link login}), booking
 *   with an Idempotency-Key ({@link bookAppointment}), typed multipart upload
 *   ({@link uploadMedicalRecord}), file download ({@link downloadMedicalRecordFile}) and the
 *   live notification stream from a browser ({@link openNotificationStream}), and the chat
 *   socket with reconnects that lose nothing ({@link openChatSocket}).
 *
 * @packageDocumentation
 */
export type { components, operations, paths } from "./generated/schema.js";
export {
  bearerAuth,
  createHealthSyncClient,
  login,
  logout,
  TokenStore,
  type ErrorBody,
  type HealthSyncClient,
  type HealthSyncClientOptions,
  type Schemas,
  type TokenProvider,
} from "./client.js";
export { bookAppointment, newIdempotencyKey, type BookOptions } from "./booking.js";
export {
  downloadMedicalRecordFile,
  fileNameOf,
  saveFile,
  uploadFormData,
  uploadMedicalRecord,
  type DownloadedFile,
  type UploadRecordForm,
} from "./records.js";
export {
  decodeStreamEvent,
  openNotificationStream,
  type NotificationStream,
  type NotificationStreamOptions,
  type StreamClosed,
  type StreamEnd,
  type StreamEvent,
} from "./stream.js";
export { SseParser, type RawSseEvent } from "./sse.js";
export {
  decodeChatFrame,
  openChatSocket,
  type ChatClientFrame,
  type ChatMessage,
  type ChatServerFrame,
  type ChatSocket,
  type ChatSocketOptions,
  type WebSocketConstructor,
} from "./chat.js";

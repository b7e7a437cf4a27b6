import type { HealthSyncClient, Schemas } from "./client.js";

/**
 * The medical record upload form, from the document's `UploadRecordForm`, with `type` narrowed
 * to the `RecordType` enum (the form documents it as a plain string) and `file` a `Blob` (or a
 * `File` from an `<input type="file">`).
 */
export type UploadRecordForm = Omit<Schemas["UploadRecordForm"], "type"> & {
  type: Schemas["RecordType"];
  /** The name sent for the file; defaults to the `File`'s own name. Its extension must agree
   * with the file's type (`.pdf` for a PDF ...). */
  fileName?: string;
};

/**
 * Builds the `multipart/form-data` body of an upload from a typed form: every text field in
 * the order given, `null`/absent ones left out, and `file` last (the server reads the fields
 * before the file it streams).
 */
export function uploadFormData(form: UploadRecordForm): FormData {
  const { file, fileName, ...fields } = form;
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null && value !== undefined) data.append(name, String(value));
  }
  const name = fileName ?? (typeof File !== "undefined" && file instanceof File ? file.name : "");
  if (!name) throw new TypeError("uploadMedicalRecord: give fileName, or a File, whose name is sent");
  data.append("file", file, name);
  return data;
}

/**
 * Uploads a document to a patient's records (`POST /patients/{id}/medical-records`, operation
 * `uploadMedicalRecord`) as `multipart/form-data`, `file` last.
 *
 * @returns openapi-fetch's result: `data` is the stored `MedicalRecordDto`; `error` an
 * `ErrorBody` (413 too large, 415 not an accepted type, 422 a bad field ...).
 *
 * @example
 * const { data } = await uploadMedicalRecord(api, patientId, {
 *   type: "LAB_REPORT", title: "Blood panel", file: input.files[0],
 * });
 */
export async function uploadMedicalRecord(
  client: HealthSyncClient,
  patientId: string,
  form: UploadRecordForm,
) {
  const data = uploadFormData(form);
  return client.POST("/patients/{id}/medical-records", {
    params: { path: { id: patientId } },
    body: form,
    bodySerializer: () => data,
  });
}

/** A downloaded file: its bytes, the name from `Content-Disposition`, and its content type. */
export interface DownloadedFile {
  blob: Blob;
  /** From `Content-Disposition` (`filename*` preferred over `filename`); `"download"` if none. */
  fileName: string;
  contentType: string;
}

/**
 * Downloads a record's file (`GET /medical-records/{id}/file`, operation
 * `downloadMedicalRecordFile`) with the bearer token, as a `Blob` with its file name.
 *
 * @param record a record id, or a `MedicalRecordDto`.
 * @returns `{ data: DownloadedFile }` or `{ error: ErrorBody }` (401, 404 ...), with `response`.
 */
export async function downloadMedicalRecordFile(
  client: HealthSyncClient,
  record: string | Pick<Schemas["MedicalRecordDto"], "id">,
) {
  const id = typeof record === "string" ? record : record.id;
  const { data, error, response } = await client.GET("/medical-records/{id}/file", {
    params: { path: { id } },
    parseAs: "blob",
  });
  if (data === undefined) return { error, response };
  const file: DownloadedFile = {
    blob: data,
    fileName: fileNameOf(response.headers.get("Content-Disposition")) ?? "download",
    contentType: response.headers.get("Content-Type") ?? data.type,
  };
  return { data: file, response };
}

/**
 * The file name of a `Content-Disposition` header: RFC 6266 `filename*=UTF-8''...` first,
 * then `filename="..."` (with `\"` escapes) or a bare `filename=...`.
 */
export function fileNameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*([\w!#$%&+^`{}~.-]+)'[^']*'([^;\s]+)/i.exec(header);
  if (extended?.[2]) {
    try {
      return decodeURIComponent(extended[2]);
    } catch {
      // fall through to the plain name
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted?.[1] !== undefined) return quoted[1].replace(/\\(.)/g, "$1");
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(header);
  return bare?.[1];
}

/**
 * In a browser: hands a downloaded file to the user as a download (an object URL on a
 * temporary `<a download>`).
 */
export function saveFile(file: DownloadedFile): void {
  const url = URL.createObjectURL(file.blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = file.fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

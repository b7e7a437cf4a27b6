/**
 * A Server-Sent Events parser (the WHATWG "event stream interpretation"), for reading
 * `text/event-stream` over `fetch` where there is no `EventSource` (Node 20). Browsers use
 * their own `EventSource`; both paths hand the same `(event, data)` pairs to
 * `decodeStreamEvent` in `stream.ts`.
 */

/** One dispatched event: its name (`message` when the stream names none), data and id. */
export interface RawSseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** Feed it decoded text as it arrives; it returns the events completed by that text. */
export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id: string | undefined;
  #lastWasCr = false;

  /** Parses `chunk` (any split: lines and events may span chunks). */
  feed(chunk: string): RawSseEvent[] {
    let text = chunk;
    // A CRLF split across two chunks: the LF was already taken as the end of a line.
    if (this.#lastWasCr && text.startsWith("\n")) text = text.slice(1);
    this.#lastWasCr = text.endsWith("\r");
    this.#buffer += text;
    const out: RawSseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const event = this.#line(line);
      if (event) out.push(event);
    }
    return out;
  }

  #line(line: string): RawSseEvent | undefined {
    if (line === "") {
      const data = this.#data;
      const event = this.#event || "message";
      this.#data = [];
      this.#event = "";
      if (data.length === 0) return undefined;
      return { event, data: data.join("\n"), id: this.#id };
    }
    if (line.startsWith(":")) return undefined; // a comment: keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    return undefined;
  }
}

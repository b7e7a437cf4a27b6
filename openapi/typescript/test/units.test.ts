// The SDK's pure parts: the SSE parser, event decoding, Content-Disposition names, the form.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeStreamEvent, fileNameOf, SseParser, uploadFormData } from "../src/index.js";

test("the SSE parser handles any chunking, CRLF, comments and multi-line data", () => {
  const stream =
    ': keep-alive\n\nevent: ready\ndata: {"count":2}\n\nevent: notification\r\nid: 7\r\ndata: {"a":\r\ndata: 1}\r\n\r\n';
  for (let size = 1; size <= stream.length; size++) {
    const parser = new SseParser();
    const events = [];
    for (let i = 0; i < stream.length; i += size) events.push(...parser.feed(stream.slice(i, i + size)));
    assert.deepEqual(
      events,
      [
        { event: "ready", data: '{"count":2}', id: undefined },
        { event: "notification", data: '{"a":\n1}', id: "7" },
      ],
      `chunks of ${size}`,
    );
  }
});

test("stream events are decoded into the schema's types; unknown ones are ignored", () => {
  assert.deepEqual(decodeStreamEvent("ready", '{"count":3}'), { event: "ready", data: { count: 3 } });
  assert.deepEqual(decodeStreamEvent("end", '{"reason":"session ended"}'), {
    event: "end",
    data: { reason: "session ended" },
  });
  assert.equal(decodeStreamEvent("ready", "not json"), undefined);
  assert.equal(decodeStreamEvent("surprise", "{}"), undefined);
  const note = decodeStreamEvent(
    "notification",
    '{"id":"n1","type":"GENERAL","title":"t","message":"m","isRead":false,"createdAt":"2026-01-01T00:00:00Z"}',
  );
  assert.equal(note?.event === "notification" ? note.data.title : undefined, "t");
});

test("file names come from Content-Disposition, RFC 6266 filename* first", () => {
  assert.equal(fileNameOf('attachment; filename="cbc 2026-11.pdf"'), "cbc 2026-11.pdf");
  assert.equal(fileNameOf('attachment; filename="a \\"b\\".txt"'), 'a "b".txt');
  assert.equal(fileNameOf("attachment; filename=plain.txt"), "plain.txt");
  assert.equal(fileNameOf("attachment; filename=\"x.pdf\"; filename*=UTF-8''r%C3%B6ntgen.png"), "röntgen.png");
  assert.equal(fileNameOf("attachment"), undefined);
  assert.equal(fileNameOf(null), undefined);
});

test("the upload form puts every field first and the file last", () => {
  const form = uploadFormData({
    file: new Blob(["%PDF-1.4"], { type: "application/pdf" }),
    type: "LAB_REPORT",
    title: "Blood panel",
    fileName: "a.pdf",
  });
  assert.deepEqual(
    [...form.keys()],
    ["type", "title", "file"],
    "absent fields are left out, the file comes last",
  );
  const file = form.get("file");
  assert.ok(file instanceof Blob);
  assert.throws(() => uploadFormData({ file: new Blob(["x"]), type: "LAB_REPORT", title: "t" }), TypeError);
});

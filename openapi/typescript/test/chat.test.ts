// The chat through the SDK: typed REST calls and `openChatSocket`, whose reconnects resume
// every followed conversation so nothing is missed or shown twice.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bookAppointment,
  openChatSocket,
  type ChatServerFrame,
  type ChatSocket,
  type HealthSyncClient,
} from "../src/index.js";
import { freeSlots, must, registerPatient, setUpClinic } from "./support.js";

/** A chat socket whose frames are queued, so a test can wait for the next one of a type. */
class ChatQueue {
  readonly socket: ChatSocket;
  #frames: ChatServerFrame[] = [];
  #waiters: Array<() => void> = [];

  constructor(api: HealthSyncClient) {
    this.socket = openChatSocket(api, {
      reconnectDelayMs: 100,
      onFrame: (frame) => {
        this.#frames.push(frame);
        for (const wake of this.#waiters.splice(0)) wake();
      },
    });
  }

  /** The next frame of `type` (others before it are dropped); fails after 15 s. */
  async next<T extends ChatServerFrame["type"]>(type: T): Promise<Extract<ChatServerFrame, { type: T }>> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) {
        if (isOfType(frame, type)) return frame;
        continue;
      }
      if (Date.now() > deadline) throw new Error(`no ${type} frame within 15 s`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  /** The `message` frames' texts until one with `seq`. */
  async texts(untilSeq: number): Promise<string[]> {
    const texts: string[] = [];
    for (;;) {
      const { message } = await this.next("message");
      texts.push(message.message);
      if (message.seq >= untilSeq) return texts;
    }
  }
}

function isOfType<T extends ChatServerFrame["type"]>(
  frame: ChatServerFrame,
  type: T,
): frame is Extract<ChatServerFrame, { type: T }> {
  return frame.type === type;
}

test("a conversation through the SDK: live messages, read receipts, history, and a reconnect that misses nothing", async (t) => {
  const clinic = await setUpClinic("80.00");
  const patient = await registerPatient("Chat Patient");
  const slot = must((await freeSlots(patient.api, clinic.doctorProfile.id, clinic.date))[0], "a slot");
  const booked = await bookAppointment(patient.api, { timeSlotId: slot.id, type: "CONSULTATION", reason: "Cough" });
  const appointmentId = must(booked.data, "a booking").id;

  const doctorChat = new ChatQueue(clinic.doctor.api);
  let patientChat = new ChatQueue(patient.api);
  t.after(() => {
    doctorChat.socket.close();
  patientChat.socket.close();
  });
  await doctorChat.next("ready");
  await patientChat.next("ready");
  doctorChat.socket.follow(appointmentId);
  patientChat.socket.follow(appointmentId);
  await patientChat.next("resumed");

  // The patient writes over the socket; the doctor gets it live.
  const clientId = patientChat.socket.send(appointmentId, "  Is the cough serious?  ");
  const sent = await patientChat.next("sent");
  assert.equal(sent.clientMessageId, clientId);
  const heard = await doctorChat.next("message");
  assert.equal(heard.message.message, "Is the cough serious?");
  assert.equal(heard.message.seq, 1);

  // The doctor answers over REST (typed), and marks the question read: the patient is told.
  const answer = await clinic.doctor.api.POST("/appointments/{id}/messages", {
    params: { path: { id: appointmentId } },
    body: { message: "No, rest and fluids." },
  });
  assert.equal(answer.response.status, 201);
  assert.deepEqual(await patientChat.texts(2), ["Is the cough serious?", "No, rest and fluids."]);
  const read = await clinic.doctor.api.POST("/appointments/{id}/messages/read", {
    params: { path: { id: appointmentId } },
    body: { upToSeq: 2 },
  });
  assert.equal(must(read.data, "a receipt").marked, 1);
  const receipt = await patientChat.next("read");
  assert.equal(receipt.receipt.upToSeq, 2);
  const unread = await patient.api.GET("/chat/unread");
  assert.equal(must(unread.data, "unread counts").total, 1, "the doctor's answer is unread");

  // The patient goes away; the doctor writes twice; the patient comes back from seq 2.
  const seen = must(patientChat.socket.lastSeq(appointmentId), "the last seq seen");
  patientChat.socket.close();
  for (const text of ["Take the syrup at night.", "Call if the fever rises."]) {
    const r = await clinic.doctor.api.POST("/appointments/{id}/messages", {
      params: { path: { id: appointmentId } },
      body: { message: text },
    });
    assert.equal(r.response.status, 201);
  }
  patientChat = new ChatQueue(patient.api);
  await patientChat.next("ready");
  patientChat.socket.follow(appointmentId, seen);
  assert.deepEqual(await patientChat.texts(4), ["Take the syrup at night.", "Call if the fever rises."]);
  const resumed = await patientChat.next("resumed");
  assert.equal(resumed.lastSeq, 4);

  // The history, newest first, by cursor: two pages of two.
  const first = await patient.api.GET("/appointments/{id}/messages", {
    params: { path: { id: appointmentId }, query: { perPage: 2 } },
  });
  const page = must(first.data, "a page");
  assert.deepEqual(page.items.map((m) => m.seq), [4, 3]);
  assert.equal(page.total, 4);
  const second = await patient.api.GET("/appointments/{id}/messages", {
    params: { path: { id: appointmentId }, query: { perPage: 2, cursor: must(page.nextCursor, "a cursor") } },
  });
  assert.deepEqual(must(second.data, "the second page").items.map((m) => m.seq), [2, 1]);
});

-- Issue 12: each appointment's conversation numbers its messages (kept in MongoDB's
-- chat_messages) 1, 2, 3, ... The send takes the next number by updating this row and holds the
-- row locked until the message is stored and announced (NOTIFY chat), so numbers become visible
-- in order and a reconnecting client's "after 12" names exactly what it missed.
CREATE TABLE chat_conversations (
    appointment_id UUID PRIMARY KEY REFERENCES appointments (id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL CHECK (last_seq > 0),
    last_message_at TIMESTAMPTZ NOT NULL
);

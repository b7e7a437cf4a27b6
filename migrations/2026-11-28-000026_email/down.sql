DROP TABLE password_resets;
DROP TABLE email_preferences;
DROP TABLE email_outbox;

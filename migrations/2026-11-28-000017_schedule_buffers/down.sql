ALTER TABLE schedules DROP COLUMN buffer_minutes;

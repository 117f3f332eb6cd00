-- jobd schema, version 2.  Active tasks need not all live in memory: a
-- running task with nothing to do for a long while (a long sleep) waits on
-- disk until its wake_at comes near, and only a window of each kind's
-- pending queue is loaded at a time.
ALTER TABLE tasks ADD COLUMN wake_at INTEGER;          -- ms since the epoch, UTC
CREATE INDEX tasks_wake ON tasks (wake_at) WHERE wake_at IS NOT NULL;
CREATE INDEX tasks_pending ON tasks (kind, id) WHERE state = 'pending';

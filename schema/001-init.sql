-- jobd schema, version 1.  One row per task; its state changes overwrite it.
-- Finished tasks live only here: the daemon keeps active ones in memory.
CREATE TABLE tasks (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
	kind        TEXT    NOT NULL,
	name        TEXT,
	state       TEXT    NOT NULL
	            CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
	stop        INTEGER NOT NULL DEFAULT 0,         -- 1 cancel, 2 deadline: being stopped
	created_at  INTEGER NOT NULL,                   -- ms since the epoch, UTC
	started_at  INTEGER,
	finished_at INTEGER,
	timeout     REAL,                               -- seconds, the task's own deadline
	spec        TEXT    NOT NULL,                   -- JSON
	result      TEXT,                               -- JSON
	error       TEXT,                               -- JSON
	pgid        INTEGER,                            -- exec: process group while running
	boot_id     TEXT,                               -- exec: kernel boot the pgid belongs to
	stdout      BLOB,                               -- exec: raw bytes kept
	stderr      BLOB
);
-- Start-up loads only active rows; listing filters by state or kind in id order.
CREATE INDEX tasks_state_id ON tasks (state, id);
CREATE INDEX tasks_kind_id ON tasks (kind, id);

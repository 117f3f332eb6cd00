-- jobd schema, version 4.  An exec task is done when its program exits;
-- processes it left in its group are stopped after that, like a cancel.
-- Until they are gone its row says so, so that a start after a crash finds
-- and kills them (pgid and boot_id name the group).
ALTER TABLE tasks ADD COLUMN leftover INTEGER;        -- 1: its group is being stopped
CREATE INDEX tasks_leftover ON tasks (id) WHERE leftover IS NOT NULL;

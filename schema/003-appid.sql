-- jobd schema, version 3.  jobd's mark in the file's header, so that a
-- database is known for jobd's (and another application's refused) before
-- anything is written to it: 0x6a6f6264, "jobd" in ASCII (store.c's
-- STORE_APP_ID).  Databases made before it have 0 and get it here.
PRAGMA application_id = 1785684580;

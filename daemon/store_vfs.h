/* store_vfs.h: SQLite's unix VFS, with each WAL commit's frames written in
 * one pwrite.  Register it once, then open a connection with
 * STORE_VFS_NAME as its VFS. */
#ifndef STORE_VFS_H
#define STORE_VFS_H

#define STORE_VFS_NAME "jobd-unix"

/* SQLITE_OK, or SQLite's error code. */
int store_vfs_register(void);

#endif

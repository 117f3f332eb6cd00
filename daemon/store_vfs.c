/* store_vfs.c: SQLite's unix VFS, with the frames of one WAL commit written
 * in one pwrite instead of two per page.
 *
 * Why: SQLite writes each WAL frame as a 24-byte header and then its page,
 * each its own pwrite, so a commit of six pages is twelve system calls into
 * ext4's buffered write path.  On the exec path, where the loop commits
 * inline between one program's end and the next one's start, those pwrites
 * were a sixth of the loop's time; one pwrite of the same bytes costs about
 * a third of the twelve.
 *
 * How, and why it is safe: writes to a WAL file that follow each other in
 * the file are gathered in a buffer.  The buffer goes to the file, through
 * the unix VFS's own xWrite, as soon as
 *   - the page of a commit frame is written (a frame header whose "database
 *     size after commit" is not zero marks one), so the commit's write, and
 *     any error of it, is still the commit's own xWrite call, made before
 *     SQLite publishes the frames in the wal-index;
 *   - a write does not follow the buffered ones, or would overflow it;
 *   - the file is read, synced, truncated or closed, so that SQLite sees
 *     the file as if every write had been made as it came.
 * A flush's error is the error of the call that made it.  Each of those
 * calls fails the transaction when it fails inside one (SQLite puts its
 * pager in the error state on a failed read, write or sync), so frames
 * lost with a failed flush are never published.  Between transactions the
 * buffer is empty, or holds frames of one that was rolled back: written
 * later, they are what SQLite itself would have left past the last commit.
 * Frames of an unfinished transaction are invisible to every reader (no
 * wal-index entry points at them) until their commit frame, so holding them
 * back changes nothing anyone can see.  Files other than WAL files are the
 * unix VFS's own, untouched. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_vfs.h"

/* The unix VFS writes at most 128 KiB - 1 in one call (it masks the length
 * to the 17 bits a page write needs), so a buffer stays below that. */
#define VFS_BUF_MAX   (120 * 1024)
#define VFS_FRAME_HDR 24               /* WAL frame header bytes */

struct vfs_wal {
	sqlite3_file   base;       /* must be first: SQLite's view */
	sqlite3_file  *real;       /* the unix VFS's file, just after us */
	unsigned char *buf;
	size_t         len;
	sqlite3_int64  off;        /* file offset of buf[0] */
	int            commit;     /* the last write was a commit frame's header */
};

/* SQLite's registry of VFSes is process-wide, and so is ours: set once by
 * store_vfs_register, read-only after. */
static sqlite3_vfs *vfs_real;

static int
vfs_flush(struct vfs_wal *w)
{
	int rc;

	if (w->len == 0)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
	w->len = 0;
	return rc;
}

static int
vfs_close(sqlite3_file *f)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc = vfs_flush(w), rc2;

	rc2 = w->real->pMethods->xClose(w->real);
	free(w->buf);
	w->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
vfs_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc = vfs_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xRead(w->real, p, n, off);
}

/* Room for n more bytes; 0 if there is none (the write goes out as it is). */
static int
vfs_room(struct vfs_wal *w, size_t n)
{
	if (w->len + n > VFS_BUF_MAX)
		return 0;
	if (w->buf == NULL && (w->buf = malloc(VFS_BUF_MAX)) == NULL)
		return 0;
	return 1;
}

static int
vfs_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc, commit_page = w->commit;
	const unsigned char *c = p;

	w->commit = n == VFS_FRAME_HDR && (c[4] | c[5] | c[6] | c[7]) != 0;
	if (w->len > 0 && (off != w->off + (sqlite3_int64)w->len || !vfs_room(w, (size_t)n)) &&
	    (rc = vfs_flush(w)) != SQLITE_OK)
		return rc;
	if (w->len == 0) {
		if (!vfs_room(w, (size_t)n))
			return w->real->pMethods->xWrite(w->real, p, n, off);
		w->off = off;
	}
	memcpy(w->buf + w->len, p, (size_t)n);
	w->len += (size_t)n;
	return commit_page ? vfs_flush(w) : SQLITE_OK;
}

static int
vfs_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc = vfs_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xTruncate(w->real, size);
}

static int
vfs_sync(sqlite3_file *f, int flags)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc = vfs_flush(w);

	return rc != SQLITE_OK ? rc : w->real->pMethods->xSync(w->real, flags);
}

/* The size as if every write had been made, without making them: SQLite
 * asks outside of transactions (when the buffer is empty), and may ignore an
 * error there. */
static int
vfs_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc = w->real->pMethods->xFileSize(w->real, size);

	if (rc == SQLITE_OK && w->len > 0 && w->off + (sqlite3_int64)w->len > *size)
		*size = w->off + (sqlite3_int64)w->len;
	return rc;
}

static int
vfs_lock(sqlite3_file *f, int level)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xLock(w->real, level);
}

static int
vfs_unlock(sqlite3_file *f, int level)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xUnlock(w->real, level);
}

static int
vfs_check_lock(sqlite3_file *f, int *out)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int
vfs_file_control(sqlite3_file *f, int op, void *arg)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int
vfs_sector_size(sqlite3_file *f)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xSectorSize(w->real);
}

static int
vfs_device_characteristics(sqlite3_file *f)
{
	struct vfs_wal *w = (struct vfs_wal *)f;

	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* Version 1: SQLite maps no WAL file, and its shared memory and locks are
 * the database file's, so a WAL file needs none of the later methods. */
static const sqlite3_io_methods vfs_wal_methods = {
	.iVersion = 1,
	.xClose = vfs_close,
	.xRead = vfs_read,
	.xWrite = vfs_write,
	.xTruncate = vfs_truncate,
	.xSync = vfs_sync,
	.xFileSize = vfs_file_size,
	.xLock = vfs_lock,
	.xUnlock = vfs_unlock,
	.xCheckReservedLock = vfs_check_lock,
	.xFileControl = vfs_file_control,
	.xSectorSize = vfs_sector_size,
	.xDeviceCharacteristics = vfs_device_characteristics,
};

/* A WAL file is wrapped; any other file is the unix VFS's, in place. */
static int
vfs_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct vfs_wal *w = (struct vfs_wal *)f;
	int             rc;

	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		return vfs_real->xOpen(vfs_real, name, f, flags, out);
	memset(w, 0, sizeof *w);
	w->real = (sqlite3_file *)(w + 1);
	rc = vfs_real->xOpen(vfs_real, name, w->real, flags, out);
	if (rc == SQLITE_OK)
		w->base.pMethods = &vfs_wal_methods;
	return rc;
}

#define VFS_PASS(ret, name, params, args) \
	static ret vfs_##name params { (void)vfs; return vfs_real->x##name args; }

VFS_PASS(int, Delete, (sqlite3_vfs *vfs, const char *n, int sync), (vfs_real, n, sync))
VFS_PASS(int, Access, (sqlite3_vfs *vfs, const char *n, int fl, int *out), (vfs_real, n, fl, out))
VFS_PASS(int, FullPathname, (sqlite3_vfs *vfs, const char *n, int sz, char *out),
    (vfs_real, n, sz, out))
VFS_PASS(void *, DlOpen, (sqlite3_vfs *vfs, const char *n), (vfs_real, n))
VFS_PASS(void, DlError, (sqlite3_vfs *vfs, int n, char *msg), (vfs_real, n, msg))
VFS_PASS(int, Randomness, (sqlite3_vfs *vfs, int n, char *out), (vfs_real, n, out))
VFS_PASS(int, Sleep, (sqlite3_vfs *vfs, int us), (vfs_real, us))
VFS_PASS(int, CurrentTime, (sqlite3_vfs *vfs, double *t), (vfs_real, t))
VFS_PASS(int, GetLastError, (sqlite3_vfs *vfs, int n, char *msg), (vfs_real, n, msg))
VFS_PASS(int, CurrentTimeInt64, (sqlite3_vfs *vfs, sqlite3_int64 *t), (vfs_real, t))

static void
(*vfs_DlSym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return vfs_real->xDlSym(vfs_real, h, sym);
}

static void
vfs_DlClose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	vfs_real->xDlClose(vfs_real, h);
}

static sqlite3_vfs vfs_jobd = {
	.iVersion = 2,
	.zName = STORE_VFS_NAME,
	.xOpen = vfs_open,
	.xDelete = vfs_Delete,
	.xAccess = vfs_Access,
	.xFullPathname = vfs_FullPathname,
	.xDlOpen = vfs_DlOpen,
	.xDlError = vfs_DlError,
	.xDlSym = vfs_DlSym,
	.xDlClose = vfs_DlClose,
	.xRandomness = vfs_Randomness,
	.xSleep = vfs_Sleep,
	.xCurrentTime = vfs_CurrentTime,
	.xGetLastError = vfs_GetLastError,
	.xCurrentTimeInt64 = vfs_CurrentTimeInt64,
};

int
store_vfs_register(void)
{
	if (sqlite3_vfs_find(STORE_VFS_NAME) != NULL)
		return SQLITE_OK;
	if ((vfs_real = sqlite3_vfs_find("unix")) == NULL)
		return SQLITE_ERROR;
	vfs_jobd.szOsFile = (int)sizeof(struct vfs_wal) + vfs_real->szOsFile;
	vfs_jobd.mxPathname = vfs_real->mxPathname;
	return sqlite3_vfs_register(&vfs_jobd, 0);
}

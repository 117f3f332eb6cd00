/* clock_shift.c: an LD_PRELOAD shim for the restart tests.  It moves jobd's
 * wall clock (CLOCK_REALTIME and its coarse twin, through clock_gettime(3))
 * by the milliseconds held in the file named by $JOBD_CLOCK_SHIFT: 8 bytes,
 * a native int64, read at every call through a shared mapping.  So a test
 * can set one jobd's clock back an hour, as an administrator or NTP might,
 * without touching the machine's.  CLOCK_MONOTONIC is left alone. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int clock_gettime(clockid_t clock, struct timespec *ts);

static const volatile int64_t *shift_ms;

__attribute__((constructor)) static void
shift_init(void)
{
	const char *path = getenv("JOBD_CLOCK_SHIFT");
	void       *p;
	int         fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	p = mmap(NULL, sizeof *shift_ms, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p != MAP_FAILED)
		shift_ms = p;
}

int
clock_gettime(clockid_t clock, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	int64_t     ns;
	int         rc;

	if (real == NULL)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	rc = real(clock, ts);
	if (rc != 0 || shift_ms == NULL ||
	    (clock != CLOCK_REALTIME && clock != CLOCK_REALTIME_COARSE))
		return rc;
	ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + *shift_ms * 1000000;
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	return rc;
}

/* max_map_count: vm.max_map_count bounds the vmas of an address space.
 * 400 000 alternating mprotect splits stop at the limit with ENOMEM; at the
 * limit mmap refuses once the count is above it, munmap may not punch a
 * hole but may remove a vma; /proc/sys/vm/max_map_count reads and sets the
 * limit (an int >= 0; other writes are EINVAL). Needs root for the write
 * (where /proc/sys is read-only those checks are skipped, with a note);
 * restores the limit it found. The same checks pass on Linux. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096UL
#define SPLITS 400000UL

/* The number of vmas (map_count): the lines of /proc/self/maps but for
 * Linux's [vsyscall], which is not a vma of the process. */
static long map_count(void)
{
	static char buf[1 << 16];
	long lines = 0;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	close(fd);
	fd = open("/proc/self/maps", O_RDONLY);
	while ((r = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[r] = 0;
		if (strstr(buf, "[vsyscall]"))
			lines--;
	}
	close(fd);
	return lines;
}

static long read_limit(void)
{
	char buf[32] = { 0 };
	int fd = open("/proc/sys/vm/max_map_count", O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* 0 or -errno of open/write. */
static int write_limit(const char *text)
{
	int fd = open("/proc/sys/vm/max_map_count", O_WRONLY);
	if (fd < 0)
		return -errno;
	int r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* mmap one private page, alternating protections so neighbours do not
 * merge; MAP_FAILED leaves errno. */
static void *one_page(int i)
{
	return mmap(NULL, P, i % 2 ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

int main(void)
{
	tap_begin("max_map_count");
	long limit = read_limit();
	tap_eq(limit, 65530, "/proc/sys/vm/max_map_count reads Linux's default");

	/* 1. Alternating mprotect splits. */
	unsigned long len = (SPLITS + 1) * P;
	char *a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	tap_ok(a != MAP_FAILED, "mmap %lu pages", SPLITS + 1);
	unsigned long done = 0;
	int err = 0;
	for (unsigned long i = 1; i < SPLITS; i += 2, done++) {
		if (mprotect(a + i * P, P, PROT_READ)) {
			err = errno;
			break;
		}
	}
	tap_eq(err, ENOMEM, "alternating mprotect splits end in ENOMEM");
	tap_ok(done < SPLITS / 2, "...before all %lu splits (%lu done)", SPLITS / 2, done);
	/* The last call split at its start and was refused at its end. */
	tap_eq(map_count(), limit, "vmas at the refusal: the limit");
	tap_ok(done >= (unsigned long)(limit - 40) / 2, "...after about limit/2 splits (%lu)", done);

	/* 2. mmap refuses only above the limit. */
	void *extra[10];
	int n = 0;
	err = 0;
	for (; n < 10; n++) {
		extra[n] = one_page(n);
		if (extra[n] == MAP_FAILED) {
			err = errno;
			break;
		}
	}
	tap_eq(err, ENOMEM, "mmap at the limit ends in ENOMEM");
	tap_eq(map_count(), limit + 1, "...once the count is above the limit");

	/* 3. munmap: no hole above the limit, whole vmas go. */
	unsigned long tail = (done * 2 + 2) * P; /* start of the untouched tail */
	errno = 0;
	tap_eq(munmap(a + tail + P, P) ? errno : 0, ENOMEM, "munmap punching a hole above the limit: ENOMEM");
	tap_eq(munmap(extra[n - 1], P), 0, "munmap of a whole vma at the limit");
	tap_eq(map_count(), limit, "...leaves the count at the limit");
	tap_eq(munmap(a + tail + P, P) ? errno : 0, ENOMEM, "munmap punching a hole at the limit: ENOMEM");

	/* 4. The sysctl (a container may mount /proc/sys read-only: then
	 * these checks are skipped, and said so). */
	int w = write_limit("1000\n");
	if (w == -EROFS || w == -EACCES || w == -EPERM) {
		printf("# /proc/sys/vm/max_map_count is not writable here (%s): sysctl checks skipped\n", strerror(-w));
	} else {
		tap_eq(w, 0, "write 1000 to max_map_count");
		tap_eq(read_limit(), 1000, "reads back 1000");
		errno = 0;
		void *q = one_page(0);
		tap_eq(q == MAP_FAILED ? errno : 0, ENOMEM, "mmap with more vmas than the new limit: ENOMEM");
		tap_eq(write_limit("-1"), -EINVAL, "write -1: EINVAL");
		tap_eq(write_limit("many"), -EINVAL, "write a word: EINVAL");
		tap_eq(read_limit(), 1000, "a refused write changes nothing");
		char text[32];
		snprintf(text, sizeof text, "%ld\n", limit);
		tap_eq(write_limit(text), 0, "restore the limit");
		tap_eq(read_limit(), limit, "reads back %ld", limit);
	}
	void *p = one_page(0);
	tap_ok(p != MAP_FAILED, "mmap works again at the limit");
	munmap(p, P);
	/* The last page made read-only is a vma of its own. */
	tap_eq(munmap(a + (2 * done - 1) * P, P), 0, "munmap of one split-off page");
	tap_eq(map_count(), limit - 1, "...takes the count below the limit");
	tap_eq(munmap(a + tail + P, P), 0, "munmap can punch a hole again");

	/* 5. Everything goes. */
	tap_eq(munmap(a, len), 0, "munmap the split region");
	tap_ok(map_count() < 64, "few vmas left (%ld)", map_count());
	return tap_end();
}

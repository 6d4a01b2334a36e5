/* oom_touch MIB: map MIB MiB of private anonymous memory and write to every
 * page. Given more than the machine has, the kernel's OOM killer must end
 * it with SIGKILL (status 137); finishing is a failure (exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	unsigned long len = mib << 20;
	setvbuf(stdout, NULL, _IONBF, 0);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	printf("oom_touch: touching %lu MiB\n", mib);
	for (unsigned long off = 0; off < len; off += 4096) {
		p[off] = 1;
		if (off % (64UL << 20) == 0)
			printf("oom_touch: %lu MiB touched\n", off >> 20);
	}
	printf("oom_touch: all %lu MiB touched: not killed\n", mib);
	return 1;
}

/* hello_printf: musl's printf and argv handling, statically linked. */
#include "tap.h"
#include <string.h>

int main(int argc, char **argv)
{
	tap_begin("hello_printf");
	printf("# hello from ring 3 (musl printf), argc=%d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("# argv[%d] = %s\n", i, argv[i]);
	tap_ok(argc >= 1 && argv[0] != NULL, "argv[0] present");
	tap_ok(argv[argc] == NULL, "argv[argc] is NULL");
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%d %x %s %5.2f", 42, 0xbeef, "str", 3.14159);
	tap_ok(n == (int)strlen("42 beef str  3.14") && strcmp(buf, "42 beef str  3.14") == 0,
	       "snprintf formats ints, hex, strings and floats (\"%s\")", buf);
	return tap_end();
}

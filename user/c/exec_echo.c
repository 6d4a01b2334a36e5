/* exec_echo: the interpreter named by exec's #! scripts (user/scripts/).
 *
 * Prints its argv, one line per argument, and then, when the environment
 * names a program in EXEC_RETURN, executes that program with the
 * arguments  EXEC_RETURN "from-echo" ARGV...  (its own argv appended) and
 * the same environment, so that the caller can check the argv the kernel
 * built for the script. Without EXEC_RETURN it exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		printf("exec_echo: argv[%d] = \"%s\"\n", i, argv[i]);
	fflush(stdout);
	const char *ret = getenv("EXEC_RETURN");
	if (!ret)
		return 0;
	char **nargv = calloc((size_t)argc + 3, sizeof *nargv);
	if (!nargv)
		return 1;
	nargv[0] = (char *)ret;
	nargv[1] = "from-echo";
	for (int i = 0; i < argc; i++)
		nargv[i + 2] = argv[i];
	execve(ret, nargv, environ);
	perror("exec_echo: execve");
	return 1;
}

/* proctitle.c: argv rewrite for the process title (proctitle.h). */
#include "lib/proctitle.h"
#include <string.h>

static char *title_area;
static size_t title_size;

void proctitle_init(int argc, char **argv)
{
	if (argc < 1 || argv[0] == NULL)
		return;
	/* the strings are contiguous: the area runs from argv[0] to the
	 * end of the last one that follows on */
	char *end = argv[0] + strlen(argv[0]) + 1;
	for (int i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	title_area = argv[0];
	title_size = (size_t)(end - argv[0]);
}

void proctitle_set(const char *title)
{
	if (title_area == NULL || title_size < 2)
		return;
	size_t n = strlen(title);
	if (n > title_size - 1)
		n = title_size - 1;
	memcpy(title_area, title, n);
	memset(title_area + n, 0, title_size - n);
}

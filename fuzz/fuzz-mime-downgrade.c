/* fuzz-mime-downgrade.c: libFuzzer target for mime_downgrade.h over a
 * header block. Invariants, checked with abort():
 *   - the result is 7-bit (RFC 6858: nothing 8-bit reaches the client);
 *   - downgrading the result again changes nothing (it is 7-bit). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "mime/mime_downgrade.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 64 * 1024)
		return 0;
	str_t out = STR_INIT;
	bool changed = mime_downgrade_header((const char *)data, size, &out);
	if (!changed && out.len != 0)
		abort();
	for (size_t i = 0; i < out.len; i++)
		if ((unsigned char)out.data[i] >= 0x80)
			abort();
	str_t again = STR_INIT;
	if (mime_downgrade_header(out.data, out.len, &again))
		abort();
	str_free(&again);
	str_free(&out);
	pool_clear(pool_temp());
	return 0;
}

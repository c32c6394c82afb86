/* fuzz-channel.c: libFuzzer target for channel_frame_decode() (channel.h).
 *
 * The input is a stream of frames, decoded one after another as a
 * channel would. Invariants, checked with abort():
 *   - the decoder consumes between a header and CHANNEL_FRAME_MAX bytes,
 *     never more than it was given;
 *   - every string it returns is 1..CHANNEL_STR_MAX bytes without
 *     control characters;
 *   - what it accepts encodes back to exactly the bytes it consumed
 *     (one canonical form: no slack, no flags, no padding);
 *   - a prefix of an accepted frame is never accepted nor refused: it
 *     asks for more (so split reads cannot change the outcome). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/channel.h"
#include "lib/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, bool required)
{
	size_t len = strlen(s);
	if (len > CHANNEL_STR_MAX || (required && len == 0))
		abort();
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0;
	for (unsigned frames = 0; frames < 64 && pos < size; frames++) {
		struct channel_msg msg;
		size_t used = 0;
		const char *error;
		int ret = channel_frame_decode(data + pos, size - pos, &msg, &used, &error);
		if (ret <= 0)
			break;
		if (used < CHANNEL_HEADER_SIZE || used > CHANNEL_FRAME_MAX ||
		    used > size - pos)
			abort();
		switch (msg.type) {
		case CHANNEL_MSG_HELLO:
			break;
		case CHANNEL_MSG_MAILBOX_CHANGED:
			check_str(msg.user, true);
			check_str(msg.mailbox, true);
			break;
		case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED:
			check_str(msg.queue_id, true);
			break;
		default:
			abort();
		}
		unsigned char again[CHANNEL_FRAME_MAX];
		size_t len;
		if (channel_frame_encode(&msg, again, sizeof(again), &len, &error) < 0 ||
		    len != used || memcmp(again, data + pos, used) != 0)
			abort();
		for (size_t cut = 0; cut < used; cut += 1 + cut / 8) {
			struct channel_msg part;
			size_t part_used;
			if (channel_frame_decode(data + pos, cut, &part, &part_used, &error) != 0)
				abort();
		}
		pos += used;
	}
	pool_clear(pool_temp());
	return 0;
}

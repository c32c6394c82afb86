/* imap_compress.c: COMPRESS DEFLATE (RFC 4978), the IMAP side of the
 * connection's compression layer (lib/conn_deflate.c does the stream).
 *
 * Contract: valid in the authenticated and selected states (the command
 * table); "DEFLATE" is the one mechanism, anything else is BAD (RFC 4978
 * 3); a second COMPRESS gets NO [COMPRESSIONACTIVE]. The tagged OK goes
 * out uncompressed and everything after it, both ways, is compressed:
 * replies of later commands, IDLE pushes and untagged updates all pass
 * through the same conn output, so through the deflater, which flushes
 * at the end of every burst. STARTTLS is refused once compressed
 * (imap_auth.c, and conn_starttls() itself). */
#include "imap_commands.h"
#include "imap/imap_args.h"
#include "imap/imap_session_private.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <strings.h>

void imap_cmd_compress(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *mech, *error;
	size_t mech_len;
	if (cmd->count != 1 ||
	    imap_arg_get_astring(&cmd->args[0], &mech, &mech_len, &error) < 0) {
		imap_cmd_bad(cmd, "COMPRESS needs a mechanism");
		return;
	}
	if (mech_len != 7 || strncasecmp(mech, "DEFLATE", 7) != 0) {
		imap_cmd_bad(cmd, "Unknown compression mechanism");
		return;
	}
	if (conn_is_compressed(s->base.conn)) {
		/* RFC 4978 3: NO [COMPRESSIONACTIVE] when it already is */
		imap_cmd_no(cmd, "COMPRESSIONACTIVE", "DEFLATE active already");
		return;
	}
	struct conn *conn = s->base.conn;
	imap_cmd_ok(cmd, NULL, "DEFLATE active");
	/* RFC 4978 3: compression starts right after the OK's CRLF; the
	 * OK is queued, so the layer sends it (and anything before it) as
	 * it is */
	if (conn_compress_start(conn, &error) < 0) {
		log_info("sid=%s event=compress_failed error=%s", s->base.sid,
			 log_str(error));
		conn_close_after_output(conn);
		return;
	}
	log_info("sid=%s event=compress mechanism=DEFLATE", s->base.sid);
}

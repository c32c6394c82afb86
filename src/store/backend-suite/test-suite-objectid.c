/* test-suite-objectid.c: backend suite (suite.h), what schema 7 gives
 * through the public store headers only: a COPY and a MOVE keep the
 * message's guid (RFC 8474 EMAILID) and thread, and get a save date of
 * their own (RFC 8514); MAILBOXID is kept by RENAME, new after DELETE
 * and CREATE; a reply shares its parent's thread whichever arrives
 * first, an unrelated message does not; the preview cache starts empty,
 * keeps what is set and follows a copy. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "store/backend-suite/suite.h"

static struct store_message_info one(struct suite *s, const char *mailbox,
				     uint32_t uid)
{
	struct store_message_info *msgs;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_list_messages(s->store, SUITE_USER, mailbox,
						     s->pool, &msgs, &count, &error), 0);
	for (unsigned i = 0; i < count; i++)
		if (msgs[i].uid == uid)
			return msgs[i];
	fail_msg("uid %u not in %s", uid, mailbox);
	return msgs[0];
}

static void test_copy_move_keep_guid(void **state)
{
	struct suite *s = *state;
	const char *error;
	time_t before = time(NULL);
	uint32_t uid = suite_deliver(s->store, "INBOX", "Message-ID: <c@x>\r\n\r\nc\r\n",
				     0, 1000000000);
	struct store_message_info src = one(s, "INBOX", uid);
	assert_true(src.savedate >= before && src.savedate <= time(NULL) + 1);
	assert_int_equal(src.internaldate, 1000000000);
	struct store_view *v = suite_view(s->store, "INBOX");
	assert_int_equal(store_view_message_set_preview(v, uid, "cached text", &error), 0);
	struct store_copy_result res;
	assert_int_equal(store_view_copy(v, &uid, 1, "Archive", false, s->pool, &res,
					 &error), 0);
	struct store_message_info copy = one(s, "Archive", res.dst_uids[0]);
	assert_memory_equal(copy.guid, src.guid, STORE_GUID_SIZE);
	assert_memory_equal(copy.threadid, src.threadid, STORE_GUID_SIZE);
	assert_int_equal(copy.internaldate, 1000000000);
	assert_true(copy.savedate >= before);
	struct store_view *a = suite_view(s->store, "Archive");
	const char *preview;
	assert_int_equal(store_view_message_preview(a, res.dst_uids[0], s->pool, &preview,
						    &error), 0);
	assert_non_null(preview);
	assert_string_equal(preview, "cached text");
	store_view_close(&a);
	assert_int_equal(store_view_copy(v, &uid, 1, "Trash", true, s->pool, &res,
					 &error), 0);
	struct store_message_info moved = one(s, "Trash", res.dst_uids[0]);
	assert_memory_equal(moved.guid, src.guid, STORE_GUID_SIZE);
	store_view_close(&v);
}

static void test_mailboxid(void **state)
{
	struct suite *s = *state;
	const char *error;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Box", &error) >= 0, 1);
	struct store_mailbox_status st = suite_check_status(s, "Box");
	char id[STORE_OBJECTID_SIZE];
	memcpy(id, st.mailboxid, sizeof(id));
	assert_true(strlen(id) > 1);
	assert_string_not_equal(id, suite_check_status(s, "INBOX").mailboxid);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Box", "Renamed",
					      &error), 0);
	assert_string_equal(suite_check_status(s, "Renamed").mailboxid, id);
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Renamed", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Renamed", &error) >= 0, 1);
	assert_string_not_equal(suite_check_status(s, "Renamed").mailboxid, id);
}

static void test_threads(void **state)
{
	struct suite *s = *state;
	/* the reply first, then its parent, then a sibling, then a stranger */
	uint32_t reply = suite_deliver(s->store, "INBOX",
		"Message-ID: <r@x>\r\nIn-Reply-To: <p@x>\r\nReferences: <root@x>\r\n"
		" <p@x>\r\n\r\nr\r\n", 0, 0);
	uint32_t parent = suite_deliver(s->store, "Archive",
		"Message-ID: <p@x>\r\nReferences: <root@x>\r\n\r\np\r\n", 0, 0);
	uint32_t sibling = suite_deliver(s->store, "INBOX",
		"Message-Id: <s@x>\r\nReferences: <root@x> <p@x>\r\n\r\ns\r\n", 0, 0);
	uint32_t other = suite_deliver(s->store, "INBOX",
		"Message-ID: <o@x>\r\nReferences: <elsewhere@x>\r\n\r\no\r\n", 0, 0);
	uint32_t none = suite_deliver(s->store, "INBOX", "Subject: n\r\n\r\nn\r\n", 0, 0);
	struct store_message_info r = one(s, "INBOX", reply), p = one(s, "Archive", parent);
	struct store_message_info sb = one(s, "INBOX", sibling), o = one(s, "INBOX", other);
	struct store_message_info n = one(s, "INBOX", none);
	assert_memory_equal(r.threadid, p.threadid, STORE_GUID_SIZE);
	assert_memory_equal(r.threadid, sb.threadid, STORE_GUID_SIZE);
	assert_memory_equal(r.threadid, r.guid, STORE_GUID_SIZE); /* it came first */
	assert_memory_not_equal(o.threadid, r.threadid, STORE_GUID_SIZE);
	assert_memory_equal(n.threadid, n.guid, STORE_GUID_SIZE);
}

static void test_preview_cache(void **state)
{
	struct suite *s = *state;
	const char *error, *preview = "x";
	uint32_t uid = suite_deliver(s->store, "INBOX", "Subject: p\r\n\r\np\r\n", 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	assert_int_equal(store_view_message_preview(v, uid, s->pool, &preview, &error), 0);
	assert_null(preview);
	assert_int_equal(store_view_message_set_preview(v, uid, "", &error), 0);
	assert_int_equal(store_view_message_preview(v, uid, s->pool, &preview, &error), 0);
	assert_non_null(preview);
	assert_string_equal(preview, "");
	assert_int_equal(store_view_message_preview(v, uid + 1, s->pool, &preview, &error), -1);
	store_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_copy_move_keep_guid),
		SUITE_TEST(test_mailboxid),
		SUITE_TEST(test_threads),
		SUITE_TEST(test_preview_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

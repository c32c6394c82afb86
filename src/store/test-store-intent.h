/* test-store-intent.h: what test-store-crashpoint.c (main, the linker
 * wraps) shares with test-store-intent.c (the intents' failure paths and
 * the previous build's intent formats), one test executable. */
#ifndef TEST_STORE_INTENT_H
#define TEST_STORE_INTENT_H

#include "store/backend-suite/suite.h"

/* store_index_commit() returns -1 (crash_commit, test-store-crashpoint.c) */
#define FAIL_COMMIT 3u
extern unsigned crash_commit;
/* unlink() of a path containing it fails with EACCES */
extern const char *fail_unlink;
/* the last intent a finished operation unlinked */
extern char last_intent[512];

/* Intent files in the user directory and its folders. */
unsigned intents_left(struct suite *s);
/* Messages of mailbox, none lost, STATUS agreeing with a walk. */
unsigned mailbox_count(struct suite *s, const char *mailbox);
/* Reopen with the index dropped: rebuilt from every file. */
void index_discard(struct suite *s);

void test_move_unlink_failure_keeps_intent(void **state);
void test_intent_name_taken(void **state);
void test_expunge_commit_failure_recovers(void **state);
void test_intent_folder_gone(void **state);
void test_legacy_rename_intent(void **state);
void test_legacy_expunge_intent(void **state);
void test_legacy_expunge_garbage(void **state);

#endif

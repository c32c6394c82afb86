/* userdb_thread.c: one accounts.db handle per thread (userdb.h), for
 * the jobs that read accounts off the event loop: SASL lookups and
 * password checks (auth_login.c) and SMTP's MAIL and RCPT lookups
 * (smtp_lookup.c). A thread-specific key closes the handle when a pool
 * thread exits (threadpool_destroy() joins them), so a worker leaves no
 * SQLite connection behind. */
#include "auth/userdb.h"
#include "lib/log.h"

#include <pthread.h>
#include <stddef.h>

static pthread_key_t userdb_key;
static pthread_once_t userdb_key_once = PTHREAD_ONCE_INIT;

static void userdb_thread_destroy(void *ptr)
{
	struct userdb *db = ptr;
	userdb_close(&db);
}

static void userdb_key_create(void)
{
	if (pthread_key_create(&userdb_key, userdb_thread_destroy) != 0)
		panic("event=pthread_key_create_failed what=userdb");
}

struct userdb *userdb_thread(const char *data_dir, const char **error_r)
{
	pthread_once(&userdb_key_once, userdb_key_create);
	struct userdb *db = pthread_getspecific(userdb_key);
	if (db != NULL)
		return db;
	if (userdb_open(data_dir, &db, error_r) < 0)
		return NULL;
	if (pthread_setspecific(userdb_key, db) != 0)
		panic("event=pthread_setspecific_failed what=userdb");
	return db;
}

void userdb_thread_close(void)
{
	pthread_once(&userdb_key_once, userdb_key_create);
	struct userdb *db = pthread_getspecific(userdb_key);
	if (db == NULL)
		return;
	(void)pthread_setspecific(userdb_key, NULL);
	userdb_close(&db);
}

/* secret.c: read a password without echo. See secret.h. */
#include "secret.h"
#include "mem.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal state to restore if a signal arrives while echo is off. */
static struct termios secret_tty_saved;
static volatile sig_atomic_t secret_tty_echo_off;

static void secret_tty_signal(int sig)
{
	if (secret_tty_echo_off)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &secret_tty_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

ssize_t secret_read_line(int fd, char *buf, size_t size, const char **error_r)
{
	size_t len = 0;
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = t_printf("reading the password: %s", strerror(errno));
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (len + 1 >= size) {
			*error_r = "password longer than 255 bytes";
			return -1;
		}
		buf[len++] = c;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return (ssize_t)len;
}

ssize_t secret_read_tty(const char *prompt, char *buf, size_t size,
			const char **error_r)
{
	static const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa, old[5];
	struct termios quiet;

	if (tcgetattr(STDIN_FILENO, &secret_tty_saved) < 0) {
		*error_r = t_printf("tcgetattr: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = secret_tty_signal;
	for (unsigned i = 0; i < 5; i++)
		sigaction(signals[i], &sa, &old[i]);
	quiet = secret_tty_saved;
	quiet.c_lflag &= (tcflag_t)~ECHO;
	quiet.c_lflag |= ECHONL;
	fputs(prompt, stderr);
	fflush(stderr);
	secret_tty_echo_off = 1;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	ssize_t len = secret_read_line(STDIN_FILENO, buf, size, error_r);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &secret_tty_saved);
	secret_tty_echo_off = 0;
	for (unsigned i = 0; i < 5; i++)
		sigaction(signals[i], &old[i], NULL);
	return len;
}

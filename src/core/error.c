/*
 * error.c - the one error model: negative errno or an RGN_E* code, plus a
 * per-thread detail string so the caller can say which key, path or pid a
 * failure was about without the library ever printing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char detail[512];

void (*rgn_test_hook)(const char *point);

/*
 * Indexed by code, so a message cannot drift from its code, and each
 * message names its code ("RGN_ECORRUPT: shared state is corrupt", as
 * LMDB's mdb_strerror does) so that a log line leads back to the code a
 * program can test for.
 */
struct lib_msg {
	const char *name; /* "RGN_ECORRUPT" */
	const char *text; /* "RGN_ECORRUPT: " and what went wrong */
};

#define MSG(code, words) [RGN_EBASE - (code)] = {#code, #code ": " words}
static const struct lib_msg lib_msgs[] = {
	MSG(RGN_EBADMAGIC, "not a regionfs environment or segment (bad magic)"),
	MSG(RGN_EVERSION, "written by an unsupported format version"),
	MSG(RGN_ECORRUPT, "shared state is corrupt"),
	MSG(RGN_EINCOMPLETE,
	    "environment creation was interrupted (creator died)"),
	MSG(RGN_EFOREIGN,
	    "a segment of another program or environment holds the key"),
	MSG(RGN_EPRIVATE, "home is held by a private environment"),
	MSG(RGN_ENOKEY, "system memory backing needs a base key other than 0 "
			"(IPC_PRIVATE)"),
	MSG(RGN_EPANIC, "environment has panicked"),
	MSG(RGN_EFULL, "region table or process registry is full"),
	MSG(RGN_EBACKING,
	    "backing differs from the one the environment was created with"),
	MSG(RGN_ENOTENV, "home holds no environment"),
	MSG(RGN_EFOREIGNENV, "home holds another program's environment"),
};
#undef MSG

/* One message per code of the reserved block, no more, no fewer. */
_Static_assert(RGN_ARRAY_LEN(lib_msgs) == (size_t)(RGN_EBASE - RGN_ELAST) + 1,
	       "lib_msgs must have one entry per RGN_E* code");

const char *rgn_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err <= RGN_EBASE && err >= RGN_ELAST &&
	    lib_msgs[RGN_EBASE - err].text)
		return lib_msgs[RGN_EBASE - err].text;
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}

const char *rgn_errname(int err)
{
	if (err <= RGN_EBASE && err >= RGN_ELAST &&
	    lib_msgs[RGN_EBASE - err].name)
		return lib_msgs[RGN_EBASE - err].name;
	return NULL;
}

const char *rgn_errdetail(void)
{
	return detail;
}

void rgn_clear_detail(void)
{
	detail[0] = '\0';
}

int rgn_fail(int err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	errno = saved;
	return err;
}

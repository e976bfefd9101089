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

static const char *const lib_msgs[] = {
	[0] = "not a regionfs environment or segment (bad magic)",
	[1] = "written by an unsupported format version",
	[2] = "shared state is corrupt",
	[3] = "environment creation was interrupted (creator died)",
	[4] = "a segment of another program or environment holds the key",
	[5] = "home is held by a private environment",
	[6] = "system memory backing needs a base key other than 0 (IPC_PRIVATE)",
	[7] = "environment has panicked",
	[8] = "region table or process registry is full",
	[9] = "backing differs from the one the environment was created with",
	[10] = "home holds no environment",
};

const char *rgn_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err <= RGN_EBASE && err >= RGN_ELAST)
		return lib_msgs[RGN_EBASE - err];
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
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

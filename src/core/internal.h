/*
 * internal.h - helpers shared by libregion's modules; not installed.
 */
#ifndef RGN_INTERNAL_H
#define RGN_INTERNAL_H

#include <errno.h>
#include <stdint.h>

#include "rgn.h"

#define RGN_UNUSED	 __attribute__((unused))
#define RGN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RGN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Record context for the calling thread's current failure (see
 * rgn_errdetail).  Returns ERR so a failure site reads
 * "return rgn_fail(-errno, "open %s", path);".  errno is preserved.
 */
int rgn_fail(int err, const char *fmt, ...) RGN_PRINTF(2, 3);
/* The name of a library code ("RGN_ECORRUPT"), NULL for anything else. */
const char *rgn_errname(int err);
/* Forget the calling thread's detail: called on entry to public calls. */
void rgn_clear_detail(void);

/*
 * Crash tests need a process to die at an exact point inside the library
 * (say, between making the primary and publishing it).  Tests set this hook
 * (the static test build reaches it; the shared library does not export
 * it); each named point calls it.  NULL in production: one load and branch.
 */
extern void (*rgn_test_hook)(const char *point);
static inline void rgn_test_point(const char *point)
{
	if (__builtin_expect(rgn_test_hook != NULL, 0))
		rgn_test_hook(point);
}

static inline uint64_t rgn_round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

#endif /* RGN_INTERNAL_H */

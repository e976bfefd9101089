/*
 * internal.h - helpers shared by libregion's modules; not installed.
 */
#ifndef RGN_INTERNAL_H
#define RGN_INTERNAL_H

#include <errno.h>
#include <stdint.h>

#include "rgn.h"

#define RGN_UNUSED __attribute__((unused))
#define RGN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RGN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Record context for the calling thread's current failure (see
 * rgn_errdetail).  Returns ERR so a failure site reads
 * "return rgn_fail(-errno, "open %s", path);".  errno is preserved.
 */
int rgn_fail(int err, const char *fmt, ...) RGN_PRINTF(2, 3);
/* Forget the calling thread's detail: called on entry to public calls. */
void rgn_clear_detail(void);

static inline uint64_t rgn_round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

#endif /* RGN_INTERNAL_H */

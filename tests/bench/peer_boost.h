/*
 * peer_boost.h - Boost.Interprocess's managed_shared_memory seen from C,
 * for the allocator benchmark.  Implemented in peer_boost.cc, which is
 * built only when the Boost headers are found (RGN_BENCH_BOOST defined).
 */
#ifndef RGN_PEER_BOOST_H
#define RGN_PEER_BOOST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bpeer;

/* Create the POSIX segment NAME of SIZE bytes (replacing a stale one) and
 * its managed heap; NULL on failure, with a message in ERR. */
struct bpeer *bpeer_open(const char *name, size_t size, char *err,
			 size_t errlen);
/* allocate(n, std::nothrow): NULL when the segment is full. */
void *bpeer_alloc(struct bpeer *b, size_t n);
void bpeer_free(struct bpeer *b, void *p);
/* get_free_memory(): bytes not in allocated blocks. */
size_t bpeer_free_memory(struct bpeer *b);
/* Unmap and remove the segment. */
void bpeer_close(struct bpeer *b);
/* BOOST_LIB_VERSION, e.g. "1_74". */
const char *bpeer_version(void);

#ifdef __cplusplus
}
#endif
#endif /* RGN_PEER_BOOST_H */

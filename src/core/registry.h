/*
 * registry.h - the registry of attached handles in the primary (see
 * registry.c).  It is given only the shared structs it works on and the
 * caller's own entry, never a whole environment handle.
 */
#ifndef RGN_REGISTRY_H
#define RGN_REGISTRY_H

#include <stdint.h>

#include "layout.h"

/* A handle's own entry: where it is and the serial that proves it. */
struct rgn_registry_entry {
	int slot;	 /* index in the registry, -1 if none */
	uint64_t serial; /* the entry's pr_handle */
};

/* Add the calling process to PROCS (bounded by EV's high-water mark),
 * reclaiming stale entries first; fills *ME.  RGN_EFULL when every entry
 * is live.  Called with ev_mutex held. */
int rgn_registry_add(struct rgn_shm_env *ev, struct rgn_shm_proc *procs,
		     struct rgn_registry_entry *me);

/* Remove *ME from PROCS, unless the entry now belongs to someone else (a
 * forked child closing its copy).  Called with ev_mutex held. */
void rgn_registry_remove(struct rgn_shm_proc *procs,
			 struct rgn_registry_entry *me);

/* Count live and stale entries; reclaim the stale ones if RECLAIM.  LIVE
 * (optional, NPROCS entries) gets each entry's verdict, so a caller never
 * judges the same process twice. */
void rgn_registry_scan(struct rgn_shm_proc *procs, uint32_t nprocs, int reclaim,
		       uint32_t *nlive, uint32_t *nstale, uint8_t *live);

#endif /* RGN_REGISTRY_H */

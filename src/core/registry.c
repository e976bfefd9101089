/*
 * registry.c - who is attached, exactly.
 *
 * One entry per open handle: (pid, start time, attach time).  A pid alone
 * would lie after pid reuse, so an entry is live only while a process with
 * that pid *and* that start time exists.  Entries of dead processes are
 * shown as stale until the next attach reclaims them, so a crash is visible
 * without ever inflating the count of live attachers (Berkeley DB's
 * reference count never comes down after a kill -9).
 * Every function here is called with ev_mutex held.
 */
#include <string.h>
#include <time.h>

#include "internal.h"
#include "proc.h"
#include "registry.h"

void rgn_registry_scan(struct rgn_shm_proc *procs, uint32_t nprocs, int reclaim,
		       uint32_t *nlive, uint32_t *nstale, uint8_t *live)
{
	*nlive = *nstale = 0;
	for (uint32_t i = 0; i < nprocs; i++) {
		struct rgn_shm_proc *p = &procs[i];
		int alive;

		if (live)
			live[i] = 0;
		if (!p->pr_pid)
			continue;
		alive = rgn_proc_alive(p->pr_pid, p->pr_start);
		if (live)
			live[i] = (uint8_t)alive;
		if (alive)
			(*nlive)++;
		else if (reclaim)
			memset(p, 0, sizeof(*p));
		else
			(*nstale)++;
	}
}

int rgn_registry_add(struct rgn_shm_env *ev, struct rgn_shm_proc *procs,
		     struct rgn_registry_entry *me)
{
	uint32_t live, stale;
	uint32_t hwm = rgn_proc_hwm(ev);

	rgn_registry_scan(procs, hwm, 1, &live, &stale, NULL);
	for (uint32_t i = 0; i < RGN_MAX_PROCS; i++) {
		struct rgn_shm_proc *p = &procs[i];

		if (p->pr_pid)
			continue;
		if (i >= hwm)
			ev->ev_proc_hwm = i + 1;
		me->serial = ++ev->ev_next_handle;
		p->pr_start = rgn_self_start();
		p->pr_attach_time = time(NULL);
		p->pr_handle = me->serial;
		p->pr_pid = rgn_self_pid();
		me->slot = (int)i;
		return 0;
	}
	return rgn_fail(RGN_EFULL, "all %u registry slots hold live processes",
			RGN_MAX_PROCS);
}

void rgn_registry_remove(struct rgn_shm_proc *procs,
			 struct rgn_registry_entry *me)
{
	struct rgn_shm_proc *p;

	if (me->slot < 0 || me->slot >= (int)RGN_MAX_PROCS)
		return;
	p = &procs[me->slot];
	/* A forked child that closes its copy of the handle must not erase
	 * its parent's entry. */
	if (p->pr_pid == rgn_self_pid() && p->pr_handle == me->serial)
		memset(p, 0, sizeof(*p));
	me->slot = -1;
}

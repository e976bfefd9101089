/*
 * proc.h - identity of processes across pid reuse: a (pid, start time)
 * pair names one process for the life of a boot.
 */
#ifndef RGN_PROC_H
#define RGN_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* Start time of PID in clock ticks since boot (/proc/PID/stat field 22).
 * -ESRCH if there is no such process, or it has exited and is a zombie
 * waiting to be reaped. */
int rgn_proc_start(pid_t pid, uint64_t *start);

/* 1 if (pid, start) is still running, 0 if it exited or the pid was reused. */
int rgn_proc_alive(pid_t pid, uint64_t start);

/* This process's pid and start time, cached and refreshed after fork. */
pid_t rgn_self_pid(void);
uint64_t rgn_self_start(void);

/* Seconds since the epoch at which a ticks-since-boot value happened. */
int64_t rgn_ticks_to_epoch(uint64_t ticks);

/* The boot id, "xxxxxxxx-xxxx-...", or "" if unknown. */
const char *rgn_boot_id(void);

#endif

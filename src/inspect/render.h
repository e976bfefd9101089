/*
 * render.h - every text, JSON and Prometheus view of an environment and of
 * a leak scan, in one place, so that regionctl and the regionfs mount can
 * never disagree about what a figure is called or how it is printed.
 *
 * Conventions shared by every renderer:
 *  - Input is a snapshot (struct rgn_env_stat from rgn_stat_env, struct
 *    rgn_leak_scan from rgn_leak_scan); renderers read nothing else, except
 *    where noted (user names for the leak table).  The same snapshot and the
 *    same NOW always render to the same bytes.
 *  - Output goes to a buffer malloc'd by the renderer: on success *out holds
 *    *len bytes plus a terminating NUL (not counted), and the caller frees it
 *    with free().  On failure *out is NULL, *len is 0.
 *  - Return 0, or -EINVAL (NULL argument, region not in the snapshot),
 *    -ENOMEM.
 *  - Times print in local time as "Sat Nov 28 23:31:39 2026" (ctime(3)
 *    without the newline).  Pass NOW explicitly (e.g. time(NULL)) so two
 *    renderings can be compared.
 *
 * Escaping: every string that comes from shared memory or a segment header
 * (home paths, region names and types, file names, evidence) is passed
 * through rgn_render_escape in every view, text, JSON and Prometheus alike,
 * so one record is always one line and the output is always valid UTF-8.
 *
 * The code is split by output: render.c (formatters, escaping, the figure
 * tables every format walks), render_text.c, render_table.c (the leak
 * table), render_json.c and render_prom.c.
 *
 * Text layout (Berkeley DB's `db_stat -e`): every line is "VALUE\tLABEL";
 * sections are separated by RGN_RENDER_SEP on a line of its own; sizes print
 * as pieces "1GB 2MB 3KB 17B", zero as "0" (see rgn_render_bytes).
 * JSON: one object, snake_case keys, numbers as numbers, sizes in bytes,
 * times as seconds since the epoch (0 = never), closed by a newline.
 */
#ifndef RGN_RENDER_H
#define RGN_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "leaks.h"
#include "rgn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The section separator: 49 characters, "=-" repeated, ending with '='. */
#define RGN_RENDER_SEP	   "=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-=-="
#define RGN_RENDER_SEP_LEN 49

/* ---- small formatters (no allocation) ---------------------------------- */

/*
 * BYTES as Berkeley DB prints sizes: the non-zero pieces of
 * GB / MB / KB / B (powers of 1024) separated by spaces, e.g. 1073741824 ->
 * "1GB", 1073152 -> "1MB 24KB", 286720 -> "280KB", 1041 -> "1KB 17B",
 * 0 -> "0".  Writes at most BUFLEN bytes including the NUL (40 always
 * suffice) and returns BUF.
 */
char *rgn_render_bytes(uint64_t bytes, char *buf, size_t buflen);

/*
 * BYTES in a short column form as ipcs/lsipc show them: "0B", "512B",
 * "64K", "1.5M", "12G", "2T" (one decimal below 10 when not whole).
 * 16 bytes always suffice.  Returns BUF.
 */
char *rgn_render_size_short(uint64_t bytes, char *buf, size_t buflen);

/* V in decimal into BUF, NUL-terminated, without printf (a table of
 * thousands of segments formats tens of thousands of numbers): 21 bytes
 * suffice, 22 signed.  Return BUF. */
char *rgn_render_u64(uint64_t v, char *buf);
char *rgn_render_i64(int64_t v, char *buf);

/* The cells of a leaked-segment row that both leak tables print (the
 * text one here, regionctl's libsmartcols one): the key as ipcs prints it,
 * "0x0000abcd" (11 bytes); the permission bits as three octal digits (4
 * bytes); the creator's pid, with "*" when the creator is gone or its pid
 * names another process now (23 bytes).  Return BUF. */
char *rgn_render_leak_key(const struct rgn_leak *g, char *buf);
char *rgn_render_leak_perms(const struct rgn_leak *g, char *buf);
char *rgn_render_leak_cpid(const struct rgn_leak *g, char *buf);

/* User names for a leak table, cached: one scan names few users.  Zero it
 * before the first use; the name of an unknown uid is its number. */
struct rgn_render_names {
	uint32_t uid[8];
	char name[8][33];
	unsigned n, next;
};
const char *rgn_render_user_name(struct rgn_render_names *c, uint32_t uid);

/* An age in seconds as "3d4h", "5h2m", "7m3s", "12s" (negative: "0s"). */
void rgn_render_age(int64_t s, char *buf, size_t len);

/* A last attach or detach time as the leaks table shows it, in ipcs's
 * spirit but short: the time of day within a day of NOW, else the date
 * ("Nov28"); "-" for never. */
void rgn_render_when(int64_t t, int64_t now, char *buf, size_t len);

/* T as "Sat Nov 28 23:31:39 2026" in local time; T == 0 prints "never".
 * 32 bytes always suffice.  Returns BUF. */
char *rgn_render_time(int64_t t, char *buf, size_t buflen);

/*
 * The one escaping rule for strings read from shared memory, like `ls -b`:
 * printable valid UTF-8 passes unchanged; a backslash becomes "\\"; every
 * control character (C0, DEL, the C1 controls U+0080..U+009F, and the line
 * and paragraph separators U+2028/U+2029) and every byte that is not part
 * of valid UTF-8 (RFC 3629: no overlong forms, no surrogates) becomes
 * "\xNN" with lowercase hex, one escape per byte.  The result is one line of
 * valid UTF-8, and undoing "\\" and "\xNN" gives back the exact bytes.
 * S == NULL reads as "".
 */
/* Into BUF of BUFLEN bytes, truncated between escapes and characters,
 * never inside one; always NUL-terminated (when BUFLEN > 0).  Returns BUF. */
char *rgn_render_escape(const char *s, char *buf, size_t buflen);
/* The whole escaped string, malloc'd (free() it); NULL on ENOMEM. */
char *rgn_render_escape_dup(const char *s);

/* ---- environments ------------------------------------------------------ */

/*
 * The whole environment in db_stat -e layout:
 *   1. environment: local time (NOW), magic, format version, backing, base
 *      key, creation and last change time, environment id, panic, live and
 *      stale attachers, "N\tReferences" (live attached handles, db_stat -e's
 *      word for them, so its scripts find it), region count, generation, the
 * environment mutex as "HOLDER\tEnvironment mutex [WAITS/REQUESTS PCT%
 * Own|!Own]" (Own: held at snapshot time; HOLDER is its pid, 0 when free),
 * primary size;
 *   2. one section per region, as rgn_render_region_text;
 *   3. attached processes, as rgn_render_procs_text.
 * A private environment seen from outside (backing private, regions NULL)
 * renders the first lines and one section naming the owner pid.
 */
int rgn_render_env_text(const struct rgn_env_stat *st, time_t now, char **out,
			size_t *len);

/*
 * The same data as JSON:
 *   {"local_time", "home", "backing", "private", "magic", "format",
 *    "flags", "fallback", "shm_key", "mode", "env_id", "env_id_hex", "ctime",
 *    "mtime", "panic", "generation", "primary_size", "private_owner",
 *    "live", "stale", "references", "mutex": MUTEX, "regions": [REGION...],
 *    "processes": [PROC...]}
 * For a private environment seen from outside, "private": true,
 * "private_owner" and "regions"/"processes" as empty arrays.
 */
int rgn_render_env_json(const struct rgn_env_stat *st, time_t now, char **out,
			size_t *len);

/*
 * One region's section alone (no separators): id, file, name, type, size,
 * max, segment id and key, creation time, creator pid, allocator figures
 * (arena, used, free, largest free chunk, live blocks, free chunks,
 * allocations, failures, frees, and one line per non-zero histogram
 * bucket), and the region mutex.  The primary (id 1) has no allocator:
 * its section ends with the environment mutex.  When RS->detail != 0 the
 * allocator and mutex lines are replaced by one line giving the reason
 * ("unavailable\tAllocator and mutex figures (REASON)").  RS must point
 * into ST->regions (ST gives the environment context); -EINVAL otherwise.
 */
int rgn_render_region_text(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len);

/*
 * One region as JSON: {"id", "file", "name", "type", "size", "max",
 * "shmid", "key", "flags", "ctime", "mtime", "creator_pid", "error"
 * (null, or the reason figures are missing), "alloc": {"arena_bytes",
 * "used_bytes", "free_bytes", "largest_free", "live_blocks",
 * "free_chunks", "nalloc", "nfail", "nfree", "histogram": [{"min", "max",
 * "count"}...non-zero buckets]}, "mutex": MUTEX}, where MUTEX is
 * {"requests", "waits", "owner_died", "holder"}.  "alloc" is null for the
 * primary, "alloc" and "mutex" are null when "error" is set.  Same rule for
 * RS as above.
 */
int rgn_render_region_json(const struct rgn_env_stat *st,
			   const struct rgn_region_stat *rs, char **out,
			   size_t *len);

/* The region of ST with id ID, or NULL. */
const struct rgn_region_stat *rgn_render_find_region(
	const struct rgn_env_stat *st, uint32_t id);

/*
 * Attached processes: a count line "N\tRegistered processes (L live, S
 * stale)", then one line per registry entry
 * "PID\tlive|stale process, started TIME, attached TIME".
 */
int rgn_render_procs_text(const struct rgn_env_stat *st, char **out,
			  size_t *len);

/* [{"pid", "start_ticks", "start_time", "attach_time", "live"}...] plus a
 * newline. */
int rgn_render_procs_json(const struct rgn_env_stat *st, char **out,
			  size_t *len);

/* ---- leak scans -------------------------------------------------------- */

/*
 * One segment in detail, several indented lines:
 *   shmid 32769 key 0x5eed0002 size 1MB class orphaned
 *     owner uid/gid, creator uid/gid, mode, nattch
 *     creator pid (alive|dead|unknown), last pid
 *     attach, detach and change times, idle age
 *     ours: environment id, region id/name/type, home (matches or not),
 *           live/stale processes of its environment
 *     evidence: ...
 */
int rgn_render_leak_text(const struct rgn_leak *seg, char **out, size_t *len);

/* One segment as a JSON object (keys as in rgn_render_leaks_json). */
int rgn_render_leak_json(const struct rgn_leak *seg, char **out, size_t *len);

/*
 * The table for people, like `ipcs -m` / lsipc: a header line and one line
 * per segment, columns aligned with spaces:
 *   SHMID KEY OWNER PERMS SIZE NATTCH CPID LPID IDLE CLASS WHERE
 * OWNER is a user name when one is known (getpwuid_r), else the uid; CPID
 * is followed by '*' when that process is dead or reused; IDLE like "3d4h",
 * "5m", "12s"; WHERE is the home for ours (escaped, so one segment is
 * one line) and "-" for foreign segments; REGION is "ID:NAME", the name
 * escaped and cut to 30 bytes.
 * An empty scan renders the header only.
 */
int rgn_render_leaks_table(const struct rgn_leak_scan *scan, char **out,
			   size_t *len);

/*
 * For scripts: {"time", "source", "shmmni", "shmall", "shmmax",
 * "shm_rmid_forced", "page_size", "total_bytes", "leaked_bytes",
 * "bdb_segments", "bdb_bytes", "bdb_at_rest", "bdb_at_rest_bytes",
 * "needs_recovery", "needs_recovery_bytes",
 * "counts": {CLASS: n...}, "bytes": {CLASS: n...}, "segments": [SEG...]}
 * with CLASS the class names and SEG {"shmid", "key", "key_hex", "size",
 * "uid", "gid", "cuid", "cgid", "mode", "dest", "nattch", "cpid",
 * "cpid_alive" (true/false/null), "lpid", "atime", "dtime", "ctime",
 * "idle", "rss", "swap" (bytes, null when unknown), "class", "evidence",
 * "ours" (true/false/null), "program" ("regionfs", "berkeley-db" or null);
 * when Berkeley DB's: "version" ("5.3.28"), "bdb_region_id",
 * "bdb_region_type" (null when unknown), "bdb_primary_shmid",
 * "references" (null when not decoded), "panic", "env_nattch", "home"
 * (the named home that refers to it or dropped it, or null); when ours:
 * "env_id", "env_id_hex", "region_id", "region_type", "region_name",
 * "creator_pid", "home", "home_matches" (true/false/null), "env_live",
 * "env_stale"}.
 */
int rgn_render_leaks_json(const struct rgn_leak_scan *scan, char **out,
			  size_t *len);

/*
 * Summary for people: segment count and bytes per class, the bytes held by
 * leaked segments, Berkeley DB's segments and those at rest, shmmni, shmall
 * (pages and bytes), shmmax and shm_rmid_forced, in "VALUE\tLABEL" lines.
 */
int rgn_render_leaks_summary(const struct rgn_leak_scan *scan, char **out,
			     size_t *len);

/*
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector: each family once with "# HELP" and "# TYPE", then
 * its samples; counters end in _total, gauges never do; label values
 * escaped by rgn_render_escape, then as the format requires (\\, \", \n).
 * ENVS holds NENVS snapshots (may be 0; NULL entries are skipped); every
 * per-environment series carries home="HOME".  SCAN may be NULL, and then
 * no regionfs_shm_* family appears: host-wide series come from one place
 * per host (regionctl leaks --prometheus), never once per mount.
 * Families (all prefixed regionfs_):
 *   env_info{home,backing,env_id} 1, env_live_processes{home},
 *   env_stale_processes{home}, env_regions{home},
 *   env_generation_total{home},
 *   env_panic{home}, env_created_timestamp_seconds{home},
 *   env_mutex_requests_total{home}, env_mutex_waits_total{home},
 *   region_size_bytes{home,region,id,type}, region_max_bytes,
 *   region_arena_bytes, region_used_bytes, region_free_bytes,
 *   region_largest_free_bytes, region_live_blocks,
 *   region_allocations_total, region_allocation_failures_total,
 *   region_frees_total, region_mutex_requests_total,
 *   region_mutex_waits_total (allocator and mutex figures only for
 *   regions whose detail was read);
 *   shm_segments{class}, shm_segment_bytes{class}, shm_leaked_bytes,
 *   shm_total_bytes, shm_bdb_bytes, shm_bdb_at_rest_bytes,
 *   shm_bdb_needs_recovery_bytes, shm_shmmni, shm_shmall_pages,
 * shm_shmmax_bytes, shm_rmid_forced, shm_scan_timestamp_seconds (only with
 * SCAN).
 */
int rgn_render_prometheus(const struct rgn_env_stat *const *envs, size_t nenvs,
			  const struct rgn_leak_scan *scan, char **out,
			  size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* RGN_RENDER_H */

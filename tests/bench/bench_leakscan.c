/*
 * bench_leakscan.c - what `regionctl leaks` does by default, as a small
 * program of its own: scan every segment of the IPC namespace, print the
 * table and the summary.  bench_leaks execs it (or regionctl itself, when
 * given) against `ipcs -m -p`, so both sides pay for exec, the scan and
 * the printing.  It runs in the caller's namespaces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "leaks.h"
#include "render.h"

int main(void)
{
	struct rgn_leak_scan *scan = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = rgn_leak_scan(0, &scan);

	if (rc < 0) {
		fprintf(stderr, "bench_leakscan: scan: %s (%s)\n",
			rgn_strerror(rc), rgn_errdetail());
		return 1;
	}
	rc = rgn_render_leaks_table(scan, &buf, &len);
	if (rc == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	buf = NULL;
	if (rc == 0) {
		printf("%s\n", RGN_RENDER_SEP);
		rc = rgn_render_leaks_summary(scan, &buf, &len);
	}
	if (rc == 0)
		fwrite(buf, 1, len, stdout);
	free(buf);
	rgn_leak_free(scan);
	if (rc < 0) {
		fprintf(stderr, "bench_leakscan: render: %s\n",
			rgn_strerror(rc));
		return 1;
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

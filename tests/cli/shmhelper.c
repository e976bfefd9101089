/*
 * shmhelper - makes another program's System V segments for the CLI tests:
 * "foreign" segments the leak scanner must classify without touching.
 *
 *   shmhelper create KEY SIZE     create (and write) a segment, print its
 *                                 shmid, exit: its creator is then dead
 *   shmhelper hold KEY SIZE       create, stay attached, print the shmid,
 *                                 wait for a signal
 *   shmhelper hold-rmid KEY SIZE  as hold, then IPC_RMID while attached
 *                                 (the segment is then SHM_DEST)
 *
 * KEY is decimal or 0x hex; 0 means IPC_PRIVATE.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int hold, rmid, id;
	key_t key;
	size_t size;
	char *p;

	if (argc != 4) {
		fprintf(stderr,
			"usage: shmhelper create|hold|hold-rmid KEY SIZE\n");
		return 2;
	}
	hold = strcmp(argv[1], "create") != 0;
	rmid = strcmp(argv[1], "hold-rmid") == 0;
	key = (key_t)strtoul(argv[2], NULL, 0);
	size = strtoul(argv[3], NULL, 0);
	id = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
	if (id < 0) {
		perror("shmget");
		return 1;
	}
	p = shmat(id, NULL, 0);
	if (p == (void *)-1) {
		perror("shmat");
		return 1;
	}
	/* Written like a real program would: the scanner must read it. */
	memset(p, 0xa5, 64);
	if (rmid && shmctl(id, IPC_RMID, NULL) < 0) {
		perror("shmctl IPC_RMID");
		return 1;
	}
	if (!hold)
		shmdt(p);
	printf("%d\n", id);
	fflush(stdout);
	if (hold)
		pause(); /* SIGTERM/SIGKILL end it; the kernel detaches */
	return 0;
}

/*
 * state_sysv_shm: System V shared memory segments and their attachments
 * must come back with the same key, id, mode, owner, size, contents and
 * attach addresses:
 *   A  key K (0x7c<pid>), mode 0640, 3 pages + 100 bytes, attached twice:
 *      read-write and SHM_RDONLY; written through the first;
 *   B  IPC_PRIVATE, 1 page, attached read-write, written, then marked for
 *      removal (IPC_RMID) while attached;
 *   C  key K+1, mode 0600, 1 page, attached read-write, written, then
 *      mprotect'ed read-only.
 * The first line is "ready A=<id> C=<id> K=<key>" (the test script needs
 * them: the original's segments outlive it and must be removed before the
 * copy can have their keys and ids).
 * Check: maps identical; IPC_STAT of each id: key, mode (SHM_DEST for B),
 * size, 2/1/1 attachments, owner; contents; a write through A's read-write
 * attachment shows in its read-only one; the read-only attachment cannot
 * be made writable (EACCES) while C's can. A and C are removed at the end.
 * --fresh uses shared anonymous memory instead, so IPC_STAT fails.
 * --partial unmaps the last page of A's read-write attachment: the dump
 * must refuse it (only part of the attachment is left).
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/shm.h>

#define PAGE 4096
#define ASIZE (3 * PAGE + 100)

static char maps_before[256 * 1024], maps_after[256 * 1024];
static char out_buf[16 * 1024], in_buf[4096];

static char *attach(int fresh, int id, size_t size, int flags)
{
	char *p = fresh ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
	                : shmat(id, NULL, flags);
	if (p == (void *)-1)
		tp_die("shmat");
	return p;
}

static void check_seg(const char *name, int id, key_t key, unsigned mode, size_t size, unsigned long nattch)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) != 0) {
		FAIL("%s: IPC_STAT of id %d: %s", name, id, strerror(errno));
		return;
	}
	if (ds.shm_perm.__key != key)
		FAIL("%s: key %#x, want %#x", name, ds.shm_perm.__key, key);
	if ((ds.shm_perm.mode & 01777) != mode)
		FAIL("%s: mode %#o, want %#o", name, ds.shm_perm.mode & 01777, mode);
	if (ds.shm_segsz != size)
		FAIL("%s: size %zu, want %zu", name, (size_t)ds.shm_segsz, size);
	if (ds.shm_nattch != nattch)
		FAIL("%s: %lu attachments, want %lu", name, (unsigned long)ds.shm_nattch, nattch);
	if (ds.shm_perm.uid != getuid() || ds.shm_perm.gid != getgid())
		FAIL("%s: owner %u:%u", name, ds.shm_perm.uid, ds.shm_perm.gid);
}

static void expect(const char *what, const char *p, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c) {
			FAIL("%s: byte %zu is %#x, want %#x", what, i, (unsigned char)p[i], c);
			return;
		}
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	key_t key = (key_t)(0x7c000000 | (getpid() & 0xffffff));
	int a = -1, b = -1, c = -1;
	if (!fresh) {
		a = shmget(key, ASIZE, IPC_CREAT | IPC_EXCL | 0640);
		b = shmget(IPC_PRIVATE, PAGE, IPC_CREAT | 0600);
		c = shmget(key + 1, PAGE, IPC_CREAT | IPC_EXCL | 0600);
		if (a < 0 || b < 0 || c < 0)
			tp_die("shmget");
	}
	char *arw = attach(fresh, a, ASIZE, 0), *aro = attach(fresh, a, ASIZE, SHM_RDONLY);
	char *bp = attach(fresh, b, PAGE, 0), *cp = attach(fresh, c, PAGE, 0);
	memset(arw, 'a', 3 * PAGE);
	memset(arw + 3 * PAGE, 'e', 100);
	memset(bp, 'b', PAGE);
	memset(cp, 'c', PAGE);
	if (!fresh && (shmctl(b, IPC_RMID, NULL) != 0 || mprotect(cp, PAGE, PROT_READ) != 0))
		tp_die("IPC_RMID/mprotect");
	if (argc > 1 && strcmp(argv[1], "--partial") == 0 && munmap(arw + 3 * PAGE, PAGE) != 0)
		tp_die("munmap");
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	printf("ready%s A=%d C=%d K=%#x\n", fresh ? " (fresh)" : "", a, c, key);
	tp_wait_check();

	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	check_seg("A", a, key, 0640, ASIZE, 2);
	check_seg("B", b, IPC_PRIVATE, 01000 | 0600, PAGE, 1);
	check_seg("C", c, key + 1, 0600, PAGE, 1);
	expect("A read-write", arw, 3 * PAGE, 'a');
	expect("A read-write tail", arw + 3 * PAGE, 100, 'e');
	expect("A beyond its size", arw + 3 * PAGE + 100, PAGE - 100, 0);
	expect("A read-only", aro, 3 * PAGE, 'a');
	expect("B", bp, PAGE, 'b');
	expect("C", cp, PAGE, 'c');
	arw[5] = 'W';
	if (aro[5] != 'W')
		FAIL("a write through A's read-write attachment does not show in its read-only one");
	if (mprotect(aro, 4 * PAGE, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		FAIL("A's SHM_RDONLY attachment could be made writable (or failed otherwise: %s)", strerror(errno));
	if (mprotect(cp, PAGE, PROT_READ | PROT_WRITE) != 0)
		FAIL("C's attachment cannot be made writable again: %s", strerror(errno));
	if (!fresh) {
		shmctl(a, IPC_RMID, NULL);
		shmctl(c, IPC_RMID, NULL);
	}
	return tp_finish("SysV segments: keys, ids, modes, sizes, contents, attachments (read-only too), IPC_RMID kept");
}

/*
 * state_hugetlb: anonymous huge-page memory (MAP_HUGETLB, 2 MiB pages),
 * private and shared, must come back in huge pages with its contents and
 * its sharing: same maps (but the shared object's inode), same VmFlags
 * ("ht"), KernelPageSize 2048 kB, contents; after restore a forked child's
 * write to the shared area is seen by the parent, its write to the private
 * area is not. Needs 3 free 2 MiB huge pages (tests/e2e/state_hugetlb.sh
 * reserves them). --fresh maps ordinary memory, so "ht" is missing.
 * --twice maps the shared object a second time (through map_files): the
 * dump must refuse it, since it saves a shared object through its one mapping.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define HUGE (2ul << 20)

static char maps_before[256 * 1024], maps_after[256 * 1024], smaps[1024 * 1024];
static char out_buf[16 * 1024], in_buf[4096];

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	int huge = fresh ? 0 : MAP_HUGETLB;
	char *priv = mmap(NULL, 2 * HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | huge, -1, 0);
	char *shared = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | huge, -1, 0);
	if (priv == MAP_FAILED || shared == MAP_FAILED)
		tp_die("mmap MAP_HUGETLB");
	memset(priv, 'p', 4096);
	priv[HUGE + 12345] = 'q';
	memset(shared, 's', HUGE);
	if (argc > 1 && strcmp(argv[1], "--twice") == 0) {
		char link[96];
		snprintf(link, sizeof link, "/proc/self/map_files/%lx-%lx", (unsigned long)shared,
		         (unsigned long)shared + HUGE);
		int fd = open(link, O_RDWR | O_CLOEXEC);
		if (fd < 0 || mmap(NULL, HUGE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
			tp_die("second mapping");
		close(fd);
	}
	char f_priv[256], f_shared[256], now[256];
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	vt_smaps_field(smaps, priv, "VmFlags:", f_priv, sizeof f_priv);
	vt_smaps_field(smaps, shared, "VmFlags:", f_shared, sizeof f_shared);
	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	vt_mask_object_inodes(maps_before);
	tp_ready(fresh);
	tp_wait_check();

	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	vt_mask_object_inodes(maps_after);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	const char *name[2] = {"private", "shared"};
	char *area[2] = {priv, shared}, *before[2] = {f_priv, f_shared};
	for (int i = 0; i < 2; i++) {
		vt_smaps_field(smaps, area[i], "VmFlags:", now, sizeof now);
		if (strcmp(now, before[i]) != 0)
			FAIL("%s: VmFlags '%s', was '%s'", name[i], now, before[i]);
		if (!vt_has_flag(now, "ht"))
			FAIL("%s: VmFlags '%s' lack 'ht'", name[i], now);
		vt_smaps_field(smaps, area[i], "KernelPageSize:", now, sizeof now);
		if (strcmp(now, "2048 kB") != 0)
			FAIL("%s: KernelPageSize '%s', want '2048 kB'", name[i], now);
	}
	for (int i = 0; i < 4096; i++)
		if (priv[i] != 'p') {
			FAIL("private byte %d is %#x", i, (unsigned char)priv[i]);
			break;
		}
	if (priv[HUGE + 12345] != 'q' || priv[HUGE] != 0 || priv[4096] != 0)
		FAIL("private second page differs");
	for (size_t i = 0; i < HUGE; i += 4096)
		if (shared[i] != 's' || shared[i + 4095] != 's') {
			FAIL("shared byte %zu differs", i);
			break;
		}
	pid_t c = fork();
	if (c == 0) {
		shared[7] = 'C';
		priv[7] = 'C';
		_exit(0);
	}
	waitpid(c, NULL, 0);
	if (shared[7] != 'C')
		FAIL("a child's write to the shared area is not seen");
	if (priv[7] != 'p')
		FAIL("a child's write to the private area is seen");
	return tp_finish("private and shared MAP_HUGETLB memory kept, in 2 MiB pages, with their sharing");
}

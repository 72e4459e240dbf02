/*
 * state_private_objects: private mappings of shared memory objects must come
 * back mapping the same object, with their copied-on-write pages:
 *   memfd "pm" (4 pages of 'A'), mapped shared and private; page 1 of the
 *     private mapping written 'B', page 2 zeroed (a zero page copied on
 *     write, not the object's 'A'), then page 3 of the object written 'C'
 *     through the shared mapping (the private mapping still sees it);
 *   a shared anonymous object (2 pages, "/dev/zero (deleted)") mapped
 *     privately again through /proc/self/map_files; page 1 written 'P';
 *   a private mapping of /dev/zero (the old way to get anonymous memory).
 * Check: maps identical (but for the objects' inode numbers); contents as above; then a write through each
 * shared mapping to a page the private mapping never wrote shows through
 * it (the private mapping maps the very object).
 * --fresh uses plain private anonymous memory with the same contents in
 * place of the private mappings, so nothing shows through.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#define PAGE 4096

static char maps_before[256 * 1024], maps_after[256 * 1024];
static char out_buf[16 * 1024], in_buf[4096];

static char *private_of(int fresh, int fd, size_t len)
{
	char *p = fresh ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
	                : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		tp_die("mmap private");
	return p;
}

static void expect(const char *what, const char *p, int c)
{
	for (int i = 0; i < PAGE; i++)
		if (p[i] != c) {
			FAIL("%s: byte %d is %#x, want %#x", what, i, (unsigned char)p[i], c);
			return;
		}
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);

	int mfd = memfd_create("pm", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, 4 * PAGE) != 0)
		tp_die("memfd");
	char *mshared = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (mshared == MAP_FAILED)
		tp_die("mmap memfd");
	memset(mshared, 'A', 4 * PAGE);
	char *mpriv = private_of(fresh, mfd, 4 * PAGE);
	if (fresh)
		memset(mpriv, 'A', 4 * PAGE);
	memset(mpriv + PAGE, 'B', PAGE);
	memset(mpriv + 2 * PAGE, 0, PAGE);
	memset(mshared + 3 * PAGE, 'C', PAGE);
	if (fresh)
		memset(mpriv + 3 * PAGE, 'C', PAGE);
	close(mfd);

	char *sshared = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sshared == MAP_FAILED)
		tp_die("mmap shared");
	memset(sshared, 'S', PAGE);
	char link[96];
	snprintf(link, sizeof link, "/proc/self/map_files/%lx-%lx", (unsigned long)(uintptr_t)sshared,
	         (unsigned long)(uintptr_t)sshared + 2 * PAGE);
	int sfd = open(link, O_RDWR | O_CLOEXEC);
	if (sfd < 0)
		tp_die(link);
	char *spriv = private_of(fresh, sfd, 2 * PAGE);
	close(sfd);
	if (fresh)
		memset(spriv, 'S', PAGE);
	memset(spriv + PAGE, 'P', PAGE);

	int zfd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	char *zero = private_of(0, zfd, 2 * PAGE);
	close(zfd);
	memset(zero, 'Z', PAGE);

	vt_slurp("/proc/self/maps", maps_before, sizeof maps_before);
	vt_mask_object_inodes(maps_before);
	tp_ready(fresh);
	tp_wait_check();
	vt_slurp("/proc/self/maps", maps_after, sizeof maps_after);
	vt_mask_object_inodes(maps_after);
	if (strcmp(maps_before, maps_after) != 0)
		FAIL("/proc/self/maps differs:\n--- before\n%s--- after\n%s", maps_before, maps_after);
	expect("memfd private page 0", mpriv, 'A');
	expect("memfd private page 1", mpriv + PAGE, 'B');
	expect("memfd private page 2", mpriv + 2 * PAGE, 0);
	expect("memfd private page 3", mpriv + 3 * PAGE, 'C');
	expect("memfd shared page 1", mshared + PAGE, 'A');
	expect("memfd shared page 2", mshared + 2 * PAGE, 'A');
	expect("anon object private page 0", spriv, 'S');
	expect("anon object private page 1", spriv + PAGE, 'P');
	expect("anon object shared page 1", sshared + PAGE, 0);
	expect("/dev/zero private page 0", zero, 'Z');
	expect("/dev/zero private page 1", zero + PAGE, 0);
	/* The private mappings map the objects themselves. */
	memset(mshared, 'a', PAGE);
	memset(sshared, 's', PAGE);
	expect("memfd private page 0 after a write to the object", mpriv, 'a');
	expect("anon object private page 0 after a write to the object", spriv, 's');
	expect("memfd private page 1 after a write to the object", mpriv + PAGE, 'B');
	return tp_finish("private mappings of a memfd, of a shared anonymous object and of /dev/zero kept");
}

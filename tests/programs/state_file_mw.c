/*
 * state_file_mw: a shared file mapping made read-only by mprotect must
 * still be writable after restore, because the file was open for writing
 * when it was mapped (VmFlags "mw"); a shared mapping of a file opened
 * read-only must still refuse to become writable (no "mw").
 *
 * Setup, in the current directory: file "mw.data" (2 pages), opened
 * read-write, mapped MAP_SHARED read-write, written, then mprotect'ed
 * PROT_READ; file "ro.data" (1 page) opened read-only, mapped MAP_SHARED
 * PROT_READ. Both descriptors closed. Recorded: both areas' VmFlags.
 * Check: VmFlags equal; mprotect(PROT_WRITE) of the first succeeds, a write
 * through it reaches the file (pread); mprotect(PROT_WRITE) of the second
 * fails with EACCES as before.
 * --fresh opens mw.data read-only, so the first mprotect fails.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <sys/mman.h>

#define PAGE 4096

static char smaps[1024 * 1024], out_buf[16 * 1024], in_buf[4096];

static int make_file(const char *name, size_t size, int c)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char page[PAGE];
	memset(page, c, sizeof page);
	for (size_t done = 0; fd >= 0 && done < size; done += PAGE)
		if (write(fd, page, PAGE) != PAGE)
			tp_die(name);
	if (fd < 0)
		tp_die(name);
	return fd;
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	close(make_file("mw.data", 2 * PAGE, 'm'));
	close(make_file("ro.data", PAGE, 'r'));
	int fd = open("mw.data", (fresh ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	int ro = open("ro.data", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ro < 0)
		tp_die("open");
	char *mw = mmap(NULL, 2 * PAGE, PROT_READ | (fresh ? 0 : PROT_WRITE), MAP_SHARED, fd, 0);
	char *rd = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0);
	if (mw == MAP_FAILED || rd == MAP_FAILED)
		tp_die("mmap");
	if (!fresh) {
		memset(mw + PAGE, 'w', 16);
		if (msync(mw, 2 * PAGE, MS_SYNC) != 0 || mprotect(mw, 2 * PAGE, PROT_READ) != 0)
			tp_die("msync/mprotect");
	}
	close(fd);
	close(ro);
	char flags_mw[256], flags_rd[256], now[256];
	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	vt_smaps_field(smaps, mw, "VmFlags:", flags_mw, sizeof flags_mw);
	vt_smaps_field(smaps, rd, "VmFlags:", flags_rd, sizeof flags_rd);
	tp_ready(fresh);
	tp_wait_check();

	vt_slurp("/proc/self/smaps", smaps, sizeof smaps);
	vt_smaps_field(smaps, mw, "VmFlags:", now, sizeof now);
	if (strcmp(now, flags_mw) != 0)
		FAIL("mw.data mapping: VmFlags '%s', was '%s'", now, flags_mw);
	vt_smaps_field(smaps, rd, "VmFlags:", now, sizeof now);
	if (strcmp(now, flags_rd) != 0)
		FAIL("ro.data mapping: VmFlags '%s', was '%s'", now, flags_rd);
	if (mprotect(mw, 2 * PAGE, PROT_READ | PROT_WRITE) != 0) {
		FAIL("mprotect(PROT_WRITE) of the mw.data mapping: %s", strerror(errno));
	} else {
		memcpy(mw, "written after restore", 21);
		char back[32] = {0};
		int check = open("mw.data", O_RDONLY | O_CLOEXEC);
		if (check < 0 || pread(check, back, 21, 0) != 21 || memcmp(back, "written after restore", 21) != 0)
			FAIL("a write through the mapping did not reach mw.data ('%.21s')", back);
		if (mw[PAGE] != 'w' || mw[PAGE + 16] != 'm')
			FAIL("mw.data contents differ");
		close(check);
	}
	if (mprotect(rd, PAGE, PROT_READ | PROT_WRITE) == 0)
		FAIL("mprotect(PROT_WRITE) of the read-only file's shared mapping succeeded");
	else if (errno != EACCES)
		FAIL("mprotect(PROT_WRITE) of the read-only file's shared mapping: %s, want EACCES", strerror(errno));
	unlink("mw.data");
	unlink("ro.data");
	return tp_finish("a shared mapping of a file open for writing can be made writable again; one of a read-only file cannot");
}

/*
 * state_own_file: a per-process file (named after the pid, mapped shared
 * and writable, as a JVM's /tmp/hsperfdata_USER/PID) must come back as a
 * file of the restored process's own: same folder, named after its pid now,
 * holding the contents the mapping had at the dump, mapped at the same
 * address; writes through the mapping reach that file.
 *
 * Setup: "perf/<pid>" in the current directory (the folder must exist),
 * 3 pages: page 0 'h', page 1 a counter written through the mapping,
 * page 2 zero; the descriptor closed.
 * Check: the mapping's path in /proc/self/maps is perf/<getpid()>; contents;
 * a write through the mapping shows in that file (pread).
 * --fresh names the file "perf/fresh", so the path check fails.
 */
#include "testprog.h"
#include "vmtest.h"

#include <errno.h>
#include <limits.h>
#include <sys/mman.h>

#define PAGE 4096

static char maps[256 * 1024], out_buf[16 * 1024], in_buf[4096];

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
	setvbuf(stdin, in_buf, _IOFBF, sizeof in_buf);
	char name[64];
	if (fresh)
		snprintf(name, sizeof name, "perf/fresh");
	else
		snprintf(name, sizeof name, "perf/%d", (int)getpid());
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 3 * PAGE) != 0)
		tp_die(name);
	char *m = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		tp_die("mmap");
	close(fd);
	memset(m, 'h', PAGE);
	for (int i = 0; i < 1000; i++)
		(*(volatile long *)(m + PAGE))++;
	tp_ready(fresh);
	tp_wait_check();

	char cwd[PATH_MAX], want[PATH_MAX + 64], line[1024];
	if (!getcwd(cwd, sizeof cwd))
		tp_die("getcwd");
	snprintf(want, sizeof want, "%s/perf/%d", cwd, (int)getpid());
	vt_slurp("/proc/self/maps", maps, sizeof maps);
	vt_maps_line(maps, m, line, sizeof line);
	size_t wl = strlen(want), ll = strlen(line);
	if (ll < wl || strcmp(line + ll - wl, want) != 0)
		FAIL("the mapping is '%s', want it to map %s", line, want);
	for (int i = 0; i < PAGE; i++)
		if (m[i] != 'h') {
			FAIL("page 0 byte %d is %#x", i, (unsigned char)m[i]);
			break;
		}
	if (*(long *)(m + PAGE) != 1000)
		FAIL("the counter is %ld, want 1000", *(long *)(m + PAGE));
	for (int i = 0; i < PAGE; i++)
		if (m[2 * PAGE + i]) {
			FAIL("page 2 is not zero");
			break;
		}
	memcpy(m + 2 * PAGE, "after", 5);
	char back[8] = {0};
	int check = open(want, O_RDONLY | O_CLOEXEC);
	if (check < 0 || pread(check, back, 5, 2 * PAGE) != 5 || memcmp(back, "after", 5) != 0)
		FAIL("a write through the mapping did not reach %s", want);
	unlink(want);
	return tp_finish("the per-process file came back named after the new pid, with its contents");
}

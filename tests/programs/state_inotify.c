/*
 * state_inotify: an inotify fd comes back with the same watches: paths,
 * masks and watch descriptors, gaps in the wd numbers included.
 *
 * Setup: in /tmp/ckpt-ino.XXXXXX with files a, b, c: watch the directory
 * (IN_CREATE|IN_DELETE, wd 1), a (IN_MODIFY, wd 2), b (removed again, wd 3),
 * c (IN_MODIFY|IN_ONESHOT, wd 4), add IN_ATTRIB to the directory's watch
 * with IN_MASK_ADD, burn wds 5-9 (add and remove), then watch b
 * (IN_CLOSE_WRITE, wd 10); all queued events are read before "ready".
 *
 * Check: /proc/self/fdinfo lists exactly wds 1, 2, 4, 10 with the masks
 * they had; the queue is empty; then each watch reports its event with its
 * wd: creating a file in the directory (1, IN_CREATE), writing a (2,
 * IN_MODIFY), writing c (4, IN_MODIFY, then IN_IGNORED: one-shot), closing
 * b after writing (10, IN_CLOSE_WRITE); a new watch gets wd 11.
 *
 * Protocol: see tests/e2e/state.sh. --fresh adds no watches.
 */
#include "testprog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64] = "/tmp/ckpt-ino.XXXXXX";
static char pa[128], pb[128], pc[128], pn[128], pd[128];
static int in = -1;

static void cleanup(void)
{
	unlink(pa), unlink(pb), unlink(pc), unlink(pn), unlink(pd);
	rmdir(dir);
}

static void touch(const char *p)
{
	int f = open(p, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (f < 0 || write(f, "x", 1) != 1)
		tp_die(p);
	close(f);
}

static void drain(void)
{
	char buf[4096];
	while (read(in, buf, sizeof buf) > 0)
		;
}

/* The next event, waiting up to 10 s for it. */
static int next_event(int *wd, unsigned *mask)
{
	static char buf[4096];
	static ssize_t have, at;
	if (at >= have) {
		struct pollfd p = {in, POLLIN, 0};
		if (poll(&p, 1, 10000) != 1)
			return 0;
		have = read(in, buf, sizeof buf);
		at = 0;
		if (have <= 0)
			return 0;
	}
	struct inotify_event *e = (struct inotify_event *)(buf + at);
	*wd = e->wd;
	*mask = e->mask;
	at += (ssize_t)(sizeof *e + e->len);
	return 1;
}

static void expect_event(int want_wd, unsigned want_mask, const char *what)
{
	int wd;
	unsigned mask;
	if (!next_event(&wd, &mask))
		FAIL("%s: no event (want wd %d mask %#x)", what, want_wd, want_mask);
	else if (wd != want_wd || !(mask & want_mask))
		FAIL("%s: event wd %d mask %#x, want wd %d mask %#x", what, wd, mask, want_wd, want_mask);
}

int main(int argc, char **argv)
{
	int fresh = tp_start(argc, argv);
	if (!mkdtemp(dir))
		tp_die("mkdtemp");
	atexit(cleanup);
	snprintf(pa, sizeof pa, "%s/a", dir);
	snprintf(pb, sizeof pb, "%s/b", dir);
	snprintf(pc, sizeof pc, "%s/c", dir);
	snprintf(pn, sizeof pn, "%s/new", dir);
	snprintf(pd, sizeof pd, "%s/d", dir);
	touch(pa), touch(pb), touch(pc), touch(pd);
	in = inotify_init1(IN_NONBLOCK);
	if (in < 0)
		tp_die("inotify_init1");
	if (!fresh) {
		int w1 = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE);
		int w2 = inotify_add_watch(in, pa, IN_MODIFY);
		int w3 = inotify_add_watch(in, pb, IN_OPEN);
		inotify_rm_watch(in, w3);
		int w4 = inotify_add_watch(in, pc, IN_MODIFY | IN_ONESHOT);
		inotify_add_watch(in, dir, IN_ATTRIB | IN_MASK_ADD);
		for (int i = 0; i < 5; i++)
			inotify_rm_watch(in, inotify_add_watch(in, pd, IN_OPEN));
		int w10 = inotify_add_watch(in, pb, IN_CLOSE_WRITE);
		if (w1 != 1 || w2 != 2 || w4 != 4 || w10 != 10)
			tp_die("unexpected wds");
	}
	drain();
	tp_ready(fresh);
	tp_wait_check();

	/* fdinfo: wd -> mask */
	unsigned masks[16] = {0};
	int count = 0;
	char path[64], line[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", in);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f)) {
		unsigned wd, mask;
		if (sscanf(line, "inotify wd:%x ino:%*x sdev:%*x mask:%x", &wd, &mask) == 2) {
			count++;
			if (wd < 16)
				masks[wd] = mask;
			else
				FAIL("unexpected wd %u", wd);
		}
	}
	if (f)
		fclose(f);
	if (count != 4)
		FAIL("%d watches in fdinfo, want 4", count);
	if (masks[1] != (IN_CREATE | IN_DELETE | IN_ATTRIB))
		FAIL("wd 1 mask %#x, want %#x", masks[1], IN_CREATE | IN_DELETE | IN_ATTRIB);
	if (masks[2] != IN_MODIFY)
		FAIL("wd 2 mask %#x, want IN_MODIFY", masks[2]);
	if (masks[4] != (IN_MODIFY | IN_ONESHOT))
		FAIL("wd 4 mask %#x, want IN_MODIFY|IN_ONESHOT", masks[4]);
	if (masks[10] != IN_CLOSE_WRITE)
		FAIL("wd 10 mask %#x, want IN_CLOSE_WRITE", masks[10]);
	char b;
	if (read(in, &b, 1) >= 0 || errno != EAGAIN)
		FAIL("events are queued after restore (or the fd is not non-blocking)");
	if (tp_failures)
		return tp_finish("");

	touch(pn);
	expect_event(1, IN_CREATE, "create in the directory");
	touch(pa);
	expect_event(2, IN_MODIFY, "write to a");
	touch(pc);
	expect_event(4, IN_MODIFY, "write to c");
	expect_event(4, IN_IGNORED, "one-shot watch on c");
	touch(pb);
	expect_event(10, IN_CLOSE_WRITE, "close of b");
	int w = inotify_add_watch(in, pd, IN_OPEN);
	if (w != 11)
		FAIL("a new watch got wd %d, want 11", w);
	return tp_finish("inotify: wds 1, 2, 4, 10 with their masks, events delivered with them");
}

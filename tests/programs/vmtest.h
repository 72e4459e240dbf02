/*
 * vmtest.h: reading /proc/self/maps and smaps from inside a test program
 * with read(2) only (no malloc between two read-outs, so the maps cannot
 * change under the check), for the state_* programs about memory areas.
 */
#ifndef CKPT_VMTEST_H
#define CKPT_VMTEST_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Reads a whole /proc file into BUF; returns its length. */
static inline size_t vt_slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t r;
	if (fd < 0)
		return 0;
	while (len < size - 1 && (r = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	buf[len] = '\0';
	return len;
}

/* The value of FIELD ("VmFlags:") in the block of SMAPS for the area
 * starting at ADDR, into OUT; "" if there is none. */
static inline void vt_smaps_field(const char *smaps, const void *addr, const char *field, char *out, size_t size)
{
	char head[32];
	snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)addr);
	out[0] = '\0';
	for (const char *line = smaps; *line;) {
		const char *next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if (strncmp(line, head, strlen(head)) == 0) {
			for (const char *l = next; *l;) {
				const char *n = strchr(l, '\n');
				n = n ? n + 1 : l + strlen(l);
				if (strchr("0123456789abcdef", *l))
					return; /* the next area's header */
				if (strncmp(l, field, strlen(field)) == 0) {
					const char *v = l + strlen(field);
					while (*v == ' ' || *v == '\t')
						v++;
					size_t len = (size_t)(n - v);
					if (len && v[len - 1] == '\n')
						len--;
					if (len >= size)
						len = size - 1;
					memcpy(out, v, len);
					out[len] = '\0';
					return;
				}
				l = n;
			}
			return;
		}
		line = next;
	}
}

/* Whether the space-separated FLAGS hold FLAG. */
static inline int vt_has_flag(const char *flags, const char *flag)
{
	size_t l = strlen(flag);
	for (const char *p = flags; (p = strstr(p, flag)); p += l)
		if ((p == flags || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0'))
			return 1;
	return 0;
}

/* The maps line of the area starting at ADDR (without its newline), into OUT. */
static inline void vt_maps_line(const char *maps, const void *addr, char *out, size_t size)
{
	char head[32];
	snprintf(head, sizeof head, "%lx-", (unsigned long)(uintptr_t)addr);
	out[0] = '\0';
	for (const char *line = maps; *line;) {
		const char *next = strchr(line, '\n');
		size_t len = next ? (size_t)(next - line) : strlen(line);
		if (strncmp(line, head, strlen(head)) == 0) {
			if (len >= size)
				len = size - 1;
			memcpy(out, line, len);
			out[len] = '\0';
			return;
		}
		line = next ? next + 1 : line + len;
	}
}

/* Rewrites a /proc/self/maps text in place with single spaces between
 * fields and the inode of every "... (deleted)" object (memfd, shared
 * anonymous memory) replaced by '*': a restored object is a new one, whose
 * inode number differs (docs/architecture.md, "Known gaps"). */
static inline void vt_mask_object_inodes(char *maps)
{
	char *out = maps;
	for (char *line = maps; *line;) {
		char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		int deleted = len > 10 && memcmp(line + len - 10, " (deleted)", 10) == 0;
		size_t i = 0;
		/* Five fields (range, perms, offset, device, inode), each followed by
		 * one space; then the path as it is, without the padding before it. */
		for (int field = 0; field < 5; field++) {
			while (i < len && line[i] == ' ')
				i++;
			if (field == 4 && deleted) {
				*out++ = '*';
				while (i < len && line[i] != ' ')
					i++;
			}
			while (i < len && line[i] != ' ')
				*out++ = line[i++];
			*out++ = ' ';
		}
		while (i < len && line[i] == ' ')
			i++;
		while (i < len)
			*out++ = line[i++];
		*out++ = '\n';
		line += len + (end ? 1 : 0);
	}
	*out = '\0';
}

#endif

// What mapping and releasing a data file's pages costs, by the size of the page-cache folios holding it.
//
//   gcc -O2 Scripts/membench/page_tables.c -o /tmp/page_tables
//   /tmp/page_tables FILE            # as the file is cached now
//   /tmp/page_tables FILE evict      # evicted first (POSIX_FADV_DONTNEED), then read through the mapping
//
// Maps FILE read-only at a 2 MiB-aligned address with MADV_HUGEPAGE (as softlabel's streamed training does),
// then three times: MADV_POPULATE_READ of the whole file (the read-ahead thread's job per window) and
// MADV_DONTNEED (the release); prints both times and the mapping's FilePmdMapped (bytes mapped by 2 MiB
// entries) from /proc/self/smaps. The kernel builds 2 MiB folios only for pages it reads through such a
// mapping; pages cached by another reader (a write, pread) keep their smaller folios until evicted.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: page_tables FILE [evict]\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 2; }
    size_t size = lseek(fd, 0, SEEK_END), huge = 2 << 20;
    if (argc > 2 && strcmp(argv[2], "evict") == 0) posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *reserved = mmap(0, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *aligned = (char *)(((unsigned long)reserved + huge - 1) & ~(huge - 1));
    char *m = mmap(aligned, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(m, size, MADV_HUGEPAGE);
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        int rc = madvise(m, size, 22 /* MADV_POPULATE_READ */);
        double t1 = now();
        madvise(m, size, MADV_DONTNEED);
        double t2 = now();
        printf("populate %.2f ms%s, release %.2f ms\n", (t1 - t0) * 1e3, rc ? " (failed)" : "", (t2 - t1) * 1e3);
    }
    madvise(m, size, 22);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "grep -A25 '^%lx' /proc/%d/smaps | grep -E 'FilePmdMapped'", (unsigned long)m, getpid());
    return system(cmd);
}

/* gendisk - deterministic disk images for tests and the demo.
 *
 *   gendisk create FILE SIZE            sparse file of SIZE bytes (truncates)
 *   gendisk fill FILE OFFSET LEN SEED   LEN pseudo-random bytes at OFFSET
 *   gendisk text FILE OFFSET LEN SEED   LEN bytes of compressible text
 *   gendisk zero FILE OFFSET LEN        LEN zero bytes at OFFSET (written, not holes)
 *   gendisk resize FILE SIZE            truncate or extend
 *
 * Sizes take K, M, G suffixes. Output depends only on the arguments.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t parse(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 10);
    if (*end == 'K')
        v <<= 10;
    else if (*end == 'M')
        v <<= 20;
    else if (*end == 'G')
        v <<= 30;
    else if (*end == 'T')
        v <<= 40;
    return v;
}

static uint64_t next(uint64_t *s)
{
    /* splitmix64: fast, deterministic, good enough to defeat compression */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int write_range(const char *file, uint64_t off, uint64_t len, uint64_t seed, int mode)
{
    static const char *words[] = {"virtual ", "machine ", "restore ", "point ", "disk ",
                                  "block ", "kernel ", "config ", "\n", "0123 "};
    int fd = open(file, O_WRONLY | O_CREAT, 0644);
    if (fd < 0) {
        perror(file);
        return 1;
    }
    unsigned char buf[65536];
    uint64_t s = seed;
    while (len > 0) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        if (mode == 0) {
            for (size_t i = 0; i < n; i += 8) {
                uint64_t r = next(&s);
                memcpy(buf + i, &r, n - i < 8 ? n - i : 8);
            }
        } else if (mode == 1) {
            size_t i = 0;
            while (i < n) {
                const char *w = words[next(&s) % 10];
                size_t wl = strlen(w);
                if (wl > n - i)
                    wl = n - i;
                memcpy(buf + i, w, wl);
                i += wl;
            }
        } else {
            memset(buf, 0, n);
        }
        if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
            perror(file);
            close(fd);
            return 1;
        }
        off += n;
        len -= n;
    }
    return close(fd) != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "create") == 0) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)parse(argv[3])) != 0) {
            perror(argv[2]);
            return 1;
        }
        return close(fd) != 0;
    }
    if (argc >= 4 && strcmp(argv[1], "resize") == 0) {
        int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
        if (fd < 0 || ftruncate(fd, (off_t)parse(argv[3])) != 0) {
            perror(argv[2]);
            return 1;
        }
        return close(fd) != 0;
    }
    if (argc >= 6 && (strcmp(argv[1], "fill") == 0 || strcmp(argv[1], "text") == 0))
        return write_range(argv[2], parse(argv[3]), parse(argv[4]), strtoull(argv[5], NULL, 10),
                           argv[1][0] == 'f' ? 0 : 1);
    if (argc >= 5 && strcmp(argv[1], "zero") == 0)
        return write_range(argv[2], parse(argv[3]), parse(argv[4]), 0, 2);
    fprintf(stderr, "usage: gendisk create|resize FILE SIZE | fill|text FILE OFFSET LEN SEED | "
                    "zero FILE OFFSET LEN\n");
    return 2;
}

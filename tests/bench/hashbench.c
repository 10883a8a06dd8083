/* hashbench.c - throughput of the two block hashes on one core: BLAKE2b-256
 * (libsodium's crypto_generichash, through hash_buf(): formats 1.0-1.2)
 * against BLAKE3-256 (hash3_buf(): format 1.3), on buffers of 4 KiB, 64 KiB
 * and 1 MiB held in cache. Figures only: nothing is asserted.
 *
 * Each figure is bytes hashed per second of this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID), the best of HASHBENCH_RUNS runs (default 5)
 * of about HASHBENCH_MS milliseconds each (default 300): on a shared
 * machine, time spent waiting for a CPU is not counted. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmrp_private.h"

#ifndef B3_ORIGIN
#define B3_ORIGIN "?"
#endif

typedef void (*hash_fn)(unsigned char out[HASH_SIZE], const void *data, size_t len);

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned env_unsigned(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? (unsigned)atoi(v) : dflt;
}

/* Best throughput in bytes per CPU second. */
static double measure(hash_fn fn, const unsigned char *buf, size_t len, unsigned runs,
                      double seconds)
{
    unsigned char out[HASH_SIZE];
    volatile unsigned char sink = 0; /* keeps the hashes from being optimised away */
    double best = 0;
    for (unsigned r = 0; r < runs; r++) {
        size_t n = 0;
        double t0 = cpu_seconds(), t;
        do {
            for (int i = 0; i < 16; i++) {
                fn(out, buf, len);
                sink ^= out[0];
                n++;
            }
            t = cpu_seconds() - t0;
        } while (t < seconds);
        double rate = (double)n * (double)len / t;
        if (rate > best)
            best = rate;
    }
    return best;
}

/* The CPU model and which of the instruction sets BLAKE3 dispatches on it
 * offers (x86 Linux; elsewhere only what /proc/cpuinfo tells). */
static void describe_cpu(void)
{
    char line[4096], model[256] = "?", isa[128] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v += 1 + (v[1] == ' ');
        v[strcspn(v, "\n")] = 0;
        if (strncmp(line, "model name", 10) == 0 && strcmp(model, "?") == 0)
            snprintf(model, sizeof model, "%s", v);
        if (strncmp(line, "flags", 5) == 0 && !isa[0]) {
            static const char *const want[] = {"sse2", "sse4_1", "avx2", "avx512f", "avx512vl"};
            for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                char pat[32];
                snprintf(pat, sizeof pat, " %s ", want[i]);
                char padded[4096];
                snprintf(padded, sizeof padded, " %s ", v);
                if (strstr(padded, pat)) {
                    strncat(isa, " ", sizeof isa - strlen(isa) - 1);
                    strncat(isa, want[i], sizeof isa - strlen(isa) - 1);
                }
            }
        }
    }
    if (f)
        fclose(f);
    printf("  cpu        %s;%s\n", model, isa[0] ? isa : " (no x86 flags)");
}

int main(void)
{
    if (vmrp_init() != VMRP_OK) {
        fprintf(stderr, "hashbench: vmrp_init failed\n");
        return 1;
    }
    unsigned runs = env_unsigned("HASHBENCH_RUNS", 5);
    double seconds = env_unsigned("HASHBENCH_MS", 300) / 1000.0;
    static const size_t sizes[] = {4096, 65536, 1048576};
    unsigned char *buf = malloc(sizes[2]);
    if (!buf)
        return 1;
    for (size_t i = 0; i < sizes[2]; i++)
        buf[i] = (unsigned char)(i * 2654435761u >> 13);

    printf("hash throughput, one core (bytes per CPU second, best of %u runs of %.2f s)\n", runs,
           seconds);
    printf("  BLAKE2b    libsodium %s, crypto_generichash (hash_buf)\n", sodium_version_string());
    printf("  BLAKE3     %s (%s), hash3_buf\n", blake3_version(), B3_ORIGIN);
    describe_cpu();
    printf("\n  %-8s  %14s  %14s  %14s\n", "buffer", "BLAKE2b GB/s", "BLAKE3 GB/s",
           "BLAKE3/BLAKE2b");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        double b2 = measure(hash_buf, buf, sizes[i], runs, seconds);
        double b3 = measure(hash3_buf, buf, sizes[i], runs, seconds);
        char label[32];
        if (sizes[i] >= 1048576)
            snprintf(label, sizeof label, "%zu MiB", sizes[i] >> 20);
        else
            snprintf(label, sizeof label, "%zu KiB", sizes[i] >> 10);
        printf("  %-8s  %14.2f  %14.2f  %13.2fx\n", label, b2 / 1e9, b3 / 1e9, b3 / b2);
    }
    free(buf);
    return 0;
}

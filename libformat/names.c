/* names.c - rules for names that reach the file system, and printing of
 * ids and times. The same rules are applied when writing and when reading a
 * (possibly hostile) archive. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vmrp_private.h"

static int disk_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > DISK_NAME_MAX || s[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int vmrp_disk_name_valid(const char *name)
{
    return name && disk_name_ok(name, strlen(name));
}

static int config_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > CONFIG_NAME_MAX || s[0] == '/' || !text_valid(s, len))
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            size_t clen = i - start;
            if (clen == 0 || (clen == 1 && s[start] == '.') ||
                (clen == 2 && s[start] == '.' && s[start + 1] == '.'))
                return 0;
            start = i + 1;
        }
    }
    return 1;
}

int vmrp_config_name_valid(const char *name)
{
    return name && config_name_ok(name, strlen(name));
}

int name_point_valid(const char *name, size_t len)
{
    if (len == 0 || len > POINT_NAME_MAX || memchr(name, '\0', len))
        return 0;
    if (len == 6 && memcmp(name, "latest", 6) == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] < '0' || name[i] > '9')
            return text_valid(name, len);
    return 0; /* all digits would be read as a sequence number */
}

int name_disk_valid(const char *s, size_t len)
{
    return disk_name_ok(s, len);
}

int name_config_valid(const char *s, size_t len)
{
    return config_name_ok(s, len);
}

void vmrp_uuid_format(const unsigned char id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id[i] >> 4];
        out[o++] = hex[id[i] & 15];
    }
    out[o] = '\0';
}

void vmrp_time_format(int64_t time_us, char out[32])
{
    int64_t secs = time_us / 1000000;
    int64_t frac = time_us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 32, "invalid-time");
        return;
    }
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    size_t n = strlen(buf);
    if (n > 31)
        n = 31; /* only years past 9999 are this long */
    memcpy(out, buf, n);
    out[n] = '\0';
}

const char *vmrp_consistency_name(int mode)
{
    switch (mode) {
    case VMRP_CONSISTENCY_CRASH:
        return "CrashConsistent";
    case VMRP_CONSISTENCY_FILESYSTEM:
        return "FileSystemConsistent";
    case VMRP_CONSISTENCY_APPLICATION:
        return "ApplicationConsistent";
    default:
        return NULL;
    }
}

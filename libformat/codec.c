/* codec.c - zstd and zlib compression of record payloads. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "vmrp_private.h"

struct codec_ctx {
    ZSTD_CCtx *zc;
    ZSTD_DCtx *zd;
    const char *error; /* the library's words for the last failure (static) */
};

codec_ctx *codec_new(void)
{
    codec_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->zc = ZSTD_createCCtx();
    c->zd = ZSTD_createDCtx();
    if (!c->zc || !c->zd) {
        codec_free(c);
        return NULL;
    }
    return c;
}

void codec_free(codec_ctx *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->zc);
    ZSTD_freeDCtx(c->zd);
    free(c);
}

size_t codec_bound(size_t src_len)
{
    size_t z = ZSTD_compressBound(src_len);
    size_t d = (size_t)compressBound((uLong)src_len);
    return z > d ? z : d;
}

int codec_level_valid(int codec, int level)
{
    switch (codec) {
    case CODEC_NONE:
        return level == 0;
    case CODEC_ZSTD:
        return level >= 0 && level <= 19;
    case CODEC_ZLIB:
        return level >= 0 && level <= 9;
    default:
        return 0;
    }
}

const char *codec_name(int codec)
{
    switch (codec) {
    case CODEC_ZSTD:
        return "zstd";
    case CODEC_ZLIB:
        return "zlib";
    default:
        return "none";
    }
}

int codec_compress(codec_ctx *c, int codec, int level, const void *src, size_t src_len,
                   void *dst, size_t dst_cap, size_t *dst_len)
{
    if (codec == CODEC_ZSTD) {
        size_t n = ZSTD_compressCCtx(c->zc, dst, dst_cap, src, src_len, level ? level : 3);
        if (ZSTD_isError(n)) {
            c->error = ZSTD_getErrorName(n);
            return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? VMRP_E_NOMEM
                                                                        : VMRP_E_IO;
        }
        if (n < src_len) {
            *dst_len = n;
            return CODEC_ZSTD;
        }
    } else if (codec == CODEC_ZLIB) {
        uLongf n = (uLongf)dst_cap;
        int zrc = compress2(dst, &n, src, (uLong)src_len, level ? level : 6);
        if (zrc != Z_OK) {
            c->error = zError(zrc);
            return zrc == Z_MEM_ERROR ? VMRP_E_NOMEM : VMRP_E_IO;
        }
        if (n < src_len) {
            *dst_len = n;
            return CODEC_ZLIB;
        }
    }
    if (dst_cap < src_len) {
        c->error = "output buffer smaller than the input";
        return VMRP_E_USAGE;
    }
    memcpy(dst, src, src_len);
    *dst_len = src_len;
    return CODEC_NONE;
}

const char *codec_error(const codec_ctx *c)
{
    return c->error ? c->error : "no error";
}

int codec_decompress(codec_ctx *c, int codec, const void *src, size_t src_len, void *dst,
                     size_t raw_len)
{
    switch (codec) {
    case CODEC_NONE:
        if (src_len != raw_len)
            return VMRP_E_CORRUPT;
        memcpy(dst, src, raw_len);
        return VMRP_OK;
    case CODEC_ZSTD: {
        /* The frame must decode to exactly raw_len bytes: ZSTD_decompressDCtx
         * never writes past dst capacity, and we demand a full match. */
        /* Exactly one zstd frame: ZSTD_decompressDCtx would also accept
         * concatenated and skippable frames, which the format does not. */
        if (src_len < 4 || le32_load(src) != ZSTD_MAGICNUMBER ||
            ZSTD_findFrameCompressedSize(src, src_len) != src_len)
            return VMRP_E_CORRUPT;
        size_t n = ZSTD_decompressDCtx(c->zd, dst, raw_len, src, src_len);
        if (ZSTD_isError(n) || n != raw_len)
            return VMRP_E_CORRUPT;
        return VMRP_OK;
    }
    case CODEC_ZLIB: {
        uLongf n = (uLongf)raw_len;
        uLong consumed = (uLong)src_len;
        if (src_len > ULONG_MAX)
            return VMRP_E_CORRUPT;
        /* uncompress2 reports how much input it used: trailing bytes after
         * the end of the stream are damage, not slack. */
        if (uncompress2(dst, &n, src, &consumed) != Z_OK || n != raw_len ||
            consumed != src_len)
            return VMRP_E_CORRUPT;
        return VMRP_OK;
    }
    default:
        return VMRP_E_CORRUPT;
    }
}

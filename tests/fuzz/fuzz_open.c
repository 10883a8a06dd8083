/* fuzz_open.c - vmrp_reader_open_fd() and everything a reader does with an
 * archive it accepted: every disk of every point through
 * vmrp_reader_read_disk() and vmrp_reader_disk_extents(), every
 * configuration file through vmrp_reader_read_config_file().
 *
 * Oracles beyond the sanitizers: the sink sees block-aligned, strictly
 * increasing, in-bounds pieces of the disk, each a whole block except the
 * last one of the disk; the extents are exactly the runs of those pieces;
 * a configuration file read back has its declared size; point lookups by
 * name, sequence and "latest" agree with the point list; the Family_Ids of
 * a point are unique (format 5.4.2); and, from the resolution rule of
 * format section 9, a disk whose map is empty (Changed_Blocks 0) reads as
 * its family's previous included point cut to the smaller block count, or
 * as zeros when the family has no earlier included point, or when the disk
 * is FULL (an encrypted collection's complete map, 5.4.2).
 *
 * Encrypted archives (format 1.2) are opened with the test identity and,
 * when the input asks for little enough Argon2id work (FZ_KDF_BUDGET in
 * fuzz_common.h), the test passphrase. Then: the key slots the reader
 * reports are those of the file; FULL appears only in encrypted
 * collections; a name selects the newest point that has it (names may
 * repeat there); an archive that opens with the keys fails with
 * VMRP_E_KEY without them; and an archive that opens with the identity and
 * with the passphrase alone shows the same collection both ways.
 *
 * A disk (up to IMAGE_MAX) is read again with every decoded MAP record of
 * its chain put aside in the chain's temporary file instead of held
 * (vmrp_reader::chain_budget): the same bytes, or a failure both ways
 * (skip: chain-aside).
 */
#define FUZZ_ARCHIVE_MUTATOR
#include "fuzz_common.h"
#include "vmrp_private.h" /* vmrp_reader::chain_budget */

typedef struct {
    uint64_t disk_size;
    uint32_t block_size;
    uint64_t next;  /* lowest offset the next piece may start at */
    int any;
    vmrp_extent *runs; /* the pieces merged into runs */
    size_t nruns, cap;
} sink_state;

static int check_sink(void *ctx, uint64_t offset, const void *data, size_t size)
{
    sink_state *s = ctx;
    FUZZ_CHECK(data != NULL, "sink got NULL data");
    FUZZ_CHECK(!s->any || offset >= s->next, "sink offsets not increasing: %llu after %llu",
               (unsigned long long)offset, (unsigned long long)s->next);
    FUZZ_CHECK(offset % s->block_size == 0, "sink offset %llu not block aligned",
               (unsigned long long)offset);
    FUZZ_CHECK(offset < s->disk_size && size <= s->disk_size - offset,
               "sink piece %llu+%zu outside the disk (%llu bytes)", (unsigned long long)offset,
               size, (unsigned long long)s->disk_size);
    FUZZ_CHECK(size > 0 && (size % s->block_size == 0 || offset + size == s->disk_size),
               "sink piece at %llu is %zu bytes: not whole blocks, nor cut at the disk end",
               (unsigned long long)offset, size);
    volatile unsigned char sum = 0; /* touch every byte: ASan checks the buffer */
    for (size_t i = 0; i < size; i++)
        sum ^= ((const unsigned char *)data)[i];
    (void)sum;
    if (s->nruns > 0 && s->runs[s->nruns - 1].offset + s->runs[s->nruns - 1].length == offset) {
        s->runs[s->nruns - 1].length += size;
    } else {
        if (s->nruns == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 16;
            s->runs = realloc(s->runs, s->cap * sizeof *s->runs);
            FUZZ_CHECK(s->runs != NULL, "out of memory");
        }
        s->runs[s->nruns++] = (vmrp_extent){offset, size};
    }
    s->any = 1;
    s->next = offset + size;
    return 0;
}

static void check_disk(vmrp_reader *r, uint32_t pi, const vmrp_point_info *p, uint32_t d,
                       uint32_t block_size)
{
    const vmrp_disk_info *di = &p->disks[d];
    FUZZ_CHECK(di->name && strlen(di->name) >= 1 && strlen(di->name) <= 64, "bad disk name");
    FUZZ_CHECK(vmrp_disk_name_valid(di->name), "reader accepted disk name '%s'", di->name);
    sink_state s = {di->size_bytes, block_size, 0, 0, NULL, 0, 0};
    int rc = vmrp_reader_read_disk(r, pi, di->name, check_sink, &s);
    if (di->excluded)
        FUZZ_CHECK(rc == VMRP_E_NOT_FOUND, "excluded disk %s read with rc %d", di->name, rc);
    vmrp_extent *x = NULL;
    size_t nx = 0;
    int rc2 = vmrp_reader_disk_extents(r, pi, di->name, &x, &nx);
    if (rc == VMRP_OK && rc2 == VMRP_OK) {
        FUZZ_CHECK(nx == s.nruns, "disk %s: %zu extents but the sink saw %zu runs", di->name, nx,
                   s.nruns);
        for (size_t i = 0; i < nx; i++)
            FUZZ_CHECK(x[i].offset == s.runs[i].offset && x[i].length == s.runs[i].length,
                       "disk %s: extent %zu is %llu+%llu, the sink saw %llu+%llu", di->name, i,
                       (unsigned long long)x[i].offset, (unsigned long long)x[i].length,
                       (unsigned long long)s.runs[i].offset, (unsigned long long)s.runs[i].length);
    }
    if (rc2 == VMRP_OK)
        for (size_t i = 0; i < nx; i++)
            FUZZ_CHECK(x[i].length > 0 && x[i].offset < di->size_bytes &&
                           x[i].length <= di->size_bytes - x[i].offset &&
                           (i == 0 || x[i].offset > x[i - 1].offset + x[i - 1].length - 1),
                       "disk %s: extent %zu out of order or outside the disk", di->name, i);
    if (rc2 != VMRP_OK)
        FUZZ_CHECK(x == NULL && nx == 0, "failed extents call left output");
    free(x);
    free(s.runs);
    if (rc != VMRP_OK)
        FUZZ_CHECK(vmrp_reader_error(r) == rc && vmrp_reader_error_string(r)[0] != '\0',
                   "read_disk failed (%d) without a message", rc);
}

/* Disks up to this size are read into memory for the resolution oracle. */
#define IMAGE_MAX (4u << 20)

typedef struct {
    unsigned char *buf;
    uint64_t size;
} image;

static int image_sink(void *ctx, uint64_t offset, const void *data, size_t size)
{
    image *im = ctx;
    if (offset <= im->size && size <= im->size - offset)
        memcpy(im->buf + offset, data, size);
    return 0;
}

/* The image of a disk, or NULL when it does not read or is too large. */
static unsigned char *read_image(vmrp_reader *r, uint32_t pi, const vmrp_disk_info *di)
{
    if (di->size_bytes > IMAGE_MAX)
        return NULL;
    image im = {calloc(1, di->size_bytes ? (size_t)di->size_bytes : 1), di->size_bytes};
    FUZZ_CHECK(im.buf != NULL, "calloc");
    if (vmrp_reader_read_disk(r, pi, di->name, image_sink, &im) != VMRP_OK) {
        free(im.buf);
        return NULL;
    }
    return im.buf;
}

static void check_chain_aside(vmrp_reader *r, uint32_t pi, const vmrp_disk_info *di)
{
    if (di->size_bytes > IMAGE_MAX || di->excluded || fuzz_skip("chain-aside"))
        return;
    unsigned char *held = read_image(r, pi, di);
    r->chain_budget = 1;
    unsigned char *aside = read_image(r, pi, di);
    r->chain_budget = 0;
    FUZZ_CHECK((held == NULL) == (aside == NULL),
               "disk %s: reads %s with its maps held, %s with them put aside", di->name,
               held ? "whole" : "not", aside ? "whole" : "not");
    if (held && aside)
        FUZZ_CHECK(memcmp(held, aside, (size_t)di->size_bytes) == 0,
                   "disk %s: other bytes with its maps put aside", di->name);
    free(held);
    free(aside);
}

/* Format section 9 with an empty map at N: block k of D at N is block k of
 * the family's previous included point P when k < min(B(N), B(P)), and zero
 * otherwise. Bytes past the smaller disk size are not compared (they come
 * from a block's padding). */
static void check_empty_map(vmrp_reader *r, uint32_t n, const vmrp_disk_info *dn, uint32_t bs)
{
    unsigned char *in = read_image(r, n, dn);
    if (!in)
        return;
    const vmrp_disk_info *dp = NULL;
    uint32_t p = n;
    while (!dp && p-- > 0) {
        const vmrp_point_info *pp = vmrp_reader_point(r, p);
        for (uint32_t d = 0; d < pp->disk_count && !dp; d++)
            if (!pp->disks[d].excluded && memcmp(pp->disks[d].family_id, dn->family_id, 16) == 0)
                dp = &pp->disks[d];
    }
    if (dn->full)
        dp = NULL; /* a FULL map lists every non-zero block: the chain ends here */
    uint64_t bn = dn->size_bytes / bs + (dn->size_bytes % bs != 0), common = 0, same = 0;
    unsigned char *ip = NULL;
    if (dp) {
        ip = read_image(r, p, dp);
        if (!ip) {
            free(in);
            return;
        }
        uint64_t bp = dp->size_bytes / bs + (dp->size_bytes % bs != 0);
        common = (bn < bp ? bn : bp) * (uint64_t)bs;
        same = dn->size_bytes < dp->size_bytes ? dn->size_bytes : dp->size_bytes;
        if (same > common)
            same = common;
    }
    for (uint64_t i = 0; i < dn->size_bytes; i++) {
        unsigned char want = i < same ? ip[i] : 0;
        if (i >= same && i < common)
            continue; /* padding of P's last block */
        FUZZ_CHECK(in[i] == want,
                   "point %u disk %s has an empty map, but byte %llu reads %#x where the family's "
                   "previous included point (%s%s%s) gives %#x (format section 9)",
                   n + 1, dn->name, (unsigned long long)i, in[i], dp ? "point " : "none",
                   dp ? vmrp_reader_point(r, p)->name : "", dn->full ? ", the disk is FULL" : "",
                   want);
    }
    free(in);
    free(ip);
}

/* The same collection seen through two readers (point metadata only). */
static void check_same_collection(vmrp_reader *a, vmrp_reader *b, const char *how)
{
    const vmrp_collection_info *x = vmrp_reader_collection(a), *y = vmrp_reader_collection(b);
    FUZZ_CHECK(x->point_count == y->point_count && x->committed_size == y->committed_size &&
                   memcmp(x->head_hash, y->head_hash, 32) == 0 &&
                   x->key_slot_count == y->key_slot_count,
               "opened %s: %u points, committed %llu (with the identity: %u, %llu)", how,
               y->point_count, (unsigned long long)y->committed_size, x->point_count,
               (unsigned long long)x->committed_size);
    for (uint32_t i = 0; i < x->point_count; i++) {
        const vmrp_point_info *p = vmrp_reader_point(a, i), *q = vmrp_reader_point(b, i);
        int same = strcmp(p->name, q->name) == 0 && memcmp(p->id, q->id, 16) == 0 &&
                   p->disk_count == q->disk_count && p->config_file_count == q->config_file_count &&
                   p->source_metadata_size == q->source_metadata_size &&
                   memcmp(p->source_metadata, q->source_metadata, p->source_metadata_size) == 0;
        for (uint32_t d = 0; same && d < p->disk_count; d++)
            same = strcmp(p->disks[d].name, q->disks[d].name) == 0 &&
                   memcmp(p->disks[d].family_id, q->disks[d].family_id, 16) == 0 &&
                   p->disks[d].size_bytes == q->disks[d].size_bytes &&
                   p->disks[d].excluded == q->disks[d].excluded &&
                   p->disks[d].full == q->disks[d].full &&
                   p->disks[d].changed_blocks == q->disks[d].changed_blocks;
        for (uint32_t f = 0; same && f < p->config_file_count; f++)
            same = strcmp(p->config_files[f].name, q->config_files[f].name) == 0 &&
                   p->config_files[f].size == q->config_files[f].size;
        FUZZ_CHECK(same, "point %u differs when the archive is opened %s", i + 1, how);
    }
}

/* An encrypted archive that opened with the test keys (r): without a key
 * it must fail with VMRP_E_KEY, and with the passphrase alone it opens the
 * same, or fails because no passphrase slot opens. */
static void check_encrypted_opens(vmrp_reader *r, int fd, int pass_given)
{
    vmrp_reader *nk = vmrp_reader_new();
    FUZZ_CHECK(nk != NULL, "vmrp_reader_new");
    int rc = vmrp_reader_open_fd(nk, fd, "fuzz.vmrp");
    FUZZ_CHECK(rc == VMRP_E_KEY && strstr(vmrp_reader_error_string(nk), "key slots") != NULL,
               "opens with the test keys, but without a key open gives %d: %s", rc,
               vmrp_reader_error_string(nk));
    vmrp_reader_free(nk);
    if (!pass_given)
        return;
    int has_pass = 0;
    for (uint32_t i = 0; i < vmrp_reader_collection(r)->key_slot_count; i++) {
        vmrp_key_slot_info si;
        has_pass |= vmrp_reader_key_slot(r, i, &si) == VMRP_OK && si.type == VMRP_SLOT_PASSPHRASE;
    }
    if (!has_pass)
        return;
    vmrp_reader *pr = vmrp_reader_new();
    FUZZ_CHECK(pr != NULL, "vmrp_reader_new");
    int asked = 0;
    vmrp_reader_set_decryption(pr, NULL, fz_ask, &asked);
    rc = vmrp_reader_open_fd(pr, fd, "fuzz.vmrp");
    FUZZ_CHECK(asked == 1, "the passphrase was asked %d times", asked);
    if (rc == VMRP_OK)
        check_same_collection(r, pr, "with the passphrase alone");
    else
        FUZZ_CHECK(rc == VMRP_E_KEY ||
                       (rc == VMRP_E_CORRUPT &&
                        strstr(vmrp_reader_error_string(pr), "a key slot opens to a key") != NULL),
                   "opens with the identity, but with the passphrase alone: %d: %s", rc,
                   vmrp_reader_error_string(pr));
    vmrp_reader_free(pr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init_once();
    int fd = fuzz_memfd("fuzz_open", data, size);
    vmrp_reader *r = vmrp_reader_new();
    FUZZ_CHECK(r != NULL, "vmrp_reader_new");
    int asked = 0;
    const int pass_given = fz_set_keys(r, data, size, &asked);
    int rc = vmrp_reader_open_fd(r, fd, "fuzz.vmrp");
    FUZZ_CHECK(asked <= 1, "the passphrase was asked %d times", asked);
    if (rc != VMRP_OK) {
        FUZZ_CHECK(rc < 0 && vmrp_reader_error_string(r)[0] != '\0',
                   "open failed (%d) without a message", rc);
    } else {
        const vmrp_collection_info *ci = vmrp_reader_collection(r);
        uint32_t n = vmrp_reader_point_count(r);
        FUZZ_CHECK(ci->file_size == size, "file_size %llu for %zu input bytes",
                   (unsigned long long)ci->file_size, size);
        FUZZ_CHECK(ci->committed_size >= 128 && ci->committed_size <= size,
                   "committed_size %llu", (unsigned long long)ci->committed_size);
        FUZZ_CHECK(ci->point_count == n && n <= ci->max_points, "point count %u / %u / max %u",
                   ci->point_count, n, ci->max_points);
        FUZZ_CHECK(ci->block_size >= 4096 && ci->block_size <= (4u << 20) &&
                       (ci->block_size & (ci->block_size - 1)) == 0,
                   "block size %u", ci->block_size);
        FUZZ_CHECK(vmrp_reader_point(r, n) == NULL, "point past the end");
        FUZZ_CHECK(ci->encrypted == fz_encrypted(data, size), "encrypted %d", ci->encrypted);
        if (ci->encrypted && n > 0) {
            /* the slots are those of the KEYS record at offset 128 */
            size_t klen = 0;
            const uint8_t *kp = fz_first_keys(data, size, &klen);
            FUZZ_CHECK(kp && ci->key_slot_count >= 1 && ci->key_slot_count <= 64 &&
                           ci->key_slot_count == fz_le32(kp + 32) &&
                           klen == 200 + 128 * (size_t)ci->key_slot_count,
                       "%u key slots", ci->key_slot_count);
            for (uint32_t i = 0; i < ci->key_slot_count; i++) {
                vmrp_key_slot_info si;
                const uint8_t *s = kp + 200 + 128 * (size_t)i;
                FUZZ_CHECK(vmrp_reader_key_slot(r, i, &si) == VMRP_OK && si.type == s[0] &&
                               (si.type == VMRP_SLOT_RECIPIENT
                                    ? memcmp(si.key_id, s + 8, 8) == 0
                                    : si.kdf_opslimit == fz_le64(s + 8) &&
                                          si.kdf_memlimit == fz_le64(s + 16) &&
                                          fz_kdf_params_ok(si.kdf_opslimit, si.kdf_memlimit)),
                           "key slot %u", i);
            }
            vmrp_key_slot_info si;
            FUZZ_CHECK(vmrp_reader_key_slot(r, ci->key_slot_count, &si) == VMRP_E_NOT_FOUND,
                       "key slot past the end");
        } else {
            FUZZ_CHECK(ci->key_slot_count == 0, "%u key slots in an archive %s",
                       ci->key_slot_count, n ? "without encryption" : "without points");
        }
        uint32_t idx = 12345;
        if (n > 0) {
            FUZZ_CHECK(vmrp_reader_find_point(r, "latest", &idx) == VMRP_OK && idx == n - 1,
                       "latest");
            FUZZ_CHECK(vmrp_reader_find_point(r, "1", &idx) == VMRP_OK && idx == 0, "point 1");
        } else {
            FUZZ_CHECK(vmrp_reader_find_point(r, "latest", &idx) == VMRP_E_NOT_FOUND, "latest");
        }
        for (uint32_t i = 0; i < n; i++) {
            const vmrp_point_info *p = vmrp_reader_point(r, i);
            FUZZ_CHECK(p && p->name && p->source_metadata, "point %u", i);
            FUZZ_CHECK(p->sequence == i + 1 && p->parent_sequence == i, "point %u sequence %u/%u",
                       i, p->sequence, p->parent_sequence);
            FUZZ_CHECK(strlen(p->source_metadata) == p->source_metadata_size,
                       "point %u metadata size", i);
            FUZZ_CHECK(vmrp_json_validate(p->source_metadata, p->source_metadata_size, 1, NULL) ==
                           VMRP_OK,
                       "point %u metadata is not a JSON object", i);
            FUZZ_CHECK(p->commit_offset >= 128 && p->commit_offset + 256 <= ci->committed_size,
                       "point %u commit offset %llu", i, (unsigned long long)p->commit_offset);
            /* a name selects the newest point that has it (names repeat
             * only in encrypted collections) */
            uint32_t newest = i;
            for (uint32_t j = i + 1; j < n; j++)
                if (strcmp(vmrp_reader_point(r, j)->name, p->name) == 0)
                    newest = j;
            FUZZ_CHECK(newest == i || ci->encrypted, "points %u and %u share the name '%s'", i + 1,
                       newest + 1, p->name);
            FUZZ_CHECK(vmrp_reader_find_point(r, p->name, &idx) == VMRP_OK && idx == newest,
                       "point %u not found by its name '%s'", i, p->name);
            for (uint32_t d = 0; d < p->disk_count; d++) {
                FUZZ_CHECK(!p->disks[d].full || (ci->encrypted && !p->disks[d].excluded),
                           "point %u disk %s: FULL %s", i + 1, p->disks[d].name,
                           p->disks[d].excluded ? "and EXCLUDED" : "without encryption");
                check_disk(r, i, p, d, ci->block_size);
                check_chain_aside(r, i, &p->disks[d]);
                for (uint32_t e = 0; e < d && !fuzz_skip("family-id"); e++)
                    FUZZ_CHECK(memcmp(p->disks[e].family_id, p->disks[d].family_id, 16) != 0,
                               "point %u: disks %s and %s share a Family_Id (format 5.4.2)", i + 1,
                               p->disks[e].name, p->disks[d].name);
                if (!p->disks[d].excluded && p->disks[d].changed_blocks == 0 &&
                    !fuzz_skip("family-id"))
                    check_empty_map(r, i, &p->disks[d], ci->block_size);
            }
            for (uint32_t f = 0; f < p->config_file_count; f++) {
                const vmrp_config_file_info *fi = &p->config_files[f];
                FUZZ_CHECK(fi->name && vmrp_config_name_valid(fi->name) && fi->mode <= 07777,
                           "point %u config file %u", i, f);
                void *buf = NULL;
                size_t len = 0;
                int frc = vmrp_reader_read_config_file(r, i, f, &buf, &len);
                if (frc == VMRP_OK) {
                    FUZZ_CHECK(len == fi->size && (buf == NULL) == (len == 0),
                               "config file %s: %zu bytes read, %llu declared", fi->name, len,
                               (unsigned long long)fi->size);
                    volatile unsigned char sum = 0;
                    for (size_t k = 0; k < len; k++)
                        sum ^= ((unsigned char *)buf)[k];
                    (void)sum;
                } else {
                    FUZZ_CHECK(buf == NULL && len == 0, "failed read left output");
                }
                free(buf);
            }
            void *buf = (void *)1;
            size_t len = 1;
            FUZZ_CHECK(vmrp_reader_read_config_file(r, i, p->config_file_count, &buf, &len) ==
                               VMRP_E_NOT_FOUND &&
                           buf == NULL,
                       "config file past the end");
        }
    }
    if (rc == VMRP_OK && vmrp_reader_collection(r)->encrypted && vmrp_reader_point_count(r) > 0)
        check_encrypted_opens(r, fd, pass_given);
    vmrp_reader_free(r);
    close(fd);
    return 0;
}

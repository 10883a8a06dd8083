/* writer.c - appending one restore point: opening (create or lock),
 * records, the point's metadata, index and commit.
 *
 * Bytes are only ever appended after the last commit; until the commit
 * record is written and flushed nothing new is visible, and a writer freed
 * without committing truncates its segment away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "writer_private.h"

vmrp_writer *vmrp_writer_new(void)
{
    vmrp_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fd = -1;
    return w;
}

const char *vmrp_writer_error_string(const vmrp_writer *w)
{
    return w ? w->err.message : "no writer";
}

int vmrp_writer_error(const vmrp_writer *w)
{
    return w ? w->err.code : VMRP_E_USAGE;
}

void vmrp_writer_get_stats(const vmrp_writer *w, vmrp_writer_stats *out)
{
    *out = w->stats;
}

int vmrp_writer_set_signing_key(vmrp_writer *w, const vmrp_key *key)
{
    if (key && vmrp_key_kind(key) != VMRP_KEY_SIGNING)
        return writer_fail(w, VMRP_E_USAGE, "the signing key is not a signing key (Ed25519)");
    if (key && !vmrp_key_has_secret(key))
        return writer_fail(w, VMRP_E_USAGE, "the signing key has no secret half");
    w->signer = key;
    return VMRP_OK;
}

void vmrp_writer_set_collection_key(vmrp_writer *w, const unsigned char key[32])
{
    memcpy(w->pinned_collection_key, key, KEY_SIZE);
    w->collection_key_pinned = 1;
}

void vmrp_writer_set_public_key(vmrp_writer *w, const vmrp_key *key)
{
    w->trusted = key;
}

int vmrp_writer_set_encryption(vmrp_writer *w, const vmrp_encryption *e)
{
    if (w->fd >= 0 || w->label)
        return writer_fail(w, VMRP_E_USAGE, "set encryption before opening the archive");
    uint64_t ops = e->kdf_opslimit ? e->kdf_opslimit : KDF_OPSLIMIT_DEFAULT;
    uint64_t mem = e->kdf_memlimit ? e->kdf_memlimit : KDF_MEMLIMIT_DEFAULT;
    if (ops < KDF_OPSLIMIT_MIN || ops > KDF_OPSLIMIT_MAX || mem < KDF_MEMLIMIT_MIN ||
        mem > KDF_MEMLIMIT_MAX || mem % 1024 != 0)
        return writer_fail(w, VMRP_E_USAGE,
                           "Argon2id parameters out of bounds: passes 1..10, memory 8 KiB..1 GiB "
                           "in whole KiB");
    if (e->recipient_count + (e->passphrase ? 1 : 0) > KY_SLOTS_MAX)
        return writer_fail(w, VMRP_E_USAGE, "at most %u key slots", KY_SLOTS_MAX);
    for (size_t i = 0; i < e->recipient_count; i++)
        if (!e->recipients[i] || !key_box_public(e->recipients[i]))
            return writer_fail(w, VMRP_E_USAGE, "recipient %zu is not an encryption public key",
                               i + 1);
    if (e->identity && !key_box_secret(e->identity))
        return writer_fail(w, VMRP_E_USAGE, "the identity is not an encryption secret key");
    if (e->passphrase && !*e->passphrase)
        return writer_fail(w, VMRP_E_USAGE, "the passphrase is empty");
    if (w->passphrase || w->encrypt_new || w->identity)
        return writer_fail(w, VMRP_E_USAGE, "encryption is already set");
    if (e->passphrase) {
        size_t len = strlen(e->passphrase);
        if (!(w->passphrase = sodium_malloc(len + 1)))
            return writer_fail(w, VMRP_E_NOMEM, "out of secure memory");
        memcpy(w->passphrase, e->passphrase, len + 1);
    }
    if (e->recipient_count &&
        !(w->recipients = calloc(e->recipient_count, sizeof *w->recipients)))
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    for (size_t i = 0; i < e->recipient_count; i++)
        w->recipients[i] = e->recipients[i];
    w->slots = (keys_slots){w->passphrase, ops, mem, w->recipients, e->recipient_count};
    w->encrypt_new = w->passphrase || e->recipient_count;
    w->identity = e->identity;
    return VMRP_OK;
}

/* The reader's passphrase source: the one given to the writer. */
static int writer_passphrase(void *ctx, const char *path, char *buf, size_t size)
{
    (void)path;
    const vmrp_writer *w = ctx;
    if (!w->passphrase || strlen(w->passphrase) >= size)
        return -1;
    memcpy(buf, w->passphrase, strlen(w->passphrase) + 1);
    return 0;
}

/* Write the segment's KEYS record: its first record, holding this
 * segment's keys sealed to the collection, and the key slots of a new
 * collection. */
static int write_keys(vmrp_writer *w, const keys_slots *slots)
{
    size_t nslots = slots ? (slots->passphrase ? 1 : 0) + slots->recipient_count : 0;
    size_t len = keys_size(nslots);
    unsigned char *buf = malloc(len);
    if (!buf)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    int rc = keys_build(buf, w->crypt, w->seg, w->base, slots);
    uint64_t at = 0;
    if (rc)
        rc = writer_fail(w, rc, "%s: cannot make the key record (%s)", w->label,
                         rc == VMRP_E_NOMEM ? "out of memory" : "sealing failed");
    else
        rc = writer_put_record(w, REC_KEYS, CODEC_NONE, buf, len, &at);
    free(buf);
    return rc;
}

/* Fresh keys for this segment; the Id_Key is segment 1's when the
 * collection is open, so Block_Ids stay comparable with its id space. */
static void new_segment_keys(vmrp_writer *w, size_t index, const unsigned char *id_key)
{
    w->seg = &w->crypt->segs[index];
    randombytes_buf(w->seg->data_key, KEY_SIZE);
    if (id_key)
        memcpy(w->seg->id_key, id_key, KEY_SIZE);
    else
        randombytes_buf(w->seg->id_key, KEY_SIZE);
    w->id_key = w->seg->id_key;
}

void vmrp_writer_set_progress(vmrp_writer *w, vmrp_progress_fn fn, void *ctx)
{
    w->progress = fn;
    w->progress_ctx = ctx;
}

void vmrp_writer_set_progress_total(vmrp_writer *w, uint64_t total)
{
    w->progress_total = total;
}

/* A write error leaves the segment half written: the handle refuses
 * everything but free, which truncates it away. */
int writer_fail(vmrp_writer *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w->err.code = code;
    vsnprintf(w->err.message, sizeof w->err.message, fmt, ap);
    va_end(ap);
    if (code == VMRP_E_IO || code == VMRP_E_NOMEM || code == VMRP_E_CORRUPT)
        w->failed = 1;
    return code;
}

int writer_ready(vmrp_writer *w)
{
    if (w->fd < 0)
        return writer_fail(w, VMRP_E_USAGE, "writer is not open");
    if (w->failed)
        return writer_fail(w, VMRP_E_USAGE, "%s: an earlier error stopped this point", w->label);
    if (w->committed)
        return writer_fail(w, VMRP_E_USAGE, "%s: point already committed", w->label);
    return VMRP_OK;
}

int writer_append_bytes(vmrp_writer *w, const void *buf, size_t len)
{
    int rc = io_write_full(w->fd, buf, len);
    if (rc)
        return writer_fail(w, VMRP_E_IO, "%s: write error at offset %llu: %s", w->label,
                           (unsigned long long)w->pos, strerror(-rc));
    io_start_writeback(w->fd, w->pos, len); /* so the commit's fsync waits for less */
    w->pos += len;
    w->stats.bytes_written += len;
    return VMRP_OK;
}

long writer_build_record(codec_ctx *c, uint8_t type, int codec, int level, const void *raw,
                         size_t raw_len, int encrypt, unsigned char *out, size_t out_cap)
{
    size_t stored = 0, extra = encrypt ? RECORD_CRYPTO_OVERHEAD : 0;
    size_t before = encrypt ? RECORD_NONCE_SIZE : 0; /* room for the nonce */
    int used = codec_compress(c, codec, level, raw, raw_len, out + RH_SIZE + before,
                              out_cap - RH_SIZE - extra, &stored);
    if (used < 0)
        return used;
    record_header h = {type, (uint8_t)used, encrypt ? RECORD_FLAG_ENCRYPTED : 0,
                       (uint32_t)(stored + extra), (uint32_t)raw_len};
    record_header_encode(out, &h);
    return (long)(RH_SIZE + stored + extra);
}

int writer_encrypts(const vmrp_writer *w, uint8_t type)
{
    return w->crypt && type != REC_KEYS;
}

size_t writer_record_bound(const vmrp_writer *w, size_t raw_len)
{
    return RH_SIZE + codec_bound(raw_len) + (w->crypt ? RECORD_CRYPTO_OVERHEAD : 0);
}

void writer_seal(const vmrp_writer *w, unsigned char *rec, size_t len, uint64_t offset)
{
    if (rec[RH_OFF_FLAGS] & RECORD_FLAG_ENCRYPTED)
        (void)crypt_seal_record(w->crypt->collection_id, w->seg->data_key, offset, rec, len);
}

int writer_append_built(vmrp_writer *w, uint8_t type, const unsigned char *recs, size_t len,
                        size_t count, const uint32_t *sizes,
                        const unsigned char (*hashes)[HASH_SIZE])
{
    uint64_t at = w->pos;
    for (size_t i = 0; i < count; i++) {
        rec_ref ref = {at, sizes[i], 0, type, {0}, 0};
        memcpy(ref.hash, hashes[i], HASH_SIZE);
        int rc = writer_index_add(w, &ref);
        if (rc)
            return rc;
        at += sizes[i];
    }
    return writer_append_bytes(w, recs, len);
}

int writer_put_record(vmrp_writer *w, uint8_t type, int codec, const void *raw, size_t raw_len,
                      uint64_t *offset)
{
    size_t cap = writer_record_bound(w, raw_len);
    if (cap > w->bufcap) {
        unsigned char *bigger = realloc(w->buf, cap);
        if (!bigger)
            return writer_fail(w, VMRP_E_NOMEM, "%s: out of memory", w->label);
        w->buf = bigger;
        w->bufcap = cap;
    }
    long len = writer_build_record(w->codec, type, codec, w->level, raw, raw_len,
                                   writer_encrypts(w, type), w->buf, cap);
    if (len < 0)
        return writer_fail(w, (int)len, "%s: compression failed", w->label);
    uint32_t size = (uint32_t)len;
    writer_seal(w, w->buf, size, w->pos);
    unsigned char hash[1][HASH_SIZE];
    hash_buf(hash[0], w->buf, size);
    *offset = w->pos;
    return writer_append_built(w, type, w->buf, size, 1, &size, hash);
}

/* API codec values (0 = default) to the codec ids stored in records. */
static int codec_from_api(int codec)
{
    switch (codec) {
    case VMRP_CODEC_ZLIB:
        return CODEC_ZLIB;
    case VMRP_CODEC_NONE:
        return CODEC_NONE;
    default:
        return CODEC_ZSTD;
    }
}

static int bad_options(vmrp_writer *w, const vmrp_writer_options *o)
{
    uint32_t bs = o->block_size;
    if (bs && (bs < BLOCK_SIZE_MIN || bs > BLOCK_SIZE_MAX || (bs & (bs - 1))))
        return writer_fail(w, VMRP_E_USAGE,
                           "block size %u is not a power of two from 4096 to 4194304", bs);
    if (o->max_points > MAX_POINTS_LIMIT)
        return writer_fail(w, VMRP_E_USAGE, "max points %u is above %u", o->max_points,
                           MAX_POINTS_LIMIT);
    if (o->codec < VMRP_CODEC_DEFAULT || o->codec > VMRP_CODEC_NONE ||
        !codec_level_valid(codec_from_api(o->codec), o->level))
        return writer_fail(w, VMRP_E_USAGE, "codec %d does not take level %d", o->codec, o->level);
    if (o->threads > 256)
        return writer_fail(w, VMRP_E_USAGE, "threads %u is above 256", o->threads);
    if (o->dedup_memory_mib > 65536)
        return writer_fail(w, VMRP_E_USAGE, "deduplication memory %u MiB is above 65536",
                           o->dedup_memory_mib);
    for (size_t i = 0; i < sizeof o->reserved / sizeof o->reserved[0]; i++)
        if (o->reserved[i])
            return writer_fail(w, VMRP_E_USAGE, "reserved option fields must be zero");
    return VMRP_OK;
}

static int writer_setup(vmrp_writer *w, const char *label, const vmrp_writer_options *opts)
{
    static const vmrp_writer_options defaults = {0, 0, VMRP_CODEC_DEFAULT, 0, 0, 0, {0}};
    const vmrp_writer_options *o = opts ? opts : &defaults;
    err_clear(&w->err);
    if (w->fd >= 0 || w->label)
        return writer_fail(w, VMRP_E_USAGE, "writer is already open");
    int rc = bad_options(w, o);
    if (rc)
        return rc;
    w->label = strdup(label);
    w->codec = codec_new();
    w->workers = pool_new(o->threads ? o->threads : pool_default_threads());
    w->worker_codecs = w->workers ? calloc(pool_size(w->workers), sizeof *w->worker_codecs) : NULL;
    for (unsigned i = 0; w->worker_codecs && i < pool_size(w->workers); i++)
        if (!(w->worker_codecs[i] = codec_new()))
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    if (!w->worker_codecs)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    uint64_t dedup_bytes =
        (uint64_t)(o->dedup_memory_mib ? o->dedup_memory_mib : DEDUP_MEMORY_MIB_DEFAULT) << 20;
    w->blocks = blocktab_new(dedup_bytes > SIZE_MAX ? SIZE_MAX : (size_t)dedup_bytes);
    w->files = blocktab_new(FILES_TABLE_BYTES);
    if (!w->label || !w->codec || !w->blocks || !w->files)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    w->block_size = o->block_size ? o->block_size : BLOCK_SIZE_DEFAULT;
    w->max_points = o->max_points ? o->max_points : MAX_POINTS_DEFAULT;
    w->codec_id = codec_from_api(o->codec);
    w->level = o->level;
    w->requested_block_size = o->block_size;
    w->consistency = VMRP_CONSISTENCY_CRASH;
    return VMRP_OK;
}

/* Start a new collection at offset 0 of w->fd. */
static int start_collection(vmrp_writer *w)
{
    unsigned char id[ID_SIZE];
    random_id(id);
    header_encode_ex(w->header, id, w->block_size, w->max_points, now_us(),
                     w->encrypt_new ? FEATURE_INCOMPAT_ENCRYPTED : 0);
    w->sequence = 1;
    w->pos = 0;
    w->base = 0;
    w->stats.created = 1;
    w->rollback = 1;
    w->rollback_size = 0; /* no commit: nothing of this file was committed */
    int rc = writer_append_bytes(w, w->header, FH_SIZE);
    w->base = FH_SIZE;
    if (rc || !w->encrypt_new)
        return rc;
    if (!(w->crypt = crypt_new(id, 1)))
        return writer_fail(w, VMRP_E_NOMEM, "out of secure memory");
    w->own_crypt = 1;
    crypto_box_keypair(w->crypt->collection_pk, w->crypt->collection_sk);
    w->crypt->unlocked = 1;
    new_segment_keys(w, 0, NULL);
    return write_keys(w, &w->slots);
}

/* Learn the existing collection: its blocks and files for deduplication,
 * the head of the chain, and where to append. */
static int adopt_collection(vmrp_writer *w)
{
    vmrp_reader *r = w->prev;
    const vmrp_collection_info *ci = vmrp_reader_collection(r);
    if (w->requested_block_size && w->requested_block_size != ci->block_size)
        return writer_fail(w, VMRP_E_USAGE,
                           "%s: the archive's block size is %u; --block-size cannot change it",
                           w->label, ci->block_size);
    if (ci->point_count >= ci->max_points)
        return writer_fail(w, VMRP_E_LIMIT,
                           "%s: the collection already holds %u restore points, its maximum. "
                           "Pruning is not available yet: start a new archive for new points "
                           "(a higher limit is set with --max-points when an archive is created)",
                           w->label, ci->point_count);
    if (!ci->encrypted && (w->encrypt_new))
        return writer_fail(w, VMRP_E_USAGE,
                           "%s is not encrypted: encryption is chosen when an archive is created",
                           w->label);
    if (ci->encrypted && w->slots.recipient_count)
        return writer_fail(w, VMRP_E_USAGE,
                           "%s: recipients are fixed when an encrypted archive is created; give "
                           "--identity to open it, or nothing to append without its key",
                           w->label);
    memcpy(w->header, r->header, FH_SIZE);
    w->block_size = ci->block_size;
    w->max_points = ci->max_points;
    w->sequence = ci->point_count + 1;
    w->prev_commit_offset = r->head_offset;
    memcpy(w->prev_commit_hash, ci->head_hash, HASH_SIZE);
    if (ci->encrypted && !r->crypt->unlocked) {
        /* The new point is sealed to the collection key the file names:
         * something must vouch for it, or whoever can write the file could
         * put their own key there and read what this writer stores. */
        if (w->collection_key_pinned &&
            sodium_memcmp(w->pinned_collection_key, r->crypt->collection_pk, KEY_SIZE) != 0)
            return writer_fail(w, VMRP_E_CORRUPT,
                               "%s: its collection key is not the one given; refusing to seal a "
                               "point to it", w->label);
        if (!w->collection_key_pinned && !w->trusted)
            return writer_fail(w, VMRP_E_KEY,
                               "%s: a keyless append seals the point to the collection key the "
                               "file names, and nothing vouches for it: give the collection key "
                               "('vmrp inspect' prints it) or a public key that signed the chain",
                               w->label);
    }
    if (ci->encrypted) {
        w->crypt = r->crypt;
        w->stats.keyless = !r->crypt->unlocked;
        /* Segment 1's Id_Key: its creator held the secret, so no writer
         * without it can know that key. Reusing the Id_Key of a segment
         * written without the secret would let its writer probe later
         * points through deduplication and deltas (spec 8.1.1). */
        new_segment_keys(w, ci->point_count, r->crypt->unlocked ? reader_id_key(r, 0) : NULL);
    }
    for (uint32_t k = 0; k < r->npoints; k++) {
        const point_meta *pm = &r->points[k];
        if (w->id_key && sodium_memcmp(reader_id_key(r, k), w->id_key, KEY_SIZE) != 0)
            continue; /* Content_Hashes keyed otherwise */
        for (uint32_t f = 0; f < pm->info.config_file_count; f++)
            if (pm->file_records[f] && blocktab_put(w->files, pm->file_hashes[f], pm->file_records[f]))
                return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    }
    int rc = reader_collect_blocks(r, w->blocks, w->id_key);
    if (rc)
        return writer_fail(w, rc, "%s", vmrp_reader_error_string(r));
    w->base = ci->committed_size;
    w->pos = w->base;
    if (lseek(w->fd, (off_t)w->base, SEEK_SET) < 0)
        return writer_fail(w, VMRP_E_IO, "%s: seek failed: %s", w->label, strerror(errno));
    w->rollback = 1;
    w->rollback_size = w->base;
    return w->crypt ? write_keys(w, NULL) : VMRP_OK;
}

int vmrp_writer_open(vmrp_writer *w, const char *path, const vmrp_writer_options *opts)
{
    int rc = writer_setup(w, path, opts);
    if (rc)
        return rc;
    w->path = strdup(path);
    if (!w->path)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    /* A new archive gets 0666 less the umask, as any file a program makes;
     * an encrypted one 0600, since who may read it is the point of
     * encrypting (its names and sizes are visible without the key). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, w->encrypt_new ? 0600 : 0666);
    int created = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) /* EACCES and EROFS too: no code of their own; strerror() tells */
        return writer_fail(w, VMRP_E_IO, "%s: cannot open for writing: %s", path,
                           strerror(errno));
    rc = io_lock_exclusive(fd);
    if (rc) {
        close(fd);
        if (rc == -EWOULDBLOCK)
            return writer_fail(w, VMRP_E_LOCKED,
                               "%s: locked by another writer (a pack is appending to it); "
                               "try again when it has finished",
                               path);
        return writer_fail(w, VMRP_E_IO, "%s: cannot lock: %s", path, strerror(-rc));
    }
    w->fd = fd;
    w->created = created;
    if (created)
        return start_collection(w);

    uint64_t size = 0;
    if ((rc = io_file_size(fd, &size)) != 0)
        return writer_fail(w, VMRP_E_IO, "%s: %s", path, strerror(-rc));
    w->prev = vmrp_reader_new();
    if (!w->prev)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    /* An encrypted archive is opened with the key given, or, with none,
     * read only as far as its commit chain (a keyless append). */
    vmrp_reader_set_decryption(w->prev, w->identity, w->passphrase ? writer_passphrase : NULL, w);
    vmrp_reader_set_public_key(w->prev, w->trusted);
    w->prev->keyless_ok = !w->identity && !w->passphrase;
    uint64_t torn = 0;
    rc = size == 0 ? VMRP_OK : reader_open_internal(w->prev, fd, path, &torn);
    if (rc == VMRP_E_NOT_ARCHIVE)
        return writer_fail(w, rc, "%s exists and is not a vmrp archive; refusing to append to it",
                           path);
    if (rc)
        return writer_fail(w, rc, "%s", vmrp_reader_error_string(w->prev));
    if (size > 0 && w->prev->coll.tail_damaged)
        return writer_fail(w, VMRP_E_CORRUPT,
                           "%s: damaged after offset %llu (a commit there does not check); "
                           "refusing to append. Run 'vmrp verify %s' for details",
                           path, (unsigned long long)w->prev->coll.committed_size, path);
    if (size > 0 && w->prev->coll.point_count == 0 && w->prev->coll.encrypted &&
        !w->encrypt_new)
        /* Never re-create an encrypted archive in plaintext, nor with keys
         * this writer cannot vouch for. */
        return writer_fail(w, VMRP_E_USAGE,
                           "%s: an interrupted creation of an encrypted archive (no point was "
                           "committed); create it again with its passphrase or recipients, or "
                           "remove it",
                           path);
    if (size == 0 || w->prev->coll.point_count == 0) {
        /* An interrupted creation: nothing was ever committed. */
        w->stats.dropped_tail = size;
        vmrp_reader_free(w->prev);
        w->prev = NULL;
        if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
            return writer_fail(w, VMRP_E_IO, "%s: cannot reset: %s", path, strerror(errno));
        return start_collection(w); /* a rollback empties the file again */
    }
    if (torn) {
        if (ftruncate(fd, (off_t)(size - torn)) != 0 || io_sync(fd) != 0)
            return writer_fail(w, VMRP_E_IO, "%s: cannot remove the interrupted append: %s", path,
                               strerror(errno));
        w->stats.dropped_tail = torn;
    }
    return adopt_collection(w);
}

int vmrp_writer_repair(vmrp_writer *w, const char *path, uint64_t *dropped)
{
    *dropped = 0;
    err_clear(&w->err);
    if (w->fd >= 0)
        return writer_fail(w, VMRP_E_USAGE, "writer is already open");
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return writer_fail(w, errno == ENOENT ? VMRP_E_NOT_FOUND : VMRP_E_IO, "%s: %s", path,
                           strerror(errno));
    int rc = io_lock_exclusive(fd);
    if (rc) {
        close(fd);
        return writer_fail(w, rc == -EWOULDBLOCK ? VMRP_E_LOCKED : VMRP_E_IO,
                           rc == -EWOULDBLOCK ? "%s: locked by another writer; try again when "
                                                "it has finished"
                                              : "%s: cannot lock",
                           path);
    }
    vmrp_reader *r = vmrp_reader_new();
    uint64_t torn = 0;
    if (r)
        r->keyless_ok = 1; /* commits are found without any key */
    rc = r ? reader_open_internal(r, fd, path, &torn) : VMRP_E_NOMEM;
    if (rc)
        writer_fail(w, rc, "%s", r ? vmrp_reader_error_string(r) : "out of memory");
    else if (torn && r->coll.tail_damaged)
        rc = writer_fail(w, VMRP_E_CORRUPT,
                         "%s: the %llu bytes after the last valid commit (offset %llu) hold a "
                         "damaged commit, not an interrupted append; refusing to remove them",
                         path, (unsigned long long)torn,
                         (unsigned long long)r->coll.committed_size);
    else if (torn && (ftruncate(fd, (off_t)r->coll.committed_size) != 0 || io_sync(fd) != 0))
        rc = writer_fail(w, VMRP_E_IO, "%s: cannot truncate: %s", path, strerror(errno));
    else
        *dropped = torn;
    vmrp_reader_free(r);
    close(fd);
    return rc;
}

int vmrp_writer_open_stream(vmrp_writer *w, int fd, const char *label,
                            const vmrp_writer_options *opts)
{
    int rc = writer_setup(w, label ? label : "stream", opts);
    if (rc)
        return rc;
    w->fd = fd;
    w->stream = 1;
    w->created = 1;
    return start_collection(w);
}

int vmrp_writer_set_point(vmrp_writer *w, const char *name, int consistency)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    if (consistency == 0)
        consistency = VMRP_CONSISTENCY_CRASH;
    if (!vmrp_consistency_name(consistency))
        return writer_fail(w, VMRP_E_USAGE, "consistency mode %d is not 1, 2 or 3", consistency);
    if (name) {
        if (!name_point_valid(name, strlen(name)))
            return writer_fail(w, VMRP_E_USAGE,
                               "point name '%s' is not valid: 1..255 bytes of printable UTF-8, "
                               "not all digits, not 'latest'",
                               name);
        for (uint32_t k = 0; w->prev && k < w->prev->npoints; k++)
            if (strcmp(w->prev->points[k].info.name, name) == 0)
                return writer_fail(w, VMRP_E_EXISTS, "%s: point %u is already named '%s'",
                                   w->label, k + 1, name);
        char *copy = strdup(name);
        if (!copy)
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        free(w->point_name);
        w->point_name = copy;
    }
    w->consistency = consistency;
    return VMRP_OK;
}

int vmrp_writer_set_source_metadata(vmrp_writer *w, const char *json, size_t size)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    size_t at = 0;
    if (size > SOURCE_METADATA_MAX)
        return writer_fail(w, VMRP_E_INPUT, "VM configuration is %zu bytes; at most 16 MiB", size);
    if (json_validate(json, size, 1, &at) != VMRP_OK)
        return writer_fail(w, VMRP_E_INPUT,
                           "VM configuration is not a JSON object (error at byte %zu)", at);
    char *copy = malloc(size + 1);
    if (!copy)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    memcpy(copy, json, size);
    copy[size] = '\0';
    free(w->meta);
    w->meta = copy;
    w->meta_len = size;
    return VMRP_OK;
}

int vmrp_writer_add_config_file(vmrp_writer *w, const char *name, uint32_t mode, const void *data,
                                size_t size)
{
    int rc = writer_ready(w);
    if (rc)
        return rc;
    w->files_given = 1;
    if (!name || !name_config_valid(name, strlen(name)))
        return writer_fail(w, VMRP_E_INPUT,
                           "config file name '%s' is not a relative path without '.' or '..' parts",
                           name ? name : "");
    if (mode > 07777)
        return writer_fail(w, VMRP_E_INPUT, "config file %s: mode %o above 07777", name, mode);
    if (size > FILE_RAW_MAX)
        return writer_fail(w, VMRP_E_INPUT, "config file %s is %zu bytes; at most 64 MiB", name,
                           size);
    if (w->nfiles >= CONFIG_FILES_PER_POINT_MAX)
        return writer_fail(w, VMRP_E_LIMIT, "a point holds at most %u config files",
                           CONFIG_FILES_PER_POINT_MAX);
    for (size_t i = 0; i < w->nfiles; i++)
        if (strcmp(w->cfiles[i].name, name) == 0)
            return writer_fail(w, VMRP_E_EXISTS, "config file %s given twice", name);
    if (w->nfiles == w->capfiles) {
        size_t cap = w->capfiles ? w->capfiles * 2 : 8;
        new_file *bigger = realloc(w->cfiles, cap * sizeof *bigger);
        if (!bigger)
            return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        w->cfiles = bigger;
        w->capfiles = cap;
    }
    new_file *f = &w->cfiles[w->nfiles];
    memset(f, 0, sizeof *f);
    f->name = strdup(name);
    if (!f->name)
        return writer_fail(w, VMRP_E_NOMEM, "out of memory");
    f->mode = mode;
    f->size = size;
    id_hash(f->hash, data, size, w->id_key);
    if (size > 0) {
        f->record = blocktab_get(w->files, f->hash);
        if (f->record == 0) {
            rc = writer_put_record(w, REC_FILE, w->codec_id, data, size, &f->record);
            if (rc) {
                free(f->name);
                return rc;
            }
            if (blocktab_put(w->files, f->hash, f->record))
                return writer_fail(w, VMRP_E_NOMEM, "out of memory");
        }
    }
    w->nfiles++;
    return VMRP_OK;
}

void vmrp_writer_free(vmrp_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0 && !w->committed && !w->stream) {
        /* Roll back to the last commit: bytes past it were never visible.
         * A writer that failed before it knew where the commits end touched
         * nothing, and must not truncate anything either. */
        if (w->created && w->path)
            (void)unlink(w->path);
        else if (w->rollback && ftruncate(w->fd, (off_t)w->rollback_size) == 0)
            (void)io_sync(w->fd);
    }
    if (w->fd >= 0 && !w->stream)
        close(w->fd);
    vmrp_reader_free(w->prev); /* and the keys it holds */
    if (w->own_crypt)
        crypt_free(w->crypt);
    if (w->passphrase)
        sodium_free(w->passphrase);
    free(w->recipients);
    for (size_t i = 0; i < w->ndisks; i++) {
        free(w->disks[i].name);
        free(w->disks[i].map_offsets);
    }
    free(w->disks);
    for (size_t i = 0; i < w->nfiles; i++)
        free(w->cfiles[i].name);
    free(w->cfiles);
    spill_free(w->entries);
    free(w->index_dir);
    free(w->buf);
    free(w->point_name);
    free(w->meta);
    free(w->path);
    free(w->label);
    blocktab_free(w->blocks);
    blocktab_free(w->files);
    codec_free(w->codec);
    for (unsigned i = 0; w->worker_codecs && i < pool_size(w->workers); i++)
        codec_free(w->worker_codecs[i]);
    free(w->worker_codecs);
    pool_free(w->workers);
    free(w);
}

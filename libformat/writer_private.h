/* writer_private.h - the writer handle, shared by writer*.c only. */
#ifndef VMRP_WRITER_PRIVATE_H
#define VMRP_WRITER_PRIVATE_H

#include "vmrp_private.h"

/* The deduplication table's bound: with the fixed buffers (about 60 MiB)
 * it keeps pack within 256 MiB whatever the disk size. */
#define DEDUP_MEMORY_MIB_DEFAULT 64u
/* Configuration files deduplicated by content: a few per point. */
#define FILES_TABLE_BYTES ((size_t)1 << 20)

typedef struct {
    char *name;
    unsigned char family_id[ID_SIZE];
    uint64_t size;
    uint32_t sector_size;
    int excluded;
    int full;      /* encrypted: the map lists every block (FULL) */
    uint64_t changed;
    uint64_t stored_bytes;
    uint64_t *map_offsets;
    uint32_t nmaps;
} new_disk;

typedef struct {
    char *name;
    uint32_t mode;
    uint64_t size;
    uint64_t record;
    unsigned char hash[HASH_SIZE];
} new_file;

struct vmrp_writer_s {
    vmrp_err err;
    int fd;
    int stream;    /* sequential descriptor: no lock, no seek, no fsync */
    int created;   /* this writer made the file: remove it on rollback */
    int rollback;  /* bytes past rollback_size may have been written: truncate
                      them on rollback. Set only once that size is known. */
    uint64_t rollback_size; /* the file size as the last commit left it */
    int failed;
    int committed;
    char *path;
    char *label;
    vmrp_reader *prev; /* the collection as committed, NULL when new */
    unsigned char header[FH_SIZE];
    uint32_t block_size;
    uint32_t requested_block_size;
    uint32_t max_points;
    int codec_id;
    int level;
    uint32_t sequence;
    uint64_t prev_commit_offset;
    unsigned char prev_commit_hash[HASH_SIZE];
    uint64_t base; /* end of the last commit: where this segment starts */
    uint64_t pos;  /* where the next record goes */
    blocktab *blocks; /* Block_Id -> BLOCK record, whole collection */
    blocktab *files;  /* Content_Hash -> FILE record */
    spill *entries;   /* this segment's INDEX entries, encoded; NULL until
                         the first record (writer_index_add) */
    size_t index_keep; /* entries held in memory, 0 for WRITER_INDEX_KEEP */
    char *index_dir;   /* where entries beyond them go, NULL for the default */
    char *point_name;
    int consistency;
    char *meta;
    size_t meta_len;
    new_disk *disks;
    size_t ndisks, capdisks;
    new_file *cfiles;
    size_t nfiles, capfiles;
    int files_given; /* config files were set for this point (maybe none) */
    codec_ctx *codec;
    pool *workers;      /* hash and compress blocks in parallel */
    codec_ctx **worker_codecs; /* one per pool thread */
    unsigned char *buf; /* record being written */
    size_t bufcap;
    const vmrp_key *signer; /* signs the commit when set */
    const vmrp_key *trusted; /* every commit appended to must be signed by it */
    unsigned char pinned_collection_key[KEY_SIZE]; /* for a keyless append */
    int collection_key_pinned;
    /* Encryption: what was asked, and the keys in use. */
    int encrypt_new;          /* make a new collection encrypted */
    keys_slots slots;         /* its key slots */
    char *passphrase;         /* sodium_malloc'd copy */
    const vmrp_key *identity;
    const vmrp_key **recipients;
    crypt_keys *crypt;        /* NULL when not encrypted; owned when own_crypt */
    int own_crypt;
    seg_keys *seg;            /* this segment's keys (in crypt) */
    const unsigned char *id_key; /* keys Block_Ids; NULL when not encrypted */
    vmrp_writer_stats stats;
    vmrp_progress_fn progress;
    void *progress_ctx;
    uint64_t progress_total;
    uint64_t progress_done;
};

/* INDEX entries held in memory (3 MiB); beyond them the writer appends
 * them to a temporary file in the archive's directory (spill.c). */
#define WRITER_INDEX_KEEP 65536u

/* For tests: hold at most `keep` INDEX entries in memory (0: the default)
 * and put the temporary file for the rest in `dir` (NULL: the archive's
 * directory, or $TMPDIR for a stream). Call before the first record. */
int writer_set_index_spill(vmrp_writer *w, size_t keep, const char *dir);
/* List a record just written in the segment's INDEX. */
int writer_index_add(vmrp_writer *w, const rec_ref *ref);

int writer_fail(vmrp_writer *w, int code, const char *fmt, ...) VMRP_PRINTF(3, 4);
/* Append bytes at w->pos, counting them; a failure names the offset. */
int writer_append_bytes(vmrp_writer *w, const void *buf, size_t len);
int writer_ready(vmrp_writer *w);
/* Compress (with `codec`), frame, hash, index and append one record. */
int writer_put_record(vmrp_writer *w, uint8_t type, int codec, const void *raw, size_t raw_len,
                      uint64_t *offset);
/* Build a record (header + payload, compressed when that helps) in out,
 * which holds RH_SIZE + codec_bound(raw_len) bytes. Thread-safe given its
 * own codec_ctx. Returns the record size, or a negative vmrp_error. */
long writer_build_record(codec_ctx *c, uint8_t type, int codec, int level, const void *raw,
                         size_t raw_len, int encrypt, unsigned char *out, size_t out_cap);
/* Bytes a built record of raw_len may take. */
size_t writer_record_bound(const vmrp_writer *w, size_t raw_len);
/* Encrypt a built record in place for where it goes (no-op when the
 * record type is not encrypted or the collection is not). */
void writer_seal(const vmrp_writer *w, unsigned char *rec, size_t len, uint64_t offset);
/* Whether records of this type are encrypted in this writer's archive. */
int writer_encrypts(const vmrp_writer *w, uint8_t type);
/* Index and append records already built: `len` bytes holding `count`
 * records back to back, whose sizes and hashes are given. */
int writer_append_built(vmrp_writer *w, uint8_t type, const unsigned char *recs, size_t len,
                        size_t count, const uint32_t *sizes,
                        const unsigned char (*hashes)[HASH_SIZE]);

#endif

/* vmrp_private.h - declarations shared by the library's source files only. */
#ifndef VMRP_PRIVATE_H
#define VMRP_PRIVATE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <blake3.h>
#include <sodium.h>

#include "format.h"
#include "vmrp.h"

#if defined(__GNUC__)
#define VMRP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VMRP_PRINTF(a, b)
#endif

/* ---- error.c: the error state every handle carries ---- */
typedef struct {
    int code;
    char message[512];
} vmrp_err;

/* Set code + printf-style message; returns code so callers can
 * `return err_set(...)`. A message that names nothing is not allowed:
 * every caller names the file, point, disk or field at fault. */
int err_set(vmrp_err *e, int code, const char *fmt, ...) VMRP_PRINTF(3, 4);
void err_clear(vmrp_err *e);

/* ---- io.c: whole reads and writes, locking, disk geometry, temporary files ---- */
int io_pread_full(int fd, void *buf, size_t len, uint64_t off); /* 0, or -errno; short = -EIO */
int io_read_full(int fd, void *buf, size_t len, size_t *got);  /* stops at EOF */
int io_write_full(int fd, const void *buf, size_t len);
int io_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
/* Start writing [off, off+len) back to the device now (a hint; Linux). */
void io_start_writeback(int fd, uint64_t off, size_t len);
int io_lock_exclusive(int fd);  /* 0, -EWOULDBLOCK when held elsewhere */
/* 1 when an append is in progress on the file open on fd, of which seen
 * bytes were read: a writer holds its lock, or it is no longer seen bytes
 * long (a writer finished meanwhile); else 0. */
int io_writer_active(int fd, uint64_t seen);
/* A new file "PATH.tmp.RANDOM" (its name in name[cap]) created exclusively
 * with mode (less the umask), never through an existing name or link:
 * a descriptor open for writing, or a negative errno. */
int io_temp_beside(const char *path, mode_t mode, char *name, size_t cap);
int io_sync(int fd);
int io_sync_parent(const char *path); /* make a new file's name durable */
/* The directory part of path ("." when it has none) into out. */
void io_parent_dir(const char *path, char *out, size_t cap);
/* Size of a regular file or block device, and its logical sector size. */
int io_disk_geometry(int fd, uint64_t *size, uint32_t *sector_size, int *is_blockdev);
/* Next data range at or after off: 0 with [*data_start, *data_end), or 1 at
 * end. Falls back to "everything is data" where SEEK_DATA is unsupported. */
int io_next_data(int fd, uint64_t off, uint64_t size, uint64_t *data_start, uint64_t *data_end);
/* File size of an open descriptor. */
int io_file_size(int fd, uint64_t *size);
/* $TMPDIR, else /tmp. */
const char *io_tmp_dir(void);
/* A temporary file without a name (O_TMPFILE), open for reading and
 * writing, in *dir (malloc'd); where the file system or permissions refuse
 * one there, in io_tmp_dir() (and *dir becomes that), else made with
 * mkostemp() and unlinked. The fd, or -errno. */
int io_tmpfile(char **dir);

/* ---- spill.c: a list of fixed-size entries, in memory up to `keep` of
 * them, beyond that in an anonymous temporary file (see spill.c) ---- */
typedef struct spill spill;
/* dir: where the file goes; NULL for $TMPDIR, else /tmp. NULL when out of
 * memory. The file is made only when the entries outgrow `keep`. */
spill *spill_new(size_t entry_size, size_t keep, const char *dir);
void spill_free(spill *s); /* closes the file, which frees its space */
/* Add one entry of entry_size bytes: 0, or -errno (the file could not be
 * made or written; -ENOMEM). */
int spill_append(spill *s, const void *entry);
int spill_append_n(spill *s, const void *entries, size_t count);
/* Copy entries first .. first+count-1 (held in memory or in the file) to
 * out: 0, -EINVAL when they are not all there, or -errno of the read. */
int spill_read(spill *s, uint64_t first, size_t count, void *out);
/* No entries; the file, if any, is emptied and kept. */
void spill_clear(spill *s);
uint64_t spill_count(const spill *s);
/* The directory of the file, or the one last tried (for messages). */
const char *spill_dir(const spill *s);
/* Hand every entry to fn in order, in runs of up to about 1 MiB. fn returns
 * 0 to go on; any other value stops the walk and is returned. A failed read
 * of the file returns -errno. */
typedef int (*spill_fn)(void *ctx, const unsigned char *entries, size_t count);
int spill_each(spill *s, spill_fn fn, void *ctx);

/* ---- hash.c: identities, ids ---- */
void hash_buf(unsigned char out[HASH_SIZE], const void *data, size_t len);
typedef crypto_generichash_state hash_state;
void hash_init(hash_state *st);
void hash_update(hash_state *st, const void *data, size_t len);
void hash_final(hash_state *st, unsigned char out[HASH_SIZE]);
void random_id(unsigned char id[ID_SIZE]);
int is_zero(const void *buf, size_t len);
int64_t now_us(void);

/* ---- hash_blake3.c: BLAKE3-256, the hash of format 1.3 (formats 1.0-1.2
 * hash with BLAKE2b, above); hash3_final() wipes the state ---- */
#define HASH3_KEY_SIZE 32u
typedef blake3_hasher hash3_state;
void hash3_buf(unsigned char out[HASH_SIZE], const void *data, size_t len);
/* Keyed mode: a 32-byte key. */
void hash3_keyed_buf(unsigned char out[HASH_SIZE], const unsigned char key[HASH3_KEY_SIZE],
                     const void *data, size_t len);
/* Derive-key mode: a key for context (a constant, NUL-terminated string
 * naming the key's use) from len bytes of key material. */
void hash3_derive_key(unsigned char out[HASH_SIZE], const char *context, const void *material,
                      size_t len);
void hash3_init(hash3_state *st);
void hash3_init_keyed(hash3_state *st, const unsigned char key[HASH3_KEY_SIZE]);
void hash3_init_derive(hash3_state *st, const char *context);
void hash3_update(hash3_state *st, const void *data, size_t len);
void hash3_final(hash3_state *st, unsigned char out[HASH_SIZE]);

/* ---- record.c: framing ---- */
typedef struct {
    uint8_t type;
    uint8_t codec;
    uint8_t flags;
    uint32_t stored_size;
    uint32_t raw_size;
} record_header;

void record_header_encode(unsigned char out[RH_SIZE], const record_header *h);
/* Checks magic, type, codec, flags, reserved byte and the per-type size
 * limits (block_size bounds BLOCK). Fills msg on failure. */
int record_header_decode(const unsigned char in[RH_SIZE], uint32_t block_size,
                         record_header *h, const char **why);
/* strict = 0 for files of a newer minor version: reserved fields are then
 * ignored (spec 3.3); must-understand values are refused either way. The
 * same holds for every *_ex decoder below. */
/* encrypted: the collection is; KEYS records and Record_Flags bit 0 are
 * then required where the spec says, and refused otherwise. */
int record_header_decode_ex(const unsigned char in[RH_SIZE], uint32_t block_size, int strict,
                            int encrypted, record_header *h, const char **why);
/* Record_Hash = hash(header || payload). */
void record_hash(unsigned char out[HASH_SIZE], const unsigned char header[RH_SIZE],
                 const void *payload, size_t len);

/* ---- codec.c ---- */
typedef struct codec_ctx codec_ctx;
codec_ctx *codec_new(void);
void codec_free(codec_ctx *c);
/* Compress src into dst (capacity dst_cap). Returns the codec actually used
 * (CODEC_NONE when compression would not shrink the data, with dst holding
 * a copy) and sets *dst_len; on failure a negative vmrp_error that
 * codec_error() explains: VMRP_E_NOMEM when the library ran out of memory,
 * VMRP_E_IO when it failed otherwise (neither is the input's fault), and
 * VMRP_E_USAGE when dst cannot hold a copy. With dst_cap at least
 * codec_bound(src_len), only the library can fail. */
int codec_compress(codec_ctx *c, int codec, int level, const void *src, size_t src_len,
                   void *dst, size_t dst_cap, size_t *dst_len);
/* The compression library's message for the last failure of c (a static
 * string, valid for the life of the process). */
const char *codec_error(const codec_ctx *c);
/* "zstd", "zlib" or "none" (a codec id stored in records). */
const char *codec_name(int codec);
/* Decompress exactly raw_len bytes; anything else is an error. */
int codec_decompress(codec_ctx *c, int codec, const void *src, size_t src_len, void *dst,
                     size_t raw_len);
size_t codec_bound(size_t src_len);
int codec_level_valid(int codec, int level);

/* ---- pool.c: worker threads ---- */
typedef struct pool pool;
/* fn(ctx, index, worker): worker is 0..pool_size()-1, for per-thread state. */
typedef void (*pool_fn)(void *ctx, size_t index, unsigned worker);
pool *pool_new(unsigned threads);
unsigned pool_default_threads(void); /* one per online processor */
unsigned pool_size(const pool *p);
void pool_for(pool *p, size_t n, pool_fn fn, void *ctx);
/* pool_for() in two halves: the workers start on fn at once; the caller
 * joins in pool_finish(), which returns when every index is done. One job
 * at a time: every pool_start() is followed by its pool_finish(). */
void pool_start(pool *p, size_t n, pool_fn fn, void *ctx);
void pool_finish(pool *p);
void pool_free(pool *p);

/* ---- blockmap.c: identity -> record offset (dedup), a bounded cache ---- */
typedef struct blocktab blocktab;
/* A table that never takes more than max_bytes (at least 40 KiB); past
 * that, new ids replace old ones. */
blocktab *blocktab_new(size_t max_bytes);
void blocktab_free(blocktab *t);
int blocktab_put(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset);
/* Room for n entries without growing: sized once, the table is never held
 * twice over while it doubles. */
int blocktab_reserve(blocktab *t, size_t n);
uint64_t blocktab_get(const blocktab *t, const unsigned char id[HASH_SIZE]); /* 0 = absent */
/* Replace the offset of an id already in the table. */
void blocktab_set(blocktab *t, const unsigned char id[HASH_SIZE], uint64_t offset);
uint64_t blocktab_evicted(const blocktab *t); /* ids dropped to stay in bounds */
size_t blocktab_bytes(const blocktab *t);     /* the table's size now */

/* One resolved or recorded map entry. */
typedef struct {
    uint64_t block;
    uint64_t record; /* 0 = zero block */
    unsigned char id[HASH_SIZE];
} map_entry;

/* ---- json.c ---- */
int json_validate(const char *text, size_t size, int want_object, size_t *err_offset);

/* UTF-8 without control characters: safe to print and to put in JSON. */
int text_valid(const char *text, size_t size);

/* ---- names.c ---- */
int name_point_valid(const char *name, size_t len);
int name_disk_valid(const char *name, size_t len);
int name_config_valid(const char *name, size_t len);

/* ---- reader internals shared with the writer and verify ---- */
typedef struct {
    uint64_t offset;
    uint32_t size;
    uint16_t segment; /* 0-based segment (point) index, set by the reader */
    uint8_t type;
    unsigned char hash[HASH_SIZE];
    uint8_t no_hash; /* 1: hash was not kept (rectab.c); the record is
                        checked by what it decodes to */
} rec_ref;

/* ---- hashidx.c: short byte strings (names, ids) to 32-bit values, in
 * constant time per lookup whatever the input (see hashidx.c) */
typedef struct hashidx_s hashidx;
hashidx *hashidx_new(void);
void hashidx_free(hashidx *h);
/* 1 and *value when key is there, else 0. */
int hashidx_find(const hashidx *h, const void *key, size_t len, uint32_t *value);
/* Add key, or give it a new value: VMRP_OK or VMRP_E_NOMEM. */
int hashidx_put(hashidx *h, const void *key, size_t len, uint32_t value);

/* ---- familytab.c: disk names and Family_Ids across a collection ---- */
typedef struct {
    char name[DISK_NAME_MAX + 1];
    unsigned char family[ID_SIZE];
    uint32_t point; /* its newest point (index from 0) */
    uint32_t disk;  /* its disk entry there */
    uint32_t last_included; /* for the verifier: its newest included point */
    int included;           /* it has one */
} family_entry;
typedef struct familytab_s familytab;
familytab *familytab_new(void);
void familytab_free(familytab *t);
/* The entry of an earlier point that a disk named `name` of family
 * `family` breaks the rule with, or NULL: *differs is 1 when the name is
 * that entry's with another Family_Id, 0 when the Family_Id is that
 * entry's under another name. may_restart: the disk may start a new
 * family under a name that had another (FULL or EXCLUDED disks of an
 * encrypted collection). */
const family_entry *familytab_check(const familytab *t, const char *name,
                                    const unsigned char *family, int may_restart, int *differs);
/* Make the disk the newest entry of its family and its name; NULL when
 * out of memory. Call after familytab_check() passed. */
family_entry *familytab_add(familytab *t, const char *name, const unsigned char *family,
                            uint32_t point, uint32_t disk);

/* ---- offlist.c: entries that start with a uint64_t offset, pushed in
 * increasing order and found by offset, in bounded memory (see offlist.c) */
typedef struct offlist offlist;
/* Entries of `each` bytes; up to `keep` of them held in memory, the rest in
 * a temporary file in $TMPDIR. NULL when out of memory. */
offlist *offlist_new(size_t each, size_t keep);
void offlist_free(offlist *l);
/* 0; -EINVAL when the offset does not follow the last; -errno (the
 * temporary file could not be made or written; -ENOMEM). */
int offlist_push(offlist *l, const void *entry);
/* *found: the entry at offset off, or NULL; valid until the next call.
 * Returns 0, or -errno when the temporary file could not be read. */
int offlist_find(offlist *l, uint64_t off, const void **found);
uint64_t offlist_count(const offlist *l);
void offlist_clear(offlist *l); /* no entries; the file, if any, is emptied */
const char *offlist_dir(const offlist *l); /* of the temporary file */

/* ---- rectab.c: the reader's records by offset, read back from the
 * archive's INDEX records a page at a time (see rectab.c) ---- */
typedef struct rectab rectab;
rectab *rectab_new(int fd); /* fd: the archive, read for pages of entries */
void rectab_free(rectab *t);
/* Room for `more` records without growing. */
int rectab_reserve(rectab *t, size_t more);
/* Add the next record (offsets increasing; records of one segment tile
 * it), listed by the INDEX entry at archive offset entry_pos, which must
 * hold the same fields when it is read back. VMRP_E_CORRUPT when out of
 * order. */
int rectab_add(rectab *t, const rec_ref *ref, uint64_t entry_pos);
/* 1 and *out (no_hash set) when a record starts at offset, 0 when none
 * does, or the VMRP_E_* code (negative) when its entries could not be read
 * back or changed since they were added (rectab_why() says which). */
int rectab_find(rectab *t, uint64_t offset, rec_ref *out);
uint64_t rectab_count(const rectab *t);
/* Record i in offset order, as rectab_find(). */
int rectab_get(rectab *t, uint64_t i, rec_ref *out);
const char *rectab_why(const rectab *t); /* after a failure */

/* ---- crypt.c: encrypted collections ---- */
typedef struct {
    unsigned char data_key[KEY_SIZE]; /* encrypts the segment's records */
    unsigned char id_key[KEY_SIZE];   /* keys Block_Id and Content_Hash */
} seg_keys;

/* Allocated whole in sodium_malloc'd memory. */
typedef struct {
    unsigned char collection_id[ID_SIZE];
    unsigned char collection_pk[KEY_SIZE];
    unsigned char *collection_sk; /* valid when unlocked */
    int unlocked;
    seg_keys *segs; /* one per segment, capsegs allocated */
    size_t nsegs, capsegs;
} crypt_keys;

/* What a new collection's first KEYS record wraps its secret in. */
typedef struct {
    const char *passphrase;
    uint64_t opslimit, memlimit;
    const vmrp_key *const *recipients;
    size_t recipient_count;
} keys_slots;

crypt_keys *crypt_new(const unsigned char collection_id[ID_SIZE], size_t segments);
void crypt_free(crypt_keys *ck);
/* Block_Id / Content_Hash: BLAKE2b-256, keyed when id_key is not NULL. */
void id_hash(unsigned char out[HASH_SIZE], const void *data, size_t len,
             const unsigned char *id_key);
/* rec: header (flags, sizes final) || 24 free bytes || encoded payload ||
 * 16 free bytes; encrypted in place, bound to offset and header. */
int crypt_seal_record(const unsigned char collection_id[ID_SIZE],
                      const unsigned char data_key[KEY_SIZE], uint64_t offset, unsigned char *rec,
                      size_t rec_len);
/* Decrypts in place: the encoded payload is then at rec + RH_SIZE + 24,
 * rec_len - RH_SIZE - 40 bytes. VMRP_E_CORRUPT when the tag fails. */
int crypt_open_record(const unsigned char collection_id[ID_SIZE],
                      const unsigned char data_key[KEY_SIZE], uint64_t offset, unsigned char *rec,
                      size_t rec_len);
/* Structure of a KEYS payload (sizes, slot count, types, KDF bounds). */
int keys_check(const unsigned char *p, size_t len, int first_segment, int strict, const char **why);
size_t keys_size(size_t slots);
/* Build a KEYS payload of keys_size(slots) bytes; slots NULL for none. */
int keys_build(unsigned char *out, const crypt_keys *ck, const seg_keys *sk,
               uint64_t segment_offset, const keys_slots *slots);
/* Unwrap the collection secret from a checked first KEYS payload with an
 * identity or passphrase. VMRP_E_KEY when no slot opens (*tried counts the
 * slots that were tried), VMRP_E_CORRUPT when one opens to a wrong key. */
int keys_unlock(const unsigned char *p, crypt_keys *ck, const vmrp_key *identity,
                const char *passphrase, int *tried);
/* Open a segment's sealed keys with the unlocked collection secret. */
int keys_open_segment(const unsigned char *p, const crypt_keys *ck, uint64_t segment_offset,
                      seg_keys *out);
void keys_slot_info(const unsigned char *p, uint32_t i, vmrp_key_slot_info *out);
/* Unwrap the collection secret from the first KEYS payload `keys` (checked)
 * with the identity, then with a passphrase from ask when the archive has a
 * passphrase slot. On failure sets err with a message naming the slots. */
int crypt_unlock(vmrp_err *err, const char *label, const unsigned char *keys, crypt_keys *ck,
                 const vmrp_key *identity, vmrp_passphrase_fn ask, void *ctx);

/* ---- index.c ---- */
/* (declared after commit_info below) */

typedef struct {
    uint32_t map_count;
    uint64_t *map_offsets;
} disk_meta;

typedef struct {
    vmrp_point_info info;
    disk_meta *disk_meta;
    vmrp_disk_info *disks;
    vmrp_config_file_info *files;
    uint64_t *file_records;
    unsigned char (*file_hashes)[HASH_SIZE];
    char *strings; /* owns name, metadata and the names of disks and files */
    uint64_t segment_offset; /* where the point's segment starts */
    uint64_t index_offset;   /* where its index starts */
} point_meta;

/* Parse a decoded POINT payload. Every count, size and name is checked.
 * On failure returns VMRP_E_CORRUPT with *why set to the field at fault. */
int point_parse(const unsigned char *p, size_t len, point_meta *out, const char **why);
int point_parse_ex(const unsigned char *p, size_t len, int strict, point_meta *out,
                   const char **why);
void point_meta_clear(point_meta *m);
/* The index of the disk named `name` in the point, or -1. */
int point_find_disk(const point_meta *pm, const char *name);
/* Blocks of a disk of `size` bytes: the last one may be partial. */
static inline uint64_t block_count(uint64_t size, uint32_t block_size)
{
    return size / block_size + (size % block_size != 0);
}

/* ---- commit.c: file header and COMMIT record ---- */
typedef struct {
    uint32_t sequence;
    uint32_t point_count;
    uint64_t commit_offset;
    uint64_t segment_offset;
    uint64_t index_offset;
    uint64_t index_size;
    unsigned char index_hash[HASH_SIZE];
    uint64_t prev_offset;
    unsigned char prev_hash[HASH_SIZE];
    unsigned char header_hash[HASH_SIZE];
    int64_t time_us;
    uint64_t flags;
    unsigned char key_id[KEY_ID_SIZE];
    unsigned char signature[SIGNATURE_SIZE];
    unsigned char hash[HASH_SIZE]; /* Commit_Hash, filled by commit_decode */
} commit_info;

/* Walking an INDEX payload piece by piece (index.c): begin with its
 * header and whole payload length, then each entry in order, then end. */
typedef struct {
    const commit_info *c;
    int strict;
    uint32_t count; /* Entry_Count */
    uint32_t seen;
    uint64_t expect; /* where the next entry must start */
    int points;
    uint64_t point_offset;
} index_walk;
int index_walk_begin(index_walk *w, const unsigned char hdr[IX_HEADER_SIZE], uint64_t len,
                     const commit_info *c, int strict, const char **why);
int index_walk_entry(index_walk *w, const unsigned char e[IX_ENTRY_SIZE], rec_ref *out,
                     const char **why);
int index_walk_end(const index_walk *w, const char **why);

/* An INDEX record taken as it is read, in pieces of any size (a header or
 * entry cut between two pieces is gathered): its entries are walked and
 * handed to fn, and the record is hashed. The first problem of structure
 * stops the walk, not the hashing; index_stream_end() returns it (NULL
 * when the INDEX holds) after the whole payload, with the Record_Hash, so
 * that the caller ranks it against what else it checks. */
typedef struct {
    commit_info c; /* the segment and index offsets the entries must tile */
    int strict;
    index_walk walk;
    uint64_t len;   /* the payload's length */
    uint64_t taken; /* payload bytes taken */
    unsigned char unit[IX_ENTRY_SIZE];
    size_t nunit;
    const char *why;
    hash_state hs;
} index_stream;
/* Entry i, checked; a non-zero return stops index_stream_feed() with it. */
typedef int (*index_entry_fn)(void *ctx, const rec_ref *entry, uint32_t i);
void index_stream_init(index_stream *s, const unsigned char header[RH_SIZE], uint64_t len,
                       const commit_info *c, int strict);
int index_stream_feed(index_stream *s, const unsigned char *p, size_t n, index_entry_fn fn,
                      void *ctx);
/* 1 once the 16-byte Index_Header has been taken and holds (walk.count). */
int index_stream_header_read(const index_stream *s);
const char *index_stream_end(index_stream *s, unsigned char hash[HASH_SIZE]);

/* Decode a whole INDEX payload and check that its entries tile
 * [c->segment_offset, c->index_offset) with exactly one POINT record. */
int index_parse(const unsigned char *p, size_t len, const commit_info *c, rec_ref **out,
                size_t *count, uint64_t *point_offset, const char **why);

/* Parse a file header; checks magic, version, features, hash. */
int header_parse(const unsigned char in[FH_SIZE], vmrp_collection_info *info, const char **why);
void header_encode(unsigned char out[FH_SIZE], const unsigned char collection_id[ID_SIZE],
                   uint32_t block_size, uint32_t max_points, int64_t time_us);
/* With Incompat_Features: minor version 2 when any is set, else 1. */
void header_encode_ex(unsigned char out[FH_SIZE], const unsigned char collection_id[ID_SIZE],
                      uint32_t block_size, uint32_t max_points, int64_t time_us, uint64_t incompat);
void commit_hash(const unsigned char rec[CM_RECORD_SIZE], unsigned char out[HASH_SIZE]);
void commit_encode(unsigned char rec[CM_RECORD_SIZE], const commit_info *c);
/* Decode and check the commit found at file offset `at` (its own fields;
 * links to other records are checked by the callers). */
int commit_decode(const unsigned char rec[CM_RECORD_SIZE], uint64_t at, commit_info *c,
                  const char **why);
int commit_decode_ex(const unsigned char rec[CM_RECORD_SIZE], uint64_t at, int strict,
                     commit_info *c, const char **why);

struct vmrp_reader_s {
    vmrp_err err;
    int fd;
    int own_fd;
    char *label;
    vmrp_collection_info coll;
    unsigned char header[FH_SIZE];
    point_meta *points;
    uint32_t npoints;
    rectab *table;  /* every committed record, sorted by offset */
    int find_failed; /* VMRP_E_* of reader_find_record()'s last call, or 0 */
    rec_ref *recs;  /* every committed record but BLOCKs, with its hash */
    size_t nrecs, caprecs;
    size_t nblocks; /* BLOCK records in table */
    codec_ctx *codec;
    int strict; /* the file's minor version is not newer than ours */
    const vmrp_key *pubkey; /* when set, every commit must be signed by it */
    unsigned verify_flags;  /* VMRP_VERIFY_* */
    size_t verify_keep;     /* tests: verify's lists held in memory; 0: the defaults */
    size_t chain_budget;    /* tests: bytes of decoded maps a chain holds; 0: the default */
    crypt_keys *crypt;      /* encrypted collections (unlocked or not) */
    unsigned char *keys_first; /* the first KEYS payload: the key slots */
    const vmrp_key *identity;  /* opens an encrypted collection */
    vmrp_passphrase_fn ask;
    void *ask_ctx;
    int keyless_ok;         /* a writer appending without the key: open the
                               chain only, no points */
    uint64_t head_offset;   /* Commit_Offset of the last commit */
    vmrp_progress_fn progress;
    void *progress_ctx;
};

/* ---- keys.c: what the writer and the verifier need of a key ---- */
const unsigned char *key_keynum(const vmrp_key *k);
int key_sign_commit(const vmrp_key *k, const unsigned char hash[HASH_SIZE],
                    unsigned char sig[SIGNATURE_SIZE]);
/* 1 when sig is k's signature of the commit with this Commit_Hash. */
int key_verify_commit(const vmrp_key *k, const unsigned char hash[HASH_SIZE],
                      const unsigned char sig[SIGNATURE_SIZE]);
/* X25519 halves of an encryption key: NULL unless k is one (and, for the
 * secret, holds its secret half). */
const unsigned char *key_box_public(const vmrp_key *k);
const unsigned char *key_box_secret(const vmrp_key *k);
/* Check a decoded commit against the reader's public key, if one is set.
 * Returns NULL when it passes, else what is wrong. */
const char *commit_signature_problem(const vmrp_key *pubkey, const commit_info *c, char *buf,
                                     size_t len);

/* Locate a committed record by offset: fills *out and returns out, or
 * NULL when no record starts there. A BLOCK record comes without its hash
 * (no_hash); every other record with it. NULL with r->find_failed set (and
 * r->err) when the table could not be read back from the archive. */
const rec_ref *reader_find_record(vmrp_reader *r, uint64_t offset, rec_ref *out);
/* Read, authenticate (Record_Hash) and decode one committed record into a
 * malloc'd buffer of its Raw_Size. `what` names it in messages. */
int reader_load_record(vmrp_reader *r, const rec_ref *ref, uint8_t want_type,
                       unsigned char **out, size_t *out_len, const char *what);
/* Check a record's bytes (already read) against its index entry, decrypt
 * them in place when encrypted, and decode them into out (raw_cap bytes).
 * ck: the collection's keys when it is encrypted, else NULL. Thread-safe
 * given its own codec. Returns NULL, or what is wrong. */
const char *record_check_decode(codec_ctx *codec, const crypt_keys *ck, const rec_ref *ref,
                                unsigned char *bytes, uint8_t want_type, uint32_t block_size,
                                int strict, unsigned char *out, size_t raw_cap);
/* The same without the Record_Hash check: for BLOCK records whose decoded
 * bytes are then checked against an authenticated Block_Id (spec 7.1). */
const char *record_decode(codec_ctx *codec, const crypt_keys *ck, const rec_ref *ref,
                          unsigned char *bytes, uint8_t want_type, uint32_t block_size,
                          int strict, unsigned char *out, size_t raw_cap);
/* The Id_Key of point index k of an encrypted collection, else NULL. */
const unsigned char *reader_id_key(const vmrp_reader *r, uint32_t k);
/* Same, into a caller buffer of exactly raw_cap bytes (block reads). */
int reader_load_record_into(vmrp_reader *r, const rec_ref *ref, uint8_t want_type,
                            unsigned char *scratch, size_t scratch_cap, unsigned char *out,
                            size_t raw_cap, const char *what);
/* ---- chain.c: a disk at a point, resolved as a stream ---- */
typedef struct chain_s map_chain;
/* Resolve disk `name` at point index pi (which must include it, else
 * VMRP_E_NOT_FOUND): chain_next() then gives its entries in block order,
 * zero entries dropped. With `validate`, every MAP record along the chain
 * is read and checked first, so damage anywhere fails the open. Memory:
 * one decoded MAP record per point of the chain. */
int chain_open(vmrp_reader *r, uint32_t pi, const char *name, int validate, map_chain **out);
/* The disk at its latest included point (the writer's "previous"): *out
 * NULL when no point includes it. *latest is its newest entry, even
 * excluded; *included the entry that was resolved (NULL when none). */
int chain_open_latest(vmrp_reader *r, const char *name, int validate, map_chain **out,
                      const vmrp_disk_info **latest, const vmrp_disk_info **included);
/* The next resolved entry: *have 1, or 0 at the end (also for a NULL
 * chain). An error (a record that changed since it was checked) ends it. */
int chain_next(map_chain *c, map_entry *out, int *have);
void chain_free(map_chain *c);
/* Every entry of the maps of disk d of point k, checked, in order, to fn
 * (which stops the walk by returning non-zero). */
int map_walk(vmrp_reader *r, uint32_t k, uint32_t d, int (*fn)(void *ctx, const map_entry *e),
             void *ctx);
/* The whole resolved map of a disk, through chain_open() (for tests). */
int reader_resolve_disk(vmrp_reader *r, uint32_t pi, const char *name, map_entry **out,
                        size_t *count);
/* Put every stored block of the collection into t (for deduplication);
 * in an encrypted collection only those of points whose Id_Key is id_key. */
int reader_collect_blocks(vmrp_reader *r, blocktab *t, const unsigned char *id_key);
/* A read of the archive failed at off: VMRP_E_IO naming the archive, the
 * offset and the OS error (reader.c). */
int reader_read_failed(vmrp_reader *r, int neg_errno, uint64_t off);
int reader_open_internal(vmrp_reader *r, int fd, const char *label, uint64_t *torn_bytes);

#endif

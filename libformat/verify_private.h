/* verify_private.h - verify's state, shared by verify*.c only.
 *
 * Calls go one way: the walk (verify.c) calls the checks of POINT records
 * (verify_point.c) and of BLOCK records (verify_batch.c); all three call
 * the shared helpers of verify_state.c, which call none of them. */
#ifndef VMRP_VERIFY_PRIVATE_H
#define VMRP_VERIFY_PRIVATE_H

#include "vmrp_private.h"

/* What verify keeps of a hash until it is compared (a Block_Id until the
 * maps that name the block, a Record_Hash until the segment's INDEX): a
 * 14-byte fingerprint, SipHash-128 of it keyed with a secret drawn for this
 * run. A hash that differs then passes only with probability 2^-112,
 * however the archive was made (the key never leaves this process), and a
 * block takes 24 bytes instead of 56. SipHash, not BLAKE2b: verify takes a
 * few fingerprints per block on its serial path, and SipHash of 32 bytes
 * costs a fraction of a BLAKE2b call. */
#define FP_SIZE 14
typedef unsigned char fp_key[crypto_shorthash_siphashx24_KEYBYTES];

/* A config file checked so far, for the points that name it. */
typedef struct {
    uint64_t offset; /* first: an offlist entry */
    unsigned char id[HASH_SIZE];
    uint64_t size;    /* FILE: content size */
    uint32_t segment; /* whose Id_Key made id */
} known;

/* A BLOCK record checked so far, for the maps that name it. */
typedef struct {
    uint64_t offset; /* first: an offlist entry */
    unsigned char fp[FP_SIZE];
    uint16_t segment; /* whose Id_Key made its Block_Id */
} known_block;

/* A segment's MAP records wait for its POINT record as stored bytes, not
 * decoded: a few hundred stored bytes can decode to 3 MiB, and memory must
 * follow the input, not what it claims to expand to. */
typedef struct {
    uint64_t offset; /* first: an offlist entry */
    uint64_t at;     /* where its stored bytes start in map_bytes */
    uint64_t stored_len;
    uint64_t len; /* decoded */
    uint8_t codec;
} seg_map;

/* A record of the segment being read: its offset follows from the sizes
 * before it, since records tile the segment. */
typedef struct {
    uint32_t size;
    uint8_t type;
    unsigned char fp[FP_SIZE]; /* of its Record_Hash */
} seg_record;

/* Only verify_point.c looks inside these; the state holds arrays of them. */
typedef struct map_ref map_ref;
/* Only verify_batch.c looks inside it; a batch holds arrays of them. */
typedef struct vblock vblock;

/* A batch being checked by the workers. */
typedef struct vbatch vbatch;
typedef struct {
    vbatch *vb;
    vblock *b;
    unsigned char *buf;
    size_t n;
} vjob;

/* Two sets of batch buffers alternate: while the workers check a full
 * batch, the caller reads the next records into the other set. */
struct vbatch {
    vblock *b;          /* the batch being filled */
    size_t n;
    unsigned char *buf;
    size_t used;
    vblock *b_other;    /* the other set: in flight, or free */
    unsigned char *buf_other;
    vjob job;
    int in_flight;
    pool *workers;
    codec_ctx **codecs;
    unsigned char **raw; /* one block buffer per worker */
    uint32_t block_size;
    const crypt_keys *ck; /* encrypted collections */
    const seg_keys *seg;  /* the segment's keys; NULL: hashes only (no key) */
    int quick;            /* VMRP_VERIFY_QUICK: hashes only, for every block */
};

/* One run of verify: what the walk must remember for later records, which
 * the checks of POINT and BLOCK records read and add to. */
typedef struct {
    vmrp_reader *r;
    const char *label;
    vbatch batch;
    vmrp_verify_report *rep;
    uint32_t block_size;
    int strict;
    unsigned char header_hash[HASH_SIZE];
    fp_key key;       /* of the fingerprints */
    offlist *blocks;  /* of known_block */
    offlist *files;   /* of known */
    spill *seg;       /* of seg_record: the segment's records so far, for its INDEX */
    uint64_t seg_end; /* where the last of them ends */
    offlist *maps;    /* of seg_map: the segment's MAP records */
    spill *map_bytes; /* the segment's MAP records as stored */
    unsigned char *stored; /* one of them, read back */
    size_t stored_cap;
    map_ref *refs;    /* one decoded map's entries that name a record */
    size_t caprefs;
    point_meta point;
    int have_point;
    uint64_t point_offset;
    commit_info last;
    uint32_t points;
    uint64_t segment_start;
    hashidx *names;      /* point name -> index */
    familytab *families; /* the disks' names and families */
    codec_ctx *codec;
    unsigned char *payload, *raw;
    size_t payload_cap, raw_cap;
    int encrypted;
    unsigned char collection_id[ID_SIZE];
    uint32_t max_points;
    crypt_keys *ck;  /* segs[k]: keys of segment k once the collection opened */
    int seg_keys;    /* this segment's keys are open: its contents are checked */
    /* A key record that does not open is reported once its segment's index
     * has vouched for its bytes: damage must not pass for a wrong key. */
    int deferred_rc;
    char deferred_msg[512];
} vstate;

/* ---- verify_state.c: what the checks share; it calls none of them ---- */
/* The FP_SIZE bytes of hash that are kept: SipHash-128 under v->key. */
void verify_fingerprint(const fp_key key, const unsigned char hash[HASH_SIZE],
                        unsigned char fp[FP_SIZE]);
/* Damage: every message names the point and offset at fault, and the
 * report keeps both. Returns VMRP_E_CORRUPT. */
int verify_bad(vstate *v, uint64_t off, const char *fmt, ...) VMRP_PRINTF(3, 4);
/* Buffers grow to the largest record seen and are reused for the next;
 * VMRP_E_NOMEM leaves *buf as it was. */
int verify_grow(unsigned char **buf, size_t *cap, size_t want);
/* A temporary file of verify's lists could not be made, written or read
 * (rc: -errno): an I/O error of this machine, not damage. */
int verify_tmp_failed(vstate *v, int rc, const char *dir);
/* Book a record of the segment for its INDEX; records must come in file
 * order, so a BLOCK record is booked once its batch is checked. */
int verify_push_seg(vstate *v, uint64_t off, uint32_t size, uint8_t type,
                    const unsigned char hash[HASH_SIZE]);

/* ---- verify_point.c ---- */
/* Check the POINT record just parsed into v->point against the segment's
 * MAP records, the blocks and files seen, and earlier points. */
int verify_check_point(vstate *v);

/* ---- verify_batch.c ---- */
/* The workers and both sets of buffers. On failure (VMRP_E_NOMEM) what
 * was made is still for verify_batch_free(). */
int verify_batch_init(vbatch *vb, uint32_t block_size);
/* Waits for a batch still in flight: its buffers are the workers'. */
void verify_batch_free(vbatch *vb);
/* Queue the BLOCK record read into v->payload; a full batch goes to the
 * workers. */
int verify_queue_block(vstate *v, uint64_t off, const record_header *h);
/* Before any record but a BLOCK: the segment's records are booked in file
 * order, and a queued BLOCK record lies before it. */
int verify_flush_blocks(vstate *v);
/* Wait for the batch in flight, if any, and book it: its records lie before
 * anything read since, so its errors come first. */
int verify_land_blocks(vstate *v);

#endif

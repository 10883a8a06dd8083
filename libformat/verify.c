/* verify.c - sequential verification of a whole archive (a file or a pipe).
 *
 * Records are hashed as they pass; a segment's hashes are checked when its
 * INDEX arrives, and the index when its COMMIT arrives. Every BLOCK is
 * decompressed and hashed, so every map entry is checked against the data
 * it names. Nothing is seeked, so the same pass serves files, pipes and
 * tapes.
 *
 * What must be remembered for later records (every block, for the maps
 * that name it; the segment's records, for its INDEX; its MAP records, for
 * its POINT) is held in memory up to a bound and beyond it in temporary
 * files in $TMPDIR, so memory does not grow with the archive.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmrp_private.h"

typedef struct {
    int fd;
    unsigned char *buf;
    size_t cap, start, end;
    uint64_t pos; /* stream offset of buf[start] */
    int eof;
} stream;

/* Read exactly n bytes; returns 1 at a clean end before any byte, 2 when
 * the stream ends inside, 0 on success, negative errno on error. */
static int stream_read(stream *s, unsigned char *out, size_t n)
{
    size_t done = 0;
    while (done < n) {
        if (s->start == s->end) {
            if (s->eof)
                return done == 0 ? 1 : 2;
            size_t got = 0;
            int rc = io_read_full(s->fd, s->buf, s->cap, &got);
            if (rc)
                return rc;
            s->start = 0;
            s->end = got;
            if (got < s->cap)
                s->eof = 1;
            if (got == 0)
                continue;
        }
        size_t take = s->end - s->start;
        if (take > n - done)
            take = n - done;
        memcpy(out + done, s->buf + s->start, take);
        s->start += take;
        s->pos += take;
        done += take;
    }
    return 0;
}

/* Keep the last 8 bytes of what was read (have: how many are kept). */
static void keep_last8(unsigned char last[8], size_t *have, const unsigned char *p, size_t n)
{
    if (n >= 8) {
        memcpy(last, p + n - 8, 8);
        *have = 8;
    } else {
        size_t keep = *have + n > 8 ? 8 - n : *have;
        memmove(last, last + *have - keep, keep);
        memcpy(last + keep, p, n);
        *have = keep + n;
    }
}

/* Read to the end of the stream; report whether it ends with End_Magic,
 * the last bytes of every complete commit. */
static int stream_ends_with_commit(stream *s, uint64_t *total)
{
    unsigned char last[8] = {0}, chunk[4096];
    size_t have = 0;
    for (;;) {
        size_t want = sizeof chunk, got = 0;
        /* stream_read wants exact sizes; take what the buffer holds. */
        if (s->start == s->end && !s->eof) {
            int rc = io_read_full(s->fd, s->buf, s->cap, &got);
            if (rc)
                break;
            s->start = 0;
            s->end = got;
            if (got < s->cap)
                s->eof = 1;
        }
        size_t n = s->end - s->start;
        if (n == 0)
            break;
        if (n > want)
            n = want;
        memcpy(chunk, s->buf + s->start, n);
        s->start += n;
        s->pos += n;
        keep_last8(last, &have, chunk, n);
    }
    *total = s->pos;
    return have == 8 && memcmp(last, CM_END_MAGIC, 8) == 0;
}

/* Beyond these, verify's lists go to temporary files: every BLOCK and FILE
 * record (24 and 56 bytes each), the segment's records (20 bytes each),
 * its MAP records as stored and where each of them is (40 bytes each; a
 * hostile segment may hold millions of empty ones). Lookups of blocks are
 * sorted per map, so each page of the file is read once per map at most. */
#define KEEP_BLOCKS (256u << 10)
#define KEEP_RECORDS (256u << 10)
#define KEEP_MAP_BYTES (8u << 20)
#define KEEP_MAPS (16u << 10)

/* A config file checked so far, for the points that name it. */
typedef struct {
    uint64_t offset; /* first: an offlist entry */
    unsigned char id[HASH_SIZE];
    uint64_t size;    /* FILE: content size */
    uint32_t segment; /* whose Id_Key made id */
} known;

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

static void fingerprint(const fp_key key, const unsigned char hash[HASH_SIZE],
                        unsigned char fp[FP_SIZE])
{
    unsigned char h[crypto_shorthash_siphashx24_BYTES];
    crypto_shorthash_siphashx24(h, hash, HASH_SIZE, key);
    memcpy(fp, h, FP_SIZE);
}

/* A BLOCK record checked so far, for the maps that name it. */
typedef struct {
    uint64_t offset; /* first: an offlist entry */
    unsigned char fp[FP_SIZE];
    uint16_t segment; /* whose Id_Key made its Block_Id */
} known_block;

/* A map entry that names a BLOCK record: entries of one MAP record are
 * looked up in record order, not block order. */
typedef struct {
    uint64_t record;
    uint32_t entry;
} map_ref;

static int map_ref_cmp(const void *a, const void *b)
{
    const map_ref *x = a, *y = b;
    return x->record < y->record ? -1 : x->record > y->record;
}

/* A record of the segment being read: its offset follows from the sizes
 * before it, since records tile the segment. */
typedef struct {
    uint32_t size;
    uint8_t type;
    unsigned char fp[FP_SIZE]; /* of its Record_Hash */
} seg_record;

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

typedef struct {
    char name[DISK_NAME_MAX + 1];
    unsigned char family[ID_SIZE];
    uint32_t last_segment; /* of its newest included point */
    int included;          /* it has one */
    int newest;            /* the family its name has now */
} family;

/* BLOCK records wait here in a batch, so that hashing and decompressing
 * them (most of verify's work) runs on every core. */
#define VBATCH_BYTES (16u << 20)
#define VBATCH_MAX 1024u

typedef struct {
    uint64_t off;
    size_t at;  /* where the record's bytes start in the batch buffer */
    record_header h;
    unsigned char rec_hash[HASH_SIZE];
    unsigned char id[HASH_SIZE];
    int problem; /* 1: does not decompress, 2: all zero, 3: does not decrypt */
} vblock;

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
    char **names;
    uint32_t nnames; /* names allocated: points, plus one uncommitted */
    family *families;
    size_t nfamilies;
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

static int bad(vstate *v, uint64_t off, const char *fmt, ...) VMRP_PRINTF(3, 4);
static int bad(vstate *v, uint64_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    v->rep->error_offset = off;
    v->rep->error_point = v->points + 1;
    return err_set(&v->r->err, VMRP_E_CORRUPT, "%s: point %u, offset %llu: %s", v->label,
                   v->points + 1, (unsigned long long)off, msg);
}

static int grow(unsigned char **buf, size_t *cap, size_t want)
{
    if (want <= *cap)
        return VMRP_OK;
    unsigned char *bigger = realloc(*buf, want);
    if (!bigger)
        return VMRP_E_NOMEM;
    *buf = bigger;
    *cap = want;
    return VMRP_OK;
}

/* A temporary file of verify's lists could not be made, written or read. */
static int tmp_failed(vstate *v, int rc, const char *dir)
{
    if (rc == -ENOMEM)
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    return err_set(&v->r->err, VMRP_E_IO, "%s: verify's temporary file in %s: %s", v->label,
                   dir, strerror(-rc));
}

static void clear_segment(vstate *v)
{
    offlist_clear(v->maps);
    spill_clear(v->map_bytes);
    spill_clear(v->seg);
    v->seg_end = v->segment_start;
    if (v->have_point)
        point_meta_clear(&v->point);
    v->have_point = 0;
}


/* A reference from the current point to a record keyed with another
 * Id_Key (spec 5.1, 5.2). */
static int other_id_space(const vstate *v, uint32_t segment)
{
    return v->ck && sodium_memcmp(v->ck->segs[segment].id_key, v->ck->segs[v->points].id_key,
                                  KEY_SIZE) != 0;
}

/* Whether map entry e's BLOCK record is known, in this id space, and (in a
 * full verify) holds the block e's Block_Id names: 0 when it passes, else
 * the check that fails (*segment: the record's, for the message). */
enum { REF_MISSING = 1, REF_OTHER_SPACE, REF_MISMATCH };

static int check_ref(vstate *v, const unsigned char *e, uint64_t rec, uint32_t *segment, int *rc)
{
    const void *found;
    if ((*rc = offlist_find(v->blocks, rec, &found)) != 0)
        return 0;
    if (!found)
        return REF_MISSING;
    const known_block *k = found;
    *segment = k->segment;
    if (other_id_space(v, k->segment))
        return REF_OTHER_SPACE;
    unsigned char fp[FP_SIZE];
    if (!v->batch.quick) {
        fingerprint(v->key, e + ME_OFF_ID, fp);
        if (memcmp(fp, k->fp, FP_SIZE) != 0)
            return REF_MISMATCH;
    }
    return 0;
}

/* Check one MAP record of disk d (decoded in v->raw): order, bounds, and
 * that every entry names a block whose decoded bytes hash to its Block_Id.
 * The entries that name records are looked up sorted by record, so the
 * blocks' list is read forward, a page at a time; the problem reported is
 * still the first in entry order. */
static int check_map_entries(vstate *v, const seg_map *sm, const vmrp_disk_info *di,
                             uint64_t nblocks, int64_t *prev)
{
    size_t n = sm->len / MAP_ENTRY_SIZE;
    if (n > v->caprefs) {
        map_ref *bigger = realloc(v->refs, n * sizeof *bigger);
        if (!bigger)
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        v->refs = bigger;
        v->caprefs = n;
    }
    size_t nrefs = 0, first_bad = n;
    int sorted = 1, bad_kind = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *e = v->raw + i * MAP_ENTRY_SIZE;
        uint64_t block = le64_load(e + ME_OFF_BLOCK), rec = le64_load(e + ME_OFF_RECORD);
        if ((int64_t)block <= *prev || block >= nblocks) {
            first_bad = i;
            break;
        }
        *prev = (int64_t)block;
        if (rec == 0) {
            if (!is_zero(e + ME_OFF_ID, HASH_SIZE)) {
                first_bad = i;
                bad_kind = 1;
                break;
            }
            continue;
        }
        if (nrefs > 0 && rec < v->refs[nrefs - 1].record)
            sorted = 0;
        v->refs[nrefs++] = (map_ref){rec, (uint32_t)i};
    }
    if (!sorted)
        qsort(v->refs, nrefs, sizeof *v->refs, map_ref_cmp);
    size_t ref_bad = n;
    int ref_kind = 0;
    uint32_t ref_segment = 0;
    for (size_t r = 0; r < nrefs; r++) {
        if (v->refs[r].entry >= ref_bad)
            continue;
        uint32_t segment = 0;
        int rc = 0;
        int kind = check_ref(v, v->raw + (size_t)v->refs[r].entry * MAP_ENTRY_SIZE,
                             v->refs[r].record, &segment, &rc);
        if (rc)
            return tmp_failed(v, rc, offlist_dir(v->blocks));
        if (kind) {
            ref_bad = v->refs[r].entry;
            ref_kind = kind;
            ref_segment = segment;
        }
    }
    size_t i = ref_bad < first_bad ? ref_bad : first_bad;
    if (i == n)
        return VMRP_OK;
    const unsigned char *e = v->raw + i * MAP_ENTRY_SIZE;
    unsigned long long block = le64_load(e + ME_OFF_BLOCK), rec = le64_load(e + ME_OFF_RECORD);
    if (i == first_bad)
        return bad_kind ? bad(v, sm->offset, "disk %s: zero entry for block %llu has a Block_Id",
                              di->name, block)
                        : bad(v, sm->offset, "disk %s: map entry %zu: block %llu out of order "
                              "or beyond the disk", di->name, i, block);
    if (ref_kind == REF_MISSING)
        return bad(v, sm->offset, "disk %s: block %llu names offset %llu, not a BLOCK record",
                   di->name, block, rec);
    if (ref_kind == REF_OTHER_SPACE)
        return bad(v, sm->offset, "disk %s: block %llu names a block of another id space "
                   "(point %u's Id_Key)", di->name, block, ref_segment + 1);
    return bad(v, rec, "disk %s: block %llu: stored data does not match its Block_Id", di->name,
               block);
}

/* Check one disk's maps, in the order its point lists them. */
static int check_disk_map(vstate *v, uint32_t d)
{
    const vmrp_disk_info *di = &v->point.info.disks[d];
    const disk_meta *dm = &v->point.disk_meta[d];
    uint64_t nblocks = block_count(di->size_bytes, v->block_size);
    uint64_t seen = 0;
    int64_t prev = -1;
    for (uint32_t m = 0; m < dm->map_count; m++) {
        const void *found;
        int rc = offlist_find(v->maps, dm->map_offsets[m], &found);
        if (rc)
            return tmp_failed(v, rc, offlist_dir(v->maps));
        if (!found)
            return bad(v, v->point_offset, "disk %s: map %u names offset %llu, not a MAP record of this point",
                       di->name, m, (unsigned long long)dm->map_offsets[m]);
        seg_map sm;
        memcpy(&sm, found, sizeof sm);
        if (grow(&v->raw, &v->raw_cap, sm.len) || grow(&v->stored, &v->stored_cap, sm.stored_len))
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        rc = spill_read(v->map_bytes, sm.at, sm.stored_len, v->stored);
        if (rc)
            return tmp_failed(v, rc, spill_dir(v->map_bytes));
        if (codec_decompress(v->codec, sm.codec, v->stored, sm.stored_len, v->raw, sm.len) != VMRP_OK)
            return bad(v, sm.offset, "map record does not decompress to its Raw_Size");
        if ((rc = check_map_entries(v, &sm, di, nblocks, &prev)) != 0)
            return rc;
        seen += sm.len / MAP_ENTRY_SIZE;
    }
    if (seen != di->changed_blocks)
        return bad(v, v->point_offset, "disk %s: maps hold %llu entries, Changed_Blocks says %llu",
                   di->name, (unsigned long long)seen, (unsigned long long)di->changed_blocks);
    return VMRP_OK;
}

/* A Family_Id has one name; a name keeps the family it has now, unless a
 * FULL or EXCLUDED disk starts a new one; and a chain of deltas never crosses Id_Keys,
 * since its Block_Ids are compared and checked with one key. */
static int check_family(vstate *v, const vmrp_disk_info *di)
{
    family *mine = NULL;
    for (size_t f = 0; f < v->nfamilies; f++) {
        family *fa = &v->families[f];
        int same_name = strcmp(fa->name, di->name) == 0;
        int same_family = memcmp(fa->family, di->family_id, ID_SIZE) == 0;
        if ((same_family && !same_name) ||
            (same_name && fa->newest && !same_family &&
             !(v->encrypted && (di->full || di->excluded))))
            return bad(v, v->point_offset, "disk %s: %s disk %s of an earlier point", di->name,
                       same_name ? "Family_Id differs from" : "Family_Id is that of", fa->name);
        if (same_family)
            mine = fa;
    }
    if (!mine) {
        family *bigger = realloc(v->families, (v->nfamilies + 1) * sizeof *bigger);
        if (!bigger)
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
        v->families = bigger;
        mine = &bigger[v->nfamilies++];
        memset(mine, 0, sizeof *mine);
        snprintf(mine->name, sizeof mine->name, "%s", di->name);
        memcpy(mine->family, di->family_id, ID_SIZE);
    }
    for (size_t f = 0; f < v->nfamilies; f++)
        if (strcmp(v->families[f].name, di->name) == 0)
            v->families[f].newest = &v->families[f] == mine;
    if (di->excluded)
        return VMRP_OK;
    if (v->ck && mine->included && !di->full &&
        sodium_memcmp(v->ck->segs[mine->last_segment].id_key, v->ck->segs[v->points].id_key,
                      KEY_SIZE) != 0)
        return bad(v, v->point_offset,
                   "disk %s: a delta against point %u, whose Block_Ids are keyed otherwise "
                   "(the disk must be FULL)", di->name, mine->last_segment + 1);
    mine->included = 1;
    mine->last_segment = v->points;
    return VMRP_OK;
}

static int check_point(vstate *v)
{
    const vmrp_point_info *pi = &v->point.info;
    if (pi->sequence != v->points + 1 || pi->parent_sequence != v->points)
        return bad(v, v->point_offset, "Sequence %u / Parent_Sequence %u out of order",
                   pi->sequence, pi->parent_sequence);
    for (uint32_t k = 0; k < v->points && !v->encrypted; k++)
        if (strcmp(v->names[k], pi->name) == 0)
            return bad(v, v->point_offset, "name '%s' is also point %u's", pi->name, k + 1);
    for (uint32_t d = 0; d < pi->disk_count; d++) {
        const vmrp_disk_info *di = &pi->disks[d];
        if (di->full && !v->encrypted)
            return bad(v, v->point_offset, "disk %s: FULL flag in an archive without encryption",
                       di->name);
        int rc = check_disk_map(v, d);
        if (rc)
            return rc;
        if ((rc = check_family(v, di)) != 0)
            return rc;
    }
    for (uint32_t i = 0; i < pi->config_file_count; i++) {
        uint64_t rec = v->point.file_records[i];
        if (rec == 0)
            continue;
        const void *found;
        int rc = offlist_find(v->files, rec, &found);
        if (rc)
            return tmp_failed(v, rc, offlist_dir(v->files));
        const known *k = found;
        if (!k || k->size != pi->config_files[i].size || other_id_space(v, k->segment) ||
            memcmp(k->id, v->point.file_hashes[i], HASH_SIZE) != 0)
            return bad(v, v->point_offset, "config file %s: record at %llu missing or not matching its Content_Hash",
                       pi->config_files[i].name, (unsigned long long)rec);
    }
    char *copy = strdup(pi->name);
    char **bigger = realloc(v->names, (v->points + 1) * sizeof *bigger);
    if (!copy || !bigger) {
        free(copy);
        if (bigger)
            v->names = bigger;
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    }
    v->names = bigger;
    v->names[v->points] = copy;
    v->nnames = v->points + 1;
    return VMRP_OK;
}

/* A segment's INDEX is checked as it streams in (index_stream): it may
 * list 2^26 records (3 GiB), and none of it is kept. Problems are noted as
 * they appear and reported by index_check_end(), once the record is known
 * to be whole (a cut one is an interrupted append, not damage).
 * 32 KiB pieces: not a multiple of 48, so entries are cut between pieces
 * all the time, not only in rare INDEX sizes, and that path is always
 * exercised. */
#define INDEX_PIECE (32u << 10)

#define INDEX_WINDOW 512u

typedef struct {
    vstate *v;
    index_stream s;
    uint64_t differs; /* the offset of the first record unlike its entry */
    uint64_t at;      /* the offset of the next record of the segment */
    seg_record window[INDEX_WINDOW]; /* the segment's records, read back in turn */
    uint64_t window_first;
    size_t window_n;
    int read_failed;  /* -errno of reading them back */
} index_check;

static void index_check_init(vstate *v, index_check *ic, uint64_t off,
                             const unsigned char header[RH_SIZE], uint64_t len)
{
    commit_info c = {0};
    c.segment_offset = v->segment_start;
    c.index_offset = off;
    index_stream_init(&ic->s, header, len, &c, v->strict);
    ic->v = v;
    ic->differs = UINT64_MAX;
    ic->at = v->segment_start;
    ic->window_first = 0;
    ic->window_n = 0;
    ic->read_failed = 0;
}

/* The segment's record i, asked for in increasing order; NULL when it
 * could not be read back (ic->read_failed). */
static const seg_record *segment_record(index_check *ic, uint64_t i)
{
    if (i < ic->window_first || i - ic->window_first >= ic->window_n) {
        uint64_t left = spill_count(ic->v->seg) - i;
        size_t n = left < INDEX_WINDOW ? (size_t)left : INDEX_WINDOW;
        int rc = spill_read(ic->v->seg, i, n, ic->window);
        if (rc) {
            ic->read_failed = rc;
            return NULL;
        }
        ic->window_first = i;
        ic->window_n = n;
    }
    return &ic->window[i - ic->window_first];
}

/* Entry i against the segment's record i, as the walk booked it. */
static int index_check_entry(void *ctx, const rec_ref *ref, uint32_t i)
{
    index_check *ic = ctx;
    const vstate *v = ic->v;
    if (i >= spill_count(v->seg) || ic->differs != UINT64_MAX || ic->read_failed)
        return VMRP_OK;
    const seg_record *mine = segment_record(ic, i);
    if (!mine)
        return VMRP_OK;
    unsigned char fp[FP_SIZE];
    fingerprint(v->key, ref->hash, fp);
    if (ref->offset != ic->at || ref->size != mine->size || ref->type != mine->type ||
        memcmp(fp, mine->fp, FP_SIZE) != 0)
        ic->differs = ic->at;
    ic->at += mine->size;
    return VMRP_OK;
}

/* After the whole payload: the problems, in the order a reader meets them,
 * and the INDEX's Record_Hash. */
static int index_check_end(vstate *v, index_check *ic, uint64_t off,
                           unsigned char hash[HASH_SIZE])
{
    if (ic->read_failed)
        return tmp_failed(v, ic->read_failed, spill_dir(v->seg));
    const char *why = index_stream_end(&ic->s, hash);
    if (why)
        return bad(v, off, "index: %s", why);
    if (ic->s.walk.count != spill_count(v->seg))
        return bad(v, off, "index lists %u records, the segment holds %llu", ic->s.walk.count,
                   (unsigned long long)spill_count(v->seg));
    if (ic->differs != UINT64_MAX)
        return bad(v, ic->differs,
                   "record does not match its index entry (damaged, altered or moved)");
    if (!v->have_point || ic->s.walk.point_offset != v->point_offset)
        return bad(v, off, "index names no valid point record");
    return VMRP_OK;
}

static int check_commit(vstate *v, uint64_t off, const unsigned char rec[CM_RECORD_SIZE],
                        uint64_t index_offset, const unsigned char index_hash[HASH_SIZE],
                        uint64_t index_size)
{
    commit_info c;
    const char *why = NULL;
    if (commit_decode_ex(rec, off, v->strict, &c, &why) != VMRP_OK)
        return bad(v, off, "commit: %s", why);
    if (c.sequence != v->points + 1)
        return bad(v, off, "commit sequence %u, expected %u", c.sequence, v->points + 1);
    if (c.segment_offset != v->segment_start || c.index_offset != index_offset ||
        c.index_size != index_size || memcmp(c.index_hash, index_hash, HASH_SIZE) != 0)
        return bad(v, off, "commit does not match the index before it");
    if (v->points > 0 && (c.prev_offset != v->last.commit_offset ||
                          memcmp(c.prev_hash, v->last.hash, HASH_SIZE) != 0))
        return bad(v, off, "commit does not chain to the previous commit");
    if (memcmp(c.header_hash, v->header_hash, HASH_SIZE) != 0)
        return bad(v, off, "commit does not match the file header");
    char why_buf[96];
    const char *problem = commit_signature_problem(v->r->pubkey, &c, why_buf, sizeof why_buf);
    if (problem)
        return bad(v, off, "the commit %s", problem);
    if (c.flags & COMMIT_FLAG_SIGNED) {
        if (v->rep->signed_points && memcmp(v->rep->signer_key_id, c.key_id, KEY_ID_SIZE) != 0)
            v->rep->several_signers = 1;
        v->rep->signed_points++;
        memcpy(v->rep->signer_key_id, c.key_id, KEY_ID_SIZE);
    }
    v->last = c;
    return VMRP_OK;
}

static int batch_init(vbatch *vb, uint32_t block_size)
{
    vb->block_size = block_size;
    vb->workers = pool_new(pool_default_threads());
    if (!vb->workers)
        return VMRP_E_NOMEM;
    unsigned n = pool_size(vb->workers);
    vb->codecs = calloc(n, sizeof *vb->codecs);
    vb->raw = calloc(n, sizeof *vb->raw);
    vb->b = malloc(VBATCH_MAX * sizeof *vb->b);
    vb->buf = malloc(VBATCH_BYTES);
    vb->b_other = malloc(VBATCH_MAX * sizeof *vb->b_other);
    vb->buf_other = malloc(VBATCH_BYTES);
    if (!vb->codecs || !vb->raw || !vb->b || !vb->buf || !vb->b_other || !vb->buf_other)
        return VMRP_E_NOMEM;
    for (unsigned i = 0; i < n; i++)
        if (!(vb->codecs[i] = codec_new()) || !(vb->raw[i] = malloc(block_size)))
            return VMRP_E_NOMEM;
    return VMRP_OK;
}

static void batch_free(vbatch *vb)
{
    if (vb->in_flight) /* the buffers are the workers' until they finish */
        pool_finish(vb->workers);
    vb->in_flight = 0;
    for (unsigned i = 0; vb->workers && i < pool_size(vb->workers); i++) {
        if (vb->codecs)
            codec_free(vb->codecs[i]);
        if (vb->raw)
            free(vb->raw[i]);
    }
    free(vb->codecs);
    free(vb->raw);
    free(vb->b);
    free(vb->buf);
    free(vb->b_other);
    free(vb->buf_other);
    pool_free(vb->workers);
}

static void vstate_free(vstate *v)
{
    batch_free(&v->batch);
    crypt_free(v->ck);
    if (v->have_point)
        point_meta_clear(&v->point);
    offlist_free(v->maps);
    spill_free(v->seg);
    spill_free(v->map_bytes);
    free(v->stored);
    free(v->refs);
    offlist_free(v->blocks);
    offlist_free(v->files);
    sodium_memzero(v->key, sizeof v->key);
    for (uint32_t k = 0; k < v->nnames; k++)
        free(v->names[k]);
    free(v->names);
    free(v->families);
    codec_free(v->codec);
    free(v->payload);
    free(v->raw);
}

/* Handle one record of a segment (anything but INDEX and COMMIT). */
static void check_block(void *ctx, size_t i, unsigned worker)
{
    const vjob *job = ctx;
    vbatch *vb = job->vb;
    vblock *b = &job->b[i];
    unsigned char *rec = job->buf + b->at;
    hash_buf(b->rec_hash, rec, RH_SIZE + b->h.stored_size);
    if (vb->quick)
        return; /* its hash, checked against the index, is all that is asked */
    const unsigned char *payload = rec + RH_SIZE;
    size_t len = b->h.stored_size;
    if (b->h.flags & RECORD_FLAG_ENCRYPTED) {
        if (!vb->seg)
            return; /* no key: its hash is all that can be checked */
        if (crypt_open_record(vb->ck->collection_id, vb->seg->data_key, b->off, rec,
                              RH_SIZE + len) != VMRP_OK) {
            b->problem = 3;
            return;
        }
        payload += RECORD_NONCE_SIZE;
        len -= RECORD_CRYPTO_OVERHEAD;
    }
    unsigned char *raw = vb->raw[worker];
    if (codec_decompress(vb->codecs[worker], b->h.codec, payload, len, raw, vb->block_size) !=
        VMRP_OK)
        b->problem = 1;
    else if (is_zero(raw, vb->block_size))
        b->problem = 2;
    else
        id_hash(b->id, raw, vb->block_size, vb->seg ? vb->seg->id_key : NULL);
}

static int push_seg(vstate *v, uint64_t off, uint32_t size, uint8_t type,
                    const unsigned char hash[HASH_SIZE])
{
    if (off != v->seg_end) /* the walk books records in file order */
        return bad(v, off, "record out of place in its segment");
    seg_record rec;
    memset(&rec, 0, sizeof rec); /* its padding goes to a file too */
    rec.size = size;
    rec.type = type;
    fingerprint(v->key, hash, rec.fp);
    int rc = spill_append(v->seg, &rec);
    if (rc)
        return tmp_failed(v, rc, spill_dir(v->seg));
    v->seg_end = off + size;
    return VMRP_OK;
}

/* Book checked BLOCK records in order. */
static int book_blocks(vstate *v, const vblock *blocks, size_t n)
{
    vbatch *vb = &v->batch;
    int rc = VMRP_OK;
    for (size_t i = 0; i < n && rc == VMRP_OK; i++) {
        const vblock *b = &blocks[i];
        rc = push_seg(v, b->off, RH_SIZE + b->h.stored_size, REC_BLOCK, b->rec_hash);
        if (rc == VMRP_OK && b->problem == 1)
            rc = bad(v, b->off, "record does not decompress to its Raw_Size");
        else if (rc == VMRP_OK && b->problem == 2)
            rc = bad(v, b->off, "an all-zero block is stored");
        else if (rc == VMRP_OK && b->problem == 3)
            rc = bad(v, b->off, "record does not decrypt with its segment's key (altered, moved, "
                                "or sealed with another key)");
        else if (rc == VMRP_OK && v->encrypted && !vb->seg)
            continue; /* contents not checked without the key */
        else if (rc == VMRP_OK) {
            /* quick: the maps still name it, though its Block_Id is not known */
            known_block k = {b->off, {0}, (uint16_t)v->points}; /* < Max_Points <= 65535 */
            if (!vb->quick) {
                v->rep->blocks++;
                fingerprint(v->key, b->id, k.fp);
            }
            int pushed = offlist_push(v->blocks, &k);
            if (pushed)
                rc = tmp_failed(v, pushed, offlist_dir(v->blocks));
        }
    }
    return rc;
}

/* Wait for the batch in flight, if any, and book it. Its records all lie
 * before anything read since, so its errors come first. */
static int land_blocks(vstate *v)
{
    vbatch *vb = &v->batch;
    if (!vb->in_flight)
        return VMRP_OK;
    pool_finish(vb->workers);
    vb->in_flight = 0;
    return book_blocks(v, vb->job.b, vb->job.n);
}

/* A full batch: hand it to the workers and fill the other set meanwhile. */
static int launch_blocks(vstate *v)
{
    vbatch *vb = &v->batch;
    int rc = land_blocks(v);
    if (rc)
        return rc;
    vb->ck = v->ck;
    vb->seg = v->seg_keys ? &v->ck->segs[v->points] : NULL;
    vb->job = (vjob){vb, vb->b, vb->buf, vb->n};
    pool_start(vb->workers, vb->n, check_block, &vb->job);
    vb->in_flight = 1;
    vblock *b = vb->b;
    unsigned char *buf = vb->buf;
    vb->b = vb->b_other;
    vb->buf = vb->buf_other;
    vb->b_other = b;
    vb->buf_other = buf;
    vb->n = 0;
    vb->used = 0;
    return VMRP_OK;
}

/* Check and book every waiting BLOCK record, before a record that must be
 * handled in order after them. */
static int flush_blocks(vstate *v)
{
    int rc = v->batch.n ? launch_blocks(v) : VMRP_OK;
    return rc ? rc : land_blocks(v);
}

static int queue_block(vstate *v, uint64_t off, const record_header *h)
{
    vbatch *vb = &v->batch;
    size_t len = RH_SIZE + h->stored_size;
    if (vb->n == VBATCH_MAX || vb->used + len > VBATCH_BYTES) {
        int rc = launch_blocks(v);
        if (rc)
            return rc;
    }
    vblock *b = &vb->b[vb->n++];
    b->off = off;
    b->at = vb->used;
    b->h = *h;
    b->problem = 0;
    memcpy(vb->buf + vb->used, v->payload, len);
    vb->used += len;
    return VMRP_OK;
}

/* A KEYS record: the collection's key slots (first segment) and the
 * segment's sealed keys, opened when a key was given. */
static void defer(vstate *v, int rc, const char *msg)
{
    v->deferred_rc = rc;
    snprintf(v->deferred_msg, sizeof v->deferred_msg, "%s", msg);
}

static int take_keys(vstate *v, uint64_t off, const unsigned char *p, size_t len)
{
    const char *why = NULL;
    v->seg_keys = 0;
    if (keys_check(p, len, v->points == 0, v->strict, &why) != VMRP_OK)
        return bad(v, off, "key record: %s", why);
    if (v->points >= v->max_points)
        return bad(v, off, "more points than Max_Points %u", v->max_points);
    if (v->points == 0) {
        if (!(v->ck = crypt_new(v->collection_id, v->max_points)))
            return err_set(&v->r->err, VMRP_E_NOMEM, "out of secure memory");
        memcpy(v->ck->collection_pk, p + KY_OFF_PUBLIC, KEY_SIZE);
        v->rep->key_slots = le32_load(p + KY_OFF_SLOT_COUNT);
        if (v->r->identity || v->r->ask) {
            vmrp_err e;
            int rc = crypt_unlock(&e, v->label, p, v->ck, v->r->identity, v->r->ask,
                                  v->r->ask_ctx);
            if (rc == VMRP_E_NOMEM)
                return err_set(&v->r->err, rc, "%s", e.message);
            if (rc)
                defer(v, rc, e.message);
        }
    } else if (memcmp(p + KY_OFF_PUBLIC, v->ck->collection_pk, KEY_SIZE) != 0) {
        return bad(v, off, "key record names another collection key");
    }
    if (v->ck->unlocked) {
        if (keys_open_segment(p, v->ck, v->segment_start, &v->ck->segs[v->points]) == VMRP_OK)
            v->seg_keys = 1;
        else if (!v->deferred_rc) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s: point %u, offset %llu: the segment's sealed keys do not "
                     "open with the collection key", v->label, v->points + 1,
                     (unsigned long long)off);
            defer(v, VMRP_E_CORRUPT, msg);
            v->rep->error_offset = off;
        }
    }
    return VMRP_OK;
}

static int take_record(vstate *v, uint64_t off, const record_header *h)
{
    /* every segment of an encrypted collection opens with its keys */
    if (v->encrypted && (off == v->segment_start) != (h->type == REC_KEYS))
        return bad(v, off, off == v->segment_start ? "segment does not start with a key record"
                                                   : "key record inside a segment");
    if (h->type == REC_BLOCK)
        return queue_block(v, off, h);
    int rc = flush_blocks(v);
    if (rc)
        return rc;
    unsigned char hash[HASH_SIZE];
    record_hash(hash, v->payload, v->payload + RH_SIZE, h->stored_size);
    if ((rc = push_seg(v, off, RH_SIZE + h->stored_size, h->type, hash)) != 0)
        return rc;
    if (h->type == REC_POINT && v->have_point)
        return bad(v, off, "second point record in one segment");
    if (h->type == REC_KEYS)
        return take_keys(v, off, v->payload + RH_SIZE, h->stored_size);
    unsigned char *payload = v->payload + RH_SIZE;
    size_t payload_len = h->stored_size;
    if (h->flags & RECORD_FLAG_ENCRYPTED) {
        if (!v->seg_keys) {
            /* no key: the hash (checked against the index) is what can be
             * checked; the index still needs to know the point record */
            if (h->type == REC_POINT) {
                v->have_point = 1;
                v->point_offset = off;
            }
            return VMRP_OK;
        }
        if (crypt_open_record(v->ck->collection_id, v->ck->segs[v->points].data_key, off,
                              v->payload, RH_SIZE + payload_len) != VMRP_OK)
            return bad(v, off, "record does not decrypt with its segment's key (altered, moved, "
                               "or sealed with another key)");
        payload += RECORD_NONCE_SIZE;
        payload_len -= RECORD_CRYPTO_OVERHEAD;
    }
    if (grow(&v->raw, &v->raw_cap, h->raw_size))
        return err_set(&v->r->err, VMRP_E_NOMEM, "out of memory");
    if (codec_decompress(v->codec, h->codec, payload, payload_len, v->raw, h->raw_size) != VMRP_OK)
        return bad(v, off, "record does not decompress to its Raw_Size");
    const char *why = NULL;
    switch (h->type) {
    case REC_FILE: {
        known k;
        memset(&k, 0, sizeof k); /* its padding goes to a file too */
        k.offset = off;
        id_hash(k.id, v->raw, h->raw_size, v->ck ? v->ck->segs[v->points].id_key : NULL);
        k.size = h->raw_size;
        k.segment = v->points;
        rc = offlist_push(v->files, &k);
        return rc ? tmp_failed(v, rc, offlist_dir(v->files)) : VMRP_OK;
    }
    case REC_MAP: {
        if (h->raw_size % MAP_ENTRY_SIZE != 0)
            return bad(v, off, "map size is not a multiple of 48");
        seg_map sm;
        memset(&sm, 0, sizeof sm); /* its padding goes to a file too */
        sm.offset = off;
        sm.at = spill_count(v->map_bytes);
        sm.stored_len = payload_len;
        sm.len = h->raw_size;
        sm.codec = h->codec;
        if ((rc = spill_append_n(v->map_bytes, payload, payload_len)) != 0)
            return tmp_failed(v, rc, spill_dir(v->map_bytes));
        if ((rc = offlist_push(v->maps, &sm)) != 0)
            return tmp_failed(v, rc, offlist_dir(v->maps));
        return VMRP_OK;
    }
    case REC_POINT: {
        rc = point_parse_ex(v->raw, h->raw_size, v->strict, &v->point, &why);
        if (rc)
            return bad(v, off, "point record: %s", why);
        v->have_point = 1;
        v->point_offset = off;
        return check_point(v);
    }
    default:
        return bad(v, off, "unexpected record type %u", h->type);
    }
}

int vmrp_reader_verify(vmrp_reader *r, int fd, const char *label, vmrp_verify_report *rep)
{
    vstate v;
    memset(&v, 0, sizeof v);
    memset(rep, 0, sizeof *rep);
    err_clear(&r->err);
    v.r = r;
    v.label = label ? label : "archive";
    v.rep = rep;
    stream s = {fd, malloc(1u << 20), 1u << 20, 0, 0, 0, 0};
    v.codec = codec_new();
    size_t keep = r->verify_keep;
    v.blocks = offlist_new(sizeof(known_block), keep ? keep : KEEP_BLOCKS);
    v.files = offlist_new(sizeof(known), keep ? keep : KEEP_BLOCKS);
    v.maps = offlist_new(sizeof(seg_map), keep ? keep : KEEP_MAPS);
    v.seg = spill_new(sizeof(seg_record), keep ? keep : KEEP_RECORDS, NULL);
    v.map_bytes = spill_new(1, keep ? keep : KEEP_MAP_BYTES, NULL);
    int rc = VMRP_OK;
    if (!s.buf || !v.codec || !v.blocks || !v.files || !v.maps || !v.seg || !v.map_bytes) {
        rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
        goto out;
    }
    unsigned char header[FH_SIZE];
    vmrp_collection_info ci;
    const char *why = NULL;
    int got = stream_read(&s, header, FH_SIZE);
    if (got < 0) {
        rc = err_set(&r->err, VMRP_E_IO, "%s: read error: %s", v.label, strerror(-got));
        goto out;
    }
    if (got > 0) {
        rc = err_set(&r->err, VMRP_E_NOT_ARCHIVE, "%s: not a vmrp archive (%s)", v.label,
                     got == 1 ? "empty" : "shorter than a file header");
        goto out;
    }
    if ((rc = header_parse(header, &ci, &why)) != VMRP_OK) {
        rep->error_offset = 0;
        rc = err_set(&r->err, rc, "%s: %sfile header (offset 0..127): %s", v.label,
                     rc == VMRP_E_NOT_ARCHIVE ? "not a vmrp archive: " : "", why);
        goto out;
    }
    v.block_size = ci.block_size;
    if ((rc = batch_init(&v.batch, ci.block_size)) != VMRP_OK) {
        rc = err_set(&r->err, rc, "out of memory");
        goto out;
    }
    v.batch.quick = (r->verify_flags & VMRP_VERIFY_QUICK) != 0;
    v.strict = ci.format_minor <= FORMAT_MINOR;
    v.encrypted = ci.encrypted;
    v.max_points = ci.max_points;
    memcpy(v.collection_id, ci.collection_id, ID_SIZE);
    rep->encrypted = ci.encrypted;
    hash_buf(v.header_hash, header, FH_SIZE);
    randombytes_buf(v.key, sizeof v.key);
    v.segment_start = FH_SIZE;
    v.seg_end = FH_SIZE;
    uint64_t committed = FH_SIZE;
    uint64_t index_offset = 0, index_size = 0;
    unsigned char index_hash[HASH_SIZE];
    index_check ic;
    for (;;) {
        uint64_t off = s.pos;
        if (grow(&v.payload, &v.payload_cap, RH_SIZE)) {
            rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
            break;
        }
        got = stream_read(&s, v.payload, RH_SIZE);
        if (got == 1)
            break;
        if (got == 2) {
            /* a cut inside a header is an interrupted append, unless the
             * file still ends like a commit: then it is damage */
            if (s.pos - off >= 8 && memcmp(v.payload + (s.pos - off) - 8, CM_END_MAGIC, 8) == 0)
                rc = bad(&v, off, "archive ends inside a record header, after a commit's End_Magic");
            break;
        }
        if (got < 0) {
            rc = err_set(&r->err, VMRP_E_IO, "%s: read error at offset %llu: %s", v.label,
                         (unsigned long long)off, strerror(-got));
            break;
        }
        record_header h;
        if (record_header_decode_ex(v.payload, v.block_size, v.strict, v.encrypted, &h, &why) !=
            VMRP_OK) {
            /* Garbage after the last commit is an interrupted append (or a
             * zero-filled tail after a crash); garbage before a commit
             * that still ends the file is damage. */
            uint64_t end = 0;
            if (stream_ends_with_commit(&s, &end))
                rc = bad(&v, off, "%s", why);
            break;
        }
        /* The segment's INDEX streams through index_check; every other
         * record is read whole, growing by what actually arrives, so a
         * hostile size cannot make us allocate more than the stream holds
         * (plus one chunk). */
        const int streamed = h.type == REC_INDEX && !index_offset;
        if (streamed) {
            if ((rc = flush_blocks(&v)) != 0)
                break;
            index_check_init(&v, &ic, off, v.payload, h.stored_size);
        }
        unsigned char last8[8];
        size_t nlast = 0;
        keep_last8(last8, &nlast, v.payload, RH_SIZE);
        size_t have = 0;
        got = 0;
        const size_t most = streamed ? INDEX_PIECE : (16u << 20);
        while (have < h.stored_size && got == 0) {
            size_t chunk = h.stored_size - have > most ? most : h.stored_size - have;
            size_t at = streamed ? 0 : have;
            if (grow(&v.payload, &v.payload_cap, RH_SIZE + at + chunk)) {
                got = VMRP_E_NOMEM;
                break;
            }
            uint64_t before = s.pos;
            got = stream_read(&s, v.payload + RH_SIZE + at, chunk);
            keep_last8(last8, &nlast, v.payload + RH_SIZE + at, (size_t)(s.pos - before));
            if (streamed)
                index_stream_feed(&ic.s, v.payload + RH_SIZE, (size_t)(s.pos - before),
                                  index_check_entry, &ic);
            have += chunk;
        }
        if (got == VMRP_E_NOMEM) {
            rc = err_set(&r->err, VMRP_E_NOMEM, "out of memory");
            break;
        }
        if (got > 0) {
            if (nlast == 8 && memcmp(last8, CM_END_MAGIC, 8) == 0)
                rc = bad(&v, off, "record of %u bytes runs past the end of an archive that ends "
                                  "like a commit: damage, not an interrupted append",
                         h.stored_size);
            break;
        }
        if (got < 0) {
            rc = err_set(&r->err, VMRP_E_IO, "%s: read error: %s", v.label, strerror(-got));
            break;
        }
        rep->records++;
        if (r->progress)
            r->progress(r->progress_ctx, s.pos, 0);
        if (h.type == REC_INDEX) {
            if (index_offset) {
                rc = bad(&v, off, "two indexes in one segment");
                break;
            }
            if ((rc = index_check_end(&v, &ic, off, index_hash)) != 0)
                break;
            if (v.deferred_rc) { /* the key record is as written: the key is wrong */
                rep->error_point = v.points + 1;
                rc = err_set(&r->err, v.deferred_rc, "%s", v.deferred_msg);
                break;
            }
            index_offset = off;
            index_size = RH_SIZE + h.stored_size;
        } else if (h.type == REC_COMMIT) {
            if (!index_offset) {
                rc = bad(&v, off, "commit without an index before it");
                break;
            }
            if ((rc = check_commit(&v, off, v.payload, index_offset, index_hash, index_size)) != 0)
                break;
            v.points++;
            if (v.points > ci.max_points) {
                rc = bad(&v, off, "more points than Max_Points %u", ci.max_points);
                break;
            }
            committed = s.pos;
            v.segment_start = s.pos;
            index_offset = 0;
            clear_segment(&v);
        } else if (index_offset) {
            rc = bad(&v, off, "record after the index of its segment");
            break;
        } else if ((rc = take_record(&v, off, &h)) != 0) {
            break;
        }
    }
    /* a batch still in flight holds records before whatever stopped the
     * walk: its errors come first, and its blocks are booked either way */
    int landed = land_blocks(&v);
    if (landed)
        rc = landed;
    rep->points = v.points;
    rep->bytes = s.pos;
    rep->committed_size = committed;
    memcpy(rep->head_hash, v.last.hash, HASH_SIZE);
    if (rc == VMRP_OK && s.pos > committed) {
        rep->torn_bytes = s.pos - committed;
        rep->error_offset = committed;
        rep->error_point = v.points + 1;
        rc = err_set(&r->err, VMRP_E_TORN,
                     "%s: %llu bytes after the last commit (point %u) at offset %llu: an interrupted "
                     "append; the next pack removes them",
                     v.label, (unsigned long long)rep->torn_bytes, v.points,
                     (unsigned long long)committed);
    } else if (rc == VMRP_OK && v.points == 0) {
        rc = err_set(&r->err, VMRP_E_CORRUPT, "%s: no committed restore point", v.label);
    }
    rep->signatures_checked = rc == VMRP_OK && r->pubkey != NULL;
    rep->content_checked = !v.batch.quick && (!v.encrypted || (v.ck && v.ck->unlocked));
out:
    free(s.buf);
    vstate_free(&v);
    return rc;
}

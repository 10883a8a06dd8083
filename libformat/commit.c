/* commit.c - the file header and the COMMIT record (also the trailer):
 * their encoding, decoding and hashes. Writer, reader and verifier all use
 * these so the three can never disagree on a byte. */
#include <stdio.h>
#include <string.h>

#include "vmrp_private.h"

int header_parse(const unsigned char in[FH_SIZE], vmrp_collection_info *info, const char **why)
{
    if (memcmp(in + FH_OFF_MAGIC, FH_MAGIC, FH_MAGIC_SIZE) != 0) {
        *why = "no vmrp magic at offset 0";
        return VMRP_E_NOT_ARCHIVE;
    }
    uint16_t major = le16_load(in + FH_OFF_MAJOR);
    uint16_t minor = le16_load(in + FH_OFF_MINOR);
    if (major != FORMAT_MAJOR) {
        *why = "format major version is not 1 (written by a newer vmrp)";
        return VMRP_E_VERSION;
    }
    unsigned char h[HASH_SIZE];
    hash_buf(h, in, FH_OFF_HEADER_HASH);
    if (memcmp(h, in + FH_OFF_HEADER_HASH, HASH_SIZE) != 0) {
        *why = "file header hash mismatch";
        return VMRP_E_CORRUPT;
    }
    if (le32_load(in + FH_OFF_HEADER_SIZE) != FH_SIZE) {
        *why = "Header_Size is not 128";
        return VMRP_E_CORRUPT;
    }
    uint64_t incompat = le64_load(in + FH_OFF_INCOMPAT);
    if (incompat & ~FEATURE_INCOMPAT_KNOWN) {
        *why = "archive uses a must-understand feature this vmrp does not know";
        return VMRP_E_VERSION;
    }
    uint32_t bs = le32_load(in + FH_OFF_BLOCK_SIZE);
    if (bs < BLOCK_SIZE_MIN || bs > BLOCK_SIZE_MAX || (bs & (bs - 1))) {
        *why = "Block_Size is not a power of two in 4096..4194304";
        return VMRP_E_CORRUPT;
    }
    uint32_t maxp = le32_load(in + FH_OFF_MAX_POINTS);
    if (maxp == 0 || maxp > MAX_POINTS_LIMIT) {
        *why = "Max_Points not in 1..65535";
        return VMRP_E_CORRUPT;
    }
    if (minor <= FORMAT_MINOR && !is_zero(in + FH_OFF_RESERVED, FH_RESERVED_SIZE)) {
        *why = "reserved header bytes are not zero";
        return VMRP_E_CORRUPT;
    }
    memset(info, 0, sizeof *info);
    info->format_major = major;
    info->format_minor = minor;
    memcpy(info->collection_id, in + FH_OFF_COLLECTION_ID, ID_SIZE);
    info->block_size = bs;
    info->max_points = maxp;
    info->time_created_us = (int64_t)le64_load(in + FH_OFF_TIME_CREATED);
    info->encrypted = (incompat & FEATURE_INCOMPAT_ENCRYPTED) != 0;
    return VMRP_OK;
}

void header_encode(unsigned char out[FH_SIZE], const unsigned char collection_id[ID_SIZE],
                   uint32_t block_size, uint32_t max_points, int64_t time_us)
{
    header_encode_ex(out, collection_id, block_size, max_points, time_us, 0);
}

void header_encode_ex(unsigned char out[FH_SIZE], const unsigned char collection_id[ID_SIZE],
                      uint32_t block_size, uint32_t max_points, int64_t time_us, uint64_t incompat)
{
    memset(out, 0, FH_SIZE);
    memcpy(out + FH_OFF_MAGIC, FH_MAGIC, FH_MAGIC_SIZE);
    le16_store(out + FH_OFF_MAJOR, FORMAT_MAJOR);
    le16_store(out + FH_OFF_MINOR, incompat ? FORMAT_MINOR : FORMAT_MINOR_PLAIN);
    le64_store(out + FH_OFF_INCOMPAT, incompat);
    le32_store(out + FH_OFF_HEADER_SIZE, FH_SIZE);
    memcpy(out + FH_OFF_COLLECTION_ID, collection_id, ID_SIZE);
    le32_store(out + FH_OFF_BLOCK_SIZE, block_size);
    le32_store(out + FH_OFF_MAX_POINTS, max_points);
    le64_store(out + FH_OFF_TIME_CREATED, (uint64_t)time_us);
    hash_buf(out + FH_OFF_HEADER_HASH, out, FH_OFF_HEADER_HASH);
}

void commit_hash(const unsigned char rec[CM_RECORD_SIZE], unsigned char out[HASH_SIZE])
{
    hash_buf(out, rec, RH_SIZE + CM_HASHED_SIZE);
}

void commit_encode(unsigned char rec[CM_RECORD_SIZE], const commit_info *c)
{
    record_header h = {REC_COMMIT, CODEC_NONE, 0, CM_PAYLOAD_SIZE, CM_PAYLOAD_SIZE};
    memset(rec, 0, CM_RECORD_SIZE);
    record_header_encode(rec, &h);
    unsigned char *p = rec + RH_SIZE;
    le32_store(p + CM_OFF_SEQUENCE, c->sequence);
    le32_store(p + CM_OFF_POINT_COUNT, c->point_count);
    le64_store(p + CM_OFF_COMMIT_OFFSET, c->commit_offset);
    le64_store(p + CM_OFF_SEGMENT_OFFSET, c->segment_offset);
    le64_store(p + CM_OFF_INDEX_OFFSET, c->index_offset);
    le64_store(p + CM_OFF_INDEX_SIZE, c->index_size);
    memcpy(p + CM_OFF_INDEX_HASH, c->index_hash, HASH_SIZE);
    le64_store(p + CM_OFF_PREV_OFFSET, c->prev_offset);
    memcpy(p + CM_OFF_PREV_HASH, c->prev_hash, HASH_SIZE);
    memcpy(p + CM_OFF_HEADER_HASH, c->header_hash, HASH_SIZE);
    le64_store(p + CM_OFF_TIME, (uint64_t)c->time_us);
    le64_store(p + CM_OFF_FLAGS, c->flags);
    memcpy(p + CM_OFF_KEY_ID, c->key_id, KEY_ID_SIZE);
    memcpy(p + CM_OFF_SIGNATURE, c->signature, SIGNATURE_SIZE);
    memcpy(p + CM_OFF_END_MAGIC, CM_END_MAGIC, 8);
}

const char *commit_signature_problem(const vmrp_key *pubkey, const commit_info *c, char *buf,
                                     size_t len)
{
    if (!pubkey)
        return NULL;
    if (vmrp_key_kind(pubkey) != VMRP_KEY_SIGNING)
        return "cannot be checked: the public key given is not a signing key";
    if (!(c->flags & COMMIT_FLAG_SIGNED))
        return "is not signed";
    if (memcmp(c->key_id, key_keynum(pubkey), KEY_ID_SIZE) != 0) {
        char want[17];
        vmrp_key_id(pubkey, want);
        snprintf(buf, len, "is signed by key %016llX, not by %s",
                 (unsigned long long)le64_load(c->key_id), want);
        return buf;
    }
    if (!key_verify_commit(pubkey, c->hash, c->signature))
        return "has a signature that does not verify (altered, or forged)";
    return NULL;
}

int commit_decode(const unsigned char rec[CM_RECORD_SIZE], uint64_t at, commit_info *c,
                  const char **why)
{
    return commit_decode_ex(rec, at, 1, c, why);
}

int commit_decode_ex(const unsigned char rec[CM_RECORD_SIZE], uint64_t at, int strict,
                     commit_info *c, const char **why)
{
    record_header h;
    if (record_header_decode_ex(rec, BLOCK_SIZE_MIN, strict, 0, &h, why) != VMRP_OK)
        return VMRP_E_CORRUPT;
    if (h.type != REC_COMMIT) {
        *why = "record is not a commit";
        return VMRP_E_CORRUPT;
    }
    const unsigned char *p = rec + RH_SIZE;
    if (memcmp(p + CM_OFF_END_MAGIC, CM_END_MAGIC, 8) != 0) {
        *why = "commit End_Magic missing";
        return VMRP_E_CORRUPT;
    }
    memset(c, 0, sizeof *c);
    c->sequence = le32_load(p + CM_OFF_SEQUENCE);
    c->point_count = le32_load(p + CM_OFF_POINT_COUNT);
    c->commit_offset = le64_load(p + CM_OFF_COMMIT_OFFSET);
    c->segment_offset = le64_load(p + CM_OFF_SEGMENT_OFFSET);
    c->index_offset = le64_load(p + CM_OFF_INDEX_OFFSET);
    c->index_size = le64_load(p + CM_OFF_INDEX_SIZE);
    memcpy(c->index_hash, p + CM_OFF_INDEX_HASH, HASH_SIZE);
    c->prev_offset = le64_load(p + CM_OFF_PREV_OFFSET);
    memcpy(c->prev_hash, p + CM_OFF_PREV_HASH, HASH_SIZE);
    memcpy(c->header_hash, p + CM_OFF_HEADER_HASH, HASH_SIZE);
    c->time_us = (int64_t)le64_load(p + CM_OFF_TIME);
    uint64_t flags = le64_load(p + CM_OFF_FLAGS);
    c->flags = flags;
    memcpy(c->key_id, p + CM_OFF_KEY_ID, KEY_ID_SIZE);
    memcpy(c->signature, p + CM_OFF_SIGNATURE, SIGNATURE_SIZE);
    commit_hash(rec, c->hash);
    if (c->commit_offset != at) {
        *why = "Commit_Offset does not match the commit's position";
        return VMRP_E_CORRUPT;
    }
    if (strict && (flags & ~COMMIT_FLAG_SIGNED)) {
        *why = "unknown Commit_Flags bits";
        return VMRP_E_CORRUPT;
    }
    if ((flags & COMMIT_FLAG_SIGNED) && is_zero(p + CM_OFF_SIGNATURE, SIGNATURE_SIZE)) {
        *why = "commit marked signed carries no signature";
        return VMRP_E_CORRUPT;
    }
    if (strict && !(flags & COMMIT_FLAG_SIGNED) && !is_zero(p + CM_OFF_KEY_ID, 8 + 64)) {
        *why = "unsigned commit carries a key id or signature";
        return VMRP_E_CORRUPT;
    }
    if (c->sequence == 0 || c->point_count != c->sequence) {
        *why = "Commit_Sequence and Point_Count disagree";
        return VMRP_E_CORRUPT;
    }
    if ((c->sequence == 1) != (c->prev_offset == 0) ||
        (c->sequence == 1 && !is_zero(c->prev_hash, HASH_SIZE))) {
        *why = "first commit has a predecessor, or a later one has none";
        return VMRP_E_CORRUPT;
    }
    /* Compared without sums that could wrap around. */
    if (c->segment_offset < FH_SIZE || c->segment_offset >= c->index_offset ||
        c->index_offset - c->segment_offset < RH_SIZE || c->index_offset >= c->commit_offset ||
        c->index_size < RH_SIZE + IX_HEADER_SIZE + IX_ENTRY_SIZE ||
        c->index_size != c->commit_offset - c->index_offset ||
        (c->prev_offset != 0 && c->segment_offset != c->prev_offset + CM_RECORD_SIZE) ||
        (c->prev_offset == 0 && c->segment_offset != FH_SIZE)) {
        *why = "commit offsets do not describe a segment";
        return VMRP_E_CORRUPT;
    }
    return VMRP_OK;
}

/* record.c - the 16-byte record header shared by every record type. */
#include <string.h>

#include "vmrp_private.h"

void record_header_encode(unsigned char out[RH_SIZE], const record_header *h)
{
    memcpy(out + RH_OFF_MAGIC, RH_MAGIC, 4);
    out[RH_OFF_TYPE] = h->type;
    out[RH_OFF_CODEC] = h->codec;
    out[RH_OFF_FLAGS] = h->flags;
    out[RH_OFF_RESERVED] = 0;
    le32_store(out + RH_OFF_STORED_SIZE, h->stored_size);
    le32_store(out + RH_OFF_RAW_SIZE, h->raw_size);
}

/* Largest Raw_Size a record of each type may declare; a reader never
 * allocates more than this for one record. */
static uint64_t raw_limit(uint8_t type, uint32_t block_size)
{
    switch (type) {
    case REC_BLOCK:
        return block_size;
    case REC_MAP:
        return (uint64_t)MAP_ENTRY_SIZE * MAP_ENTRIES_PER_RECORD;
    case REC_FILE:
        return FILE_RAW_MAX;
    case REC_POINT:
        return POINT_RAW_MAX;
    case REC_INDEX:
        return IX_HEADER_SIZE + (uint64_t)IX_ENTRY_SIZE * INDEX_ENTRIES_MAX;
    case REC_COMMIT:
        return CM_PAYLOAD_SIZE;
    case REC_KEYS:
        return KY_RAW_MAX;
    default:
        return 0;
    }
}

int record_header_decode(const unsigned char in[RH_SIZE], uint32_t block_size,
                         record_header *h, const char **why)
{
    return record_header_decode_ex(in, block_size, 1, 0, h, why);
}

/* In an encrypted collection the records that hold data or metadata are
 * encrypted, and the ones a verifier needs without a key are not. */
static int encrypted_type(uint8_t type)
{
    return type == REC_BLOCK || type == REC_MAP || type == REC_FILE || type == REC_POINT;
}

int record_header_decode_ex(const unsigned char in[RH_SIZE], uint32_t block_size, int strict,
                            int encrypted, record_header *h, const char **why)
{
    if (memcmp(in + RH_OFF_MAGIC, RH_MAGIC, 4) != 0) {
        *why = "bad record magic";
        return VMRP_E_CORRUPT;
    }
    h->type = in[RH_OFF_TYPE];
    h->codec = in[RH_OFF_CODEC];
    h->flags = in[RH_OFF_FLAGS];
    h->stored_size = le32_load(in + RH_OFF_STORED_SIZE);
    h->raw_size = le32_load(in + RH_OFF_RAW_SIZE);
    if (h->type < REC_BLOCK || h->type > REC_KEYS) {
        *why = "unknown record type";
        return VMRP_E_CORRUPT;
    }
    if (h->type == REC_KEYS && !encrypted) {
        *why = "key record in an archive without encryption";
        return VMRP_E_CORRUPT;
    }
    if (h->codec > CODEC_ZLIB) {
        *why = "unknown codec";
        return VMRP_E_CORRUPT;
    }
    if (h->flags & ~RECORD_FLAG_ENCRYPTED) {
        *why = "undefined record flags are set";
        return VMRP_E_CORRUPT;
    }
    if (!encrypted && h->flags) {
        *why = "record flags set in an archive without encryption";
        return VMRP_E_CORRUPT;
    }
    if (encrypted && (h->flags != 0) != encrypted_type(h->type)) {
        *why = h->flags ? "index, commit or key record marked encrypted"
                        : "record not encrypted in an encrypted archive";
        return VMRP_E_CORRUPT;
    }
    if (strict && in[RH_OFF_RESERVED] != 0) {
        *why = "reserved record byte is not zero";
        return VMRP_E_CORRUPT;
    }
    if ((h->type == REC_INDEX || h->type == REC_COMMIT || h->type == REC_KEYS) &&
        h->codec != CODEC_NONE) {
        *why = "index, commit or key record is compressed";
        return VMRP_E_CORRUPT;
    }
    if (h->raw_size > raw_limit(h->type, block_size)) {
        *why = "record raw size above the limit of its type";
        return VMRP_E_CORRUPT;
    }
    if (h->type == REC_BLOCK && h->raw_size != block_size) {
        *why = "block record size differs from the collection block size";
        return VMRP_E_CORRUPT;
    }
    if (h->type == REC_COMMIT && h->raw_size != CM_PAYLOAD_SIZE) {
        *why = "commit record size is not 240";
        return VMRP_E_CORRUPT;
    }
    /* the encoded payload plus a nonce and a tag when encrypted */
    uint64_t extra = h->flags ? RECORD_CRYPTO_OVERHEAD : 0, stored = h->stored_size;
    if (h->codec == CODEC_NONE ? stored != h->raw_size + extra
                               : stored > h->raw_size + extra || stored <= extra) {
        *why = "record stored size inconsistent with raw size";
        return VMRP_E_CORRUPT;
    }
    if (h->type == REC_KEYS && h->raw_size < KY_SLOTS_OFFSET) {
        *why = "key record shorter than 200 bytes";
        return VMRP_E_CORRUPT;
    }
    if (h->raw_size == 0) {
        *why = "empty record";
        return VMRP_E_CORRUPT;
    }
    return VMRP_OK;
}

void record_hash(unsigned char out[HASH_SIZE], const unsigned char header[RH_SIZE],
                 const void *payload, size_t len)
{
    hash_state st;
    hash_init(&st);
    hash_update(&st, header, RH_SIZE);
    hash_update(&st, payload, len);
    hash_final(&st, out);
}

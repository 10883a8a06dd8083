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
    default:
        return 0;
    }
}

int record_header_decode(const unsigned char in[RH_SIZE], uint32_t block_size,
                         record_header *h, const char **why)
{
    return record_header_decode_ex(in, block_size, 1, h, why);
}

int record_header_decode_ex(const unsigned char in[RH_SIZE], uint32_t block_size, int strict,
                            record_header *h, const char **why)
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
    if (h->type < REC_BLOCK || h->type > REC_COMMIT) {
        *why = h->type == REC_KEYS ? "key slot record in an archive without encryption"
                                   : "unknown record type";
        return VMRP_E_CORRUPT;
    }
    if (h->codec > CODEC_ZLIB) {
        *why = "unknown codec";
        return VMRP_E_CORRUPT;
    }
    if (h->flags != 0) {
        *why = "record flags set in an archive without encryption";
        return VMRP_E_CORRUPT;
    }
    if (strict && in[RH_OFF_RESERVED] != 0) {
        *why = "reserved record byte is not zero";
        return VMRP_E_CORRUPT;
    }
    if ((h->type == REC_INDEX || h->type == REC_COMMIT) && h->codec != CODEC_NONE) {
        *why = "index or commit record is compressed";
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
    if (h->codec == CODEC_NONE ? h->stored_size != h->raw_size : h->stored_size > h->raw_size) {
        *why = "record stored size inconsistent with raw size";
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

/* fuzz_point.c - point_parse() (library internal) on a raw POINT payload.
 *
 * Oracles beyond the sanitizers: on failure a reason is given and the
 * output is left empty; on success every count, size and name obeys the
 * rules of the format (5.4) and the whole payload was consumed.
 */
#include "fuzz_common.h"

#include "vmrp_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized heap copy, so ASan sees any read past the payload. */
    unsigned char *p = malloc(size ? size : 1);
    FUZZ_CHECK(p != NULL, "malloc");
    if (size)
        memcpy(p, data, size);
    point_meta m;
    memset(&m, 0x5a, sizeof m);
    const char *why = NULL;
    int rc = point_parse(p, size, &m, &why);
    if (rc != VMRP_OK) {
        FUZZ_CHECK(rc == VMRP_E_CORRUPT || rc == VMRP_E_NOMEM, "rc %d", rc);
        FUZZ_CHECK(why != NULL && why[0] != '\0', "failure without a reason");
        FUZZ_CHECK(m.strings == NULL && m.disks == NULL && m.files == NULL && m.disk_meta == NULL,
                   "failed parse left allocations");
    } else {
        const vmrp_point_info *pi = &m.info;
        FUZZ_CHECK(size >= 64, "accepted %zu bytes", size);
        FUZZ_CHECK(pi->consistency >= 1 && pi->consistency <= 3, "consistency %d", pi->consistency);
        size_t nl = strlen(pi->name);
        FUZZ_CHECK(nl >= 1 && nl <= 255, "name length %zu", nl);
        FUZZ_CHECK(strcmp(pi->name, "latest") != 0 && strspn(pi->name, "0123456789") != nl,
                   "name '%s' would be read as a point selector", pi->name);
        FUZZ_CHECK(strlen(pi->source_metadata) == pi->source_metadata_size &&
                       vmrp_json_validate(pi->source_metadata, pi->source_metadata_size, 1, NULL) ==
                           VMRP_OK,
                   "metadata");
        FUZZ_CHECK(pi->disk_count <= 256 && pi->config_file_count <= 4096, "counts");
        size_t need = 64 + nl + pi->source_metadata_size;
        for (uint32_t d = 0; d < pi->disk_count; d++) {
            const vmrp_disk_info *di = &pi->disks[d];
            FUZZ_CHECK(vmrp_disk_name_valid(di->name), "disk %u name", d);
            FUZZ_CHECK(di->size_bytes <= (1ull << 62), "disk size");
            FUZZ_CHECK(di->sector_size >= 512 && di->sector_size <= 65536 &&
                           (di->sector_size & (di->sector_size - 1)) == 0,
                       "sector size %u", di->sector_size);
            const disk_meta *dm = &m.disk_meta[d];
            FUZZ_CHECK(!di->excluded || (dm->map_count == 0 && di->changed_blocks == 0),
                       "excluded disk with a map");
            FUZZ_CHECK(dm->map_count <= di->changed_blocks &&
                           di->changed_blocks <= (uint64_t)dm->map_count * 65536,
                       "Changed_Blocks vs Map_Record_Count");
            for (uint32_t k = 0; k < d; k++)
                FUZZ_CHECK(strcmp(pi->disks[k].name, di->name) != 0, "duplicate disk name");
            volatile uint64_t sum = 0;
            for (uint32_t k = 0; k < dm->map_count; k++)
                sum += dm->map_offsets[k];
            (void)sum;
            need += 64 + strlen(di->name) + (size_t)dm->map_count * 8;
        }
        for (uint32_t f = 0; f < pi->config_file_count; f++) {
            const vmrp_config_file_info *fi = &pi->config_files[f];
            FUZZ_CHECK(vmrp_config_name_valid(fi->name), "config name");
            FUZZ_CHECK(fi->mode <= 07777 && fi->size <= (64u << 20), "mode/size");
            FUZZ_CHECK((fi->size == 0) == (m.file_records[f] == 0), "record vs size");
            for (uint32_t k = 0; k < f; k++)
                FUZZ_CHECK(strcmp(pi->config_files[k].name, fi->name) != 0, "duplicate file");
            need += 56 + strlen(fi->name);
        }
        FUZZ_CHECK(need == size, "parsed %zu of %zu bytes", need, size);
        point_meta_clear(&m);
    }
    free(p);
    return 0;
}

/* fuzz_bundle.c - config bundles: an archive of configuration files (tar,
 * zip, cpio, 7z, ... with any compression libarchive reads) given to
 * `vmrp pack --config-file`, through the tool's reader.
 *
 * Oracles beyond the sanitizers: every accepted name is a safe relative
 * path (vmrp_config_name_valid), names are unique, sizes are within 64 MiB
 * and modes within 07777; a refusal comes with a message.
 */
#include "fuzz_common.h"

#include "config_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config_set s = {0};
    char err[512] = "";
    int rc = config_set_add_archive_memory(&s, data, size, "bundle", err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0', "refused without a message");
    } else {
        for (size_t i = 0; i < s.count; i++) {
            FUZZ_CHECK(vmrp_config_name_valid(s.items[i].name), "unsafe name accepted: %s",
                       s.items[i].name);
            FUZZ_CHECK(s.items[i].size <= (64u << 20), "file of %zu bytes accepted", s.items[i].size);
            FUZZ_CHECK(s.items[i].mode <= 07777, "mode %o", s.items[i].mode);
            for (size_t k = 0; k < i; k++)
                FUZZ_CHECK(strcmp(s.items[k].name, s.items[i].name) != 0, "two files named %s",
                           s.items[i].name);
        }
    }
    config_set_free(&s);
    return 0;
}

/* fuzz_json.c - vmrp_json_validate() with want_object 0 and 1.
 *
 * Oracles beyond the sanitizers: the error offset lies within the input;
 * an object is also a value; an accepted object starts with '{' after
 * white space; the input is given in a buffer of exactly its size, so a
 * read past the end is caught by ASan.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    FUZZ_CHECK(text != NULL, "malloc");
    if (size)
        memcpy(text, data, size);
    size_t at0 = (size_t)-1, at1 = (size_t)-1;
    int any = vmrp_json_validate(text, size, 0, &at0);
    int obj = vmrp_json_validate(text, size, 1, &at1);
    FUZZ_CHECK(any == VMRP_OK || any == VMRP_E_INPUT, "rc %d", any);
    FUZZ_CHECK(obj == VMRP_OK || obj == VMRP_E_INPUT, "rc %d", obj);
    if (any != VMRP_OK)
        FUZZ_CHECK(at0 <= size, "error offset %zu past %zu bytes", at0, size);
    if (obj != VMRP_OK)
        FUZZ_CHECK(at1 <= size, "error offset %zu past %zu bytes", at1, size);
    if (obj == VMRP_OK) {
        FUZZ_CHECK(any == VMRP_OK, "an object that is not a value");
        size_t i = 0;
        while (i < size && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
            i++;
        FUZZ_CHECK(i < size && text[i] == '{', "accepted object does not start with '{'");
    }
    if (any == VMRP_OK) {
        /* A JSON text holds no raw control character outside white space, so
         * no NUL byte: the reader relies on this to keep metadata a C string. */
        FUZZ_CHECK(memchr(text, '\0', size) == NULL, "accepted JSON holds a NUL byte");
        FUZZ_CHECK(vmrp_json_validate(text, size, 0, NULL) == VMRP_OK, "not deterministic");
    }
    free(text);
    return 0;
}

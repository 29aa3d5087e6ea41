#ifndef TALLY_CMAXMINDDB_SHIM_H
#define TALLY_CMAXMINDDB_SHIM_H

#include <maxminddb.h>

/// MMDB_get_value is variadic (a NULL-terminated path), which Swift cannot call. These fixed-arity
/// wrappers cover the paths Tally reads: country.iso_code, subdivisions.0.iso_code, city.names.en.
static inline int tally_mmdb_get_value2(MMDB_entry_s *entry, MMDB_entry_data_s *data,
                                        const char *a, const char *b) {
    return MMDB_get_value(entry, data, a, b, NULL);
}

static inline int tally_mmdb_get_value3(MMDB_entry_s *entry, MMDB_entry_data_s *data,
                                        const char *a, const char *b, const char *c) {
    return MMDB_get_value(entry, data, a, b, c, NULL);
}

#endif

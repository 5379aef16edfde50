/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * The shared memory of the module's tables (see apikey_shm.h). */

#include "apikey_shm.h"
#include "apikey_logno.h"

#include <string.h>

#include "apr_shm.h"
#include "http_config.h"
#include "http_log.h"

APLOG_USE_MODULE(authn_apikey);

/* What the retained data holds: the segment and its shape. */
typedef struct {
    apr_shm_t *shm;
    unsigned shape;
} retained_t;

apr_status_t apikey_shm_get(server_rec *s, apr_pool_t *pconf, const char *key,
                            apr_size_t size, unsigned shape, apikey_shm_t *shm)
{
    retained_t *kept = NULL, fresh = {NULL, 0};
    apr_status_t rv;

    memset(shm, 0, sizeof(*shm));
    if (key) {
        if (!(kept = ap_retained_data_get(key))) {
            kept = ap_retained_data_create(key, sizeof(*kept));
        }
        if (kept->shm
            && (kept->shape != shape || apr_shm_size_get(kept->shm) != size)) {
            shm->replaced = 1;
            shm->relaid = kept->shape == shape;
            shm->old_shape = kept->shape;
            /* Left to the old generation's children, which charge it
             * still; its memory goes with the process pool. */
            kept->shm = NULL;
        }
    }
    else {
        kept = &fresh;
    }
    shm->kept = kept->shm != NULL;
    if (!kept->shm) {
        /* Kept: from the process pool, which outlives every restart (no
         * cleanup of ours is registered there: our code is unloaded at
         * restarts).  Else pconf destroys it at the next restart. */
        rv = apr_shm_create(&kept->shm, size, NULL,
                            key ? s->process->pool : pconf);
        if (rv != APR_SUCCESS) {
            kept->shm = NULL;
            return rv;
        }
        kept->shape = shape;
    }
    shm->base = apr_shm_baseaddr_get(kept->shm);
    shm->size = size;
    return APR_SUCCESS;
}

int apikey_shm_seed(server_rec *s, const char *what,
                    unsigned char seed[APIKEY_SEGMENT_SEED_LEN])
{
    apr_status_t rv = apr_generate_random_bytes(seed, APIKEY_SEGMENT_SEED_LEN);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, rv, s,
                     APIKEY_LOGNO(00020) "no random seed for %s", what);
        return -1;
    }
    return 0;
}

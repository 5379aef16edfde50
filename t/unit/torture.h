/* Copyright 2026 the mod_authn_apikey authors
 * SPDX-License-Identifier: Apache-2.0
 *
 * Helpers of the fork-based torture tests: a deterministic random source,
 * a monotonic clock, shared memory and waiting for children. */
#ifndef TORTURE_H
#define TORTURE_H

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

#include "apr.h"

/* splitmix64's finaliser: every test byte is derived from it. */
static inline apr_uint64_t mix64(apr_uint64_t x)
{
    x += APR_UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * APR_UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * APR_UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static inline apr_uint64_t rnd(apr_uint64_t *state)
{
    *state = mix64(*state);
    return *state;
}

static inline double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Memory that forked children share with the parent. */
static inline void *shared_new(apr_size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

static inline int wait_child(pid_t pid)
{
    int status = 0;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

#endif /* TORTURE_H */

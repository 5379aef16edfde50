/* Licensed to the Apache Software Foundation (ASF) under one or more
 * contributor license agreements.  See the NOTICE file distributed with
 * this work for additional information regarding copyright ownership.
 * The ASF licenses this file to You under the Apache License, Version 2.0
 * (the "License"); you may not use this file except in compliance with
 * the License.  You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/* Key source parsing (see apikey_source.h). */

#include "apikey_source.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 token characters, the only ones a header field name may use. */
static int tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
        || (c >= 'a' && c <= 'z')) {
        return 1;
    }
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

const char *apikey_source_parse(const char *word, apikey_source_t *out)
{
    if (!strcasecmp(word, "bearer")) {
        out->kind = APIKEY_SOURCE_BEARER;
        out->name = NULL;
        return NULL;
    }
    if (!strncasecmp(word, "header:", 7)) {
        const char *name = word + 7, *p;

        if (!*name) {
            return "header: needs a header name, as in header:X-API-Key";
        }
        for (p = name; *p; p++) {
            if (!tchar((unsigned char)*p)) {
                return "header name contains a character not allowed in an "
                       "HTTP field name";
            }
        }
        if (p - name > APIKEY_SOURCE_NAME_MAX) {
            return "header name is too long";
        }
        if (!strcasecmp(name, "Authorization")
            || !strcasecmp(name, "Proxy-Authorization")) {
            return "use 'bearer' to read keys from the Authorization "
                   "header";
        }
        out->kind = APIKEY_SOURCE_HEADER;
        out->name = name;
        return NULL;
    }
    return "unknown key source; expected header:NAME or bearer";
}

const char *apikey_source_kind_str(apikey_source_kind_t kind)
{
    switch (kind) {
        case APIKEY_SOURCE_HEADER:
            return "header";
        case APIKEY_SOURCE_BEARER:
            return "bearer";
    }
    return "-";
}

int apikey_bearer_token(const char *value, const char **tok, size_t *len)
{
    const char *p, *end;

    if (!value) {
        return 0;
    }
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    if (strncasecmp(value, "Bearer", 6)
        || (value[6] != '\0' && value[6] != ' ' && value[6] != '\t')) {
        return 0;
    }
    p = value + 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    *tok = p;
    *len = (size_t)(end - p);
    return 1;
}

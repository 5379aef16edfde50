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

/* The pepper of HMAC-SHA-256 key digests: a secret file read by httpd at
 * start-up and by htapikey, checked the same way by both. */
#ifndef APIKEY_PEPPER_H
#define APIKEY_PEPPER_H

#include <stddef.h>

#define APIKEY_PEPPER_MIN 16
#define APIKEY_PEPPER_MAX 1024

/* Reads the pepper from path into buf (APIKEY_PEPPER_MAX bytes): the file's
 * bytes less one trailing newline.  Refuses a file that others may read or
 * write, that is not a regular file, or whose pepper is shorter than
 * APIKEY_PEPPER_MIN or longer than APIKEY_PEPPER_MAX bytes.  Returns NULL
 * and the length in *len, or an English message (into msg, msglen bytes). */
const char *apikey_pepper_load(const char *path, unsigned char *buf,
                               size_t *len, char *msg, size_t msglen);

#endif /* APIKEY_PEPPER_H */

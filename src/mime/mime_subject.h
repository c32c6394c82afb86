/* mime_subject.h: the base subject of RFC 5256 section 2.1, what SORT
 * SUBJECT compares and THREAD groups by.
 *
 * Contract: takes a raw Subject field value (folded, RFC 2047 encoded
 * words, any bytes) and never reads outside it. Appends the base subject
 * as UTF-8 to out: decoded (RFC 2047), unfolded, white space runs
 * collapsed to one space, with leading "Re:", "Fw:", "Fwd:" (each with
 * optional "[blob]"s), leading "[blob]"s, trailing "(fwd)" and a
 * "[fwd: ...]" wrapper removed, repeatedly, as steps 1-5 prescribe. It
 * is not case folded: compare with mime_utf8_fold() output. Returns true
 * when a reply or forward marker was removed (the subject "is a reply
 * or forward", RFC 5256 section 4 REFERENCES step 6). */
#ifndef POSTEL_MIME_SUBJECT_H
#define POSTEL_MIME_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

bool mime_base_subject(const char *in, size_t len, str_t *out);

#endif

/*
 * voice.h: the SFU's interface to the rest of hearthd (DESIGN.md §6).
 *
 * Voice talks to the core through one versioned operations table; GLib types never leave
 * voice/. The SFU itself (libnice, DTLS-SRTP, RTP routing) arrives with the voice issue;
 * until then this module only states the interface version.
 */
#ifndef VOICE_H
#define VOICE_H

#define VOICE_API_VERSION 1

/* The voice module's version string, for the start-up log line. */
const char *voice_version(void);

#endif

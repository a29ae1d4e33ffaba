#include "voice.h"

#include <glib.h>

const char *voice_version(void)
{
    /* The GLib main context the SFU will run on is linked from here. */
    return GLIB_CHECK_VERSION(2, 66, 0) ? "0.1 (voice api 1)" : "0.1";
}

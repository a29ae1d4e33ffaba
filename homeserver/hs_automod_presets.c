/*
 * The keyword presets of AutoMod's KEYWORD_PRESET rules (spec/rest-automod.md "Presets").
 *
 * DATA, NOT CODE. Discord's own word sets are not public, so these are Hearth's: short,
 * hand-written English lists in keyword syntax (`word` whole word, `word*` prefix, `*word`
 * suffix), chosen to catch the common forms without flagging ordinary words that contain
 * them ("assess", "scunthorpe", "cocktail" do not match). They are deliberately small; a
 * guild adds its own words with a KEYWORD rule and exempts false positives with the
 * preset rule's allow_list. The third list holds slurs because filtering them is the
 * point of the preset; it is moderation data and nothing else.
 */
#include "hs_automod_match.h"

#include <stddef.h>

/* PRESET 1: PROFANITY (swearing and cursing). */
static const char *const profanity[] = {
    "fuck*",    "*fucker",   "*fucking", "motherfuck*", "fck",       "fcking",      "shit",
    "shits",    "shitty",    "shite",    "bullshit",    "horseshit", "dipshit*",    "bitch*",
    "asshole*", "arsehole*", "ass",      "arse",        "jackass",   "dumbass",     "badass",
    "bastard*", "damn",      "dammit",   "goddamn*",    "crap",      "crappy",      "piss",
    "pissed",   "pissing",   "wanker*",  "twat*",       "bollocks",  "bloody hell", "dickhead*",
    "prick",    "pricks",    "douche*",  "cunt*",       "wtf",       "stfu",        NULL,
};

/* PRESET 2: SEXUAL_CONTENT (sexually explicit words and phrases). */
static const char *const sexual_content[] = {
    "porn*",     "pr0n",    "xxx",        "nsfw pics", "nudes",           "send nudes",  "sexting",
    "sex chat",  "sexcam*", "camgirl*",   "camboy*",   "onlyfans",        "hentai",      "blowjob*",
    "handjob*",  "rimjob*", "cumshot*",   "creampie*", "gangbang*",       "deepthroat*", "dildo*",
    "vibrator*", "orgasm*", "masturbat*", "jerk off",  "jack off",        "horny",       "boobs",
    "tits",      "titties", "pussy",      "cock",      "cocks",           "penis",       "vagina",
    "erection*", "milf*",   "fetish*",    "bdsm",      "escort service*", NULL,
};

/* PRESET 3: SLURS (personal insults and hate speech). Moderation data: see above. */
static const char *const slurs[] = {
    "nigger*",    "nigga*",    "faggot*",    "fag",      "fags",       "dyke",  "dykes",
    "tranny*",    "retard",    "retards",    "retarded", "spic",       "spics", "kike*",
    "chink*",     "gook*",     "wetback*",   "raghead*", "towelhead*", "coon",  "coons",
    "gypsy scum", "subhuman*", "mongoloid*", NULL,
};

const char *const *hs_am_preset_words(int preset)
{
    switch (preset) {
    case HS_AM_PRESET_PROFANITY:
        return profanity;
    case HS_AM_PRESET_SEXUAL_CONTENT:
        return sexual_content;
    case HS_AM_PRESET_SLURS:
        return slurs;
    }
    return NULL;
}

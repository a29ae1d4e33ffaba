/*
 * Features used now and then are loaded when first used, not with the page (the page
 * stays under its weight budget, spec/web-client.md §5): settings, invites, profiles,
 * the emoji picker, direct-message creation.
 */
const later =
  (path, name) =>
  (...args) =>
    import(path).then((m) => m[name](...args));

export const openGuildSettings = later('./settings.js', 'openGuildSettings');
export const openChannelSettings = later('./settings.js', 'openChannelSettings');
export const createInvite = later('./invite.js', 'createInvite');
export const openInvite = later('./invite.js', 'openInvite');
export const newDmDialog = later('./dms.js', 'newDmDialog');
export const openProfile = later('./profile.js', 'openProfile');
export const pickEmoji = later('./emoji.js', 'pickEmoji');

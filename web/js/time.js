/* Snowflakes and dates. */

const EPOCH = 1420070400000n;

export function snowflakeTime(id) {
  return Number((BigInt(id) >> 22n) + EPOCH);
}

/* A snowflake for "now" (for optimistic local ids and nonces). */
export function snowflakeNow() {
  return String((BigInt(Date.now()) - EPOCH) << 22n);
}

export function cmpId(a, b) {
  if (a === b) return 0;
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : 1;
}

export const maxId = (a, b) => (!a ? b : !b ? a : cmpId(a, b) >= 0 ? a : b);

const dayFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const shortDate = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: '2-digit', day: '2-digit' });

export const dayKey = (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
export const formatDay = (d) => dayFmt.format(d);
export const formatTime = (d) => timeFmt.format(d);
export const formatFull = (d) => fullFmt.format(d);

/* "Today at 14:02", "Yesterday at 09:10" or a date, as the message header shows it. */
export function formatStamp(d) {
  const now = new Date();
  const y = new Date(now);
  y.setDate(now.getDate() - 1);
  if (dayKey(d) === dayKey(now)) return `Today at ${formatTime(d)}`;
  if (dayKey(d) === dayKey(y)) return `Yesterday at ${formatTime(d)}`;
  return `${shortDate.format(d)} ${formatTime(d)}`;
}
